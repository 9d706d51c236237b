package dev.spillway.core.burst;

import static dev.spillway.core.burst.BurstFixtures.T0;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.burst.Reconciliation.Action;
import dev.spillway.core.burst.Reconciliation.Listed;
import dev.spillway.core.burst.Reconciliation.Record;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReconciliationTest {

    private static final Instant NOW = T0.plusSeconds(600);

    @Test
    void orphansAreTerminatedWhateverTheirPoolTag() {
        var records = List.of(new Record("r1", "aws", "i-1", InstanceState.JOINED, T0, T0));
        var listed = Map.of("aws", List.of(
                new Listed("aws", "i-1", "r1", false, T0),
                new Listed("aws", "i-renamed-pool", "r-old", false, T0),
                new Listed("aws", "i-untagged", null, false, T0),
                new Listed("aws", "i-ended", "r-older", true, T0)));
        assertThat(Reconciliation.decide(records, listed, NOW)).containsExactlyInAnyOrder(
                new Action.TerminateOrphan("aws", "i-renamed-pool", "carries the cluster tag but no live record asked for it (request r-old)"),
                new Action.TerminateOrphan("aws", "i-untagged", "carries the cluster tag but no request tag"));
    }

    @Test
    void aDuplicateOfALiveRecordIsTerminatedAndTheRecordedOneKept() {
        var records = List.of(new Record("r1", "aws", "i-2", InstanceState.PROVISIONING, T0, T0));
        var listed = Map.of("aws", List.of(new Listed("aws", "i-1", "r1", false, T0), new Listed("aws", "i-2", "r1", false, T0.plusSeconds(1))));
        assertThat(Reconciliation.decide(records, listed, NOW))
                .containsExactly(new Action.TerminateOrphan("aws", "i-1", "a duplicate of i-2 for request r1"));
    }

    @Test
    void aRequestedRecordAdoptsItsInstanceWithTheProvidersLaunchTimeOrIsLaunchedAgain() {
        Instant launched = T0.minusSeconds(30);
        var records = List.of(new Record("r1", "aws", null, InstanceState.REQUESTED, T0, null),
                new Record("r2", "aws", null, InstanceState.REQUESTED, T0, null),
                new Record("r3", "aws", null, InstanceState.REQUESTED, NOW.minusSeconds(5), null));
        var listed = Map.of("aws", List.of(new Listed("aws", "i-1", "r1", false, launched)));
        assertThat(Reconciliation.decide(records, listed, NOW))
                .containsExactly(new Action.Adopt("r1", "i-1", launched), new Action.Relaunch("r2"));
    }

    @Test
    void launchedRecordsWithoutAnInstanceCloseAfterAGraceAndUnlistablePoolsAreLeftAlone() {
        var records = List.of(new Record("r1", "aws", "i-1", InstanceState.JOINED, T0, T0),
                new Record("r2", "aws", "i-2", InstanceState.PROVISIONING, T0, NOW.minusSeconds(10)),
                new Record("r3", "azure", "vm-3", InstanceState.JOINED, T0, T0),
                new Record("r4", "aws", "i-4", InstanceState.JOINED, T0, T0));
        var listed = Map.of("aws", List.of(new Listed("aws", "i-4", "r4", true, T0)));
        assertThat(Reconciliation.decide(records, listed, NOW)).containsExactly(
                new Action.Close("r1", "the instance no longer exists"),
                new Action.Close("r4", "the instance went away (terminated in the cloud, e.g. a spot interruption)"));
    }

    @Test
    void aLaunchedRecordWhoseInstanceTheCloudTerminatedClosesAtOnceEvenWithinTheGrace() {
        var records = List.of(new Record("r1", "aws", "i-1", InstanceState.JOINED, NOW.minusSeconds(20), NOW.minusSeconds(15)));
        var listed = Map.of("aws", List.of(new Listed("aws", "i-1", "r1", true, NOW.minusSeconds(15))));
        assertThat(Reconciliation.decide(records, listed, NOW))
                .containsExactly(new Action.Close("r1", "the instance went away (terminated in the cloud, e.g. a spot interruption)"));
    }

    @Test
    void poolsSharingAnAccountListTheSameInstanceOnce() {
        var records = List.of(new Record("r1", "aws-a", "i-1", InstanceState.JOINED, T0, T0));
        var one = List.of(new Listed("aws-a", "i-1", "r1", false, T0), new Listed("aws-a", "i-x", "zz", false, T0));
        var two = List.of(new Listed("aws-b", "i-1", "r1", false, T0), new Listed("aws-b", "i-x", "zz", false, T0));
        assertThat(Reconciliation.decide(records, Map.of("aws-a", one, "aws-b", two), NOW)).singleElement()
                .isInstanceOf(Action.TerminateOrphan.class);
    }
}
