package dev.spillway.core.access;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class AccessTest {

    @Test
    void rolesHoldWhatTheIssueGivesThem() {
        assertThat(Role.ADMIN.permits(Permission.KEYS_MANAGE)).isTrue();
        assertThat(Role.OPERATOR.permits(Permission.CLUSTER_WRITE)).isTrue();
        assertThat(Role.OPERATOR.permits(Permission.JOB_READ)).as("operators see no job contents").isFalse();
        assertThat(Role.FINOPS.permits(Permission.JOB_READ)).isTrue();
        assertThat(Role.FINOPS.permits(Permission.JOB_SUBMIT)).isFalse();
        assertThat(Role.FINOPS.permits(Permission.JOB_LOGS)).isFalse();
        assertThat(Role.SUBMITTER.permits(Permission.JOB_CANCEL)).isTrue();
        assertThat(Role.SUBMITTER.permits(Permission.CLUSTER_WRITE)).isFalse();
        assertThat(Role.VIEWER.permits(Permission.JOB_SUBMIT)).isFalse();
        assertThat(Role.fromLabel(" Finops ")).contains(Role.FINOPS);
        assertThat(Role.fromLabel("root")).isEmpty();
    }

    @Test
    void aCallerSubmitsToItsOwnTenantsOnlyUnlessAdmin() {
        Caller multi = new Caller("oidc:x#a", Role.SUBMITTER, Set.of("a", "b"), "a");
        assertThat(multi.submitTenant("")).contains("a");
        assertThat(multi.submitTenant("b")).contains("b");
        assertThat(multi.submitTenant("c")).isEmpty();
        assertThat(Caller.of("apikey:1", Role.ADMIN, "a").submitTenant("c")).contains("c");
        assertThat(Caller.of("apikey:2", Role.FINOPS, "a").readScope().includes("zzz")).isTrue();
        assertThat(Caller.of("apikey:3", Role.VIEWER, "a").readScope().includes("b")).isFalse();
    }

    @Property
    void aBucketNeverLetsMoreThroughThanBurstPlusRateTimesTime(@ForAll @IntRange(min = 1, max = 1000) int rate,
                                                               @ForAll @IntRange(min = 1, max = 500) int burst,
                                                               @ForAll @Size(max = 300) java.util.List<@IntRange(min = 0, max = 50_000_000) Integer> gaps) {
        long now = 1_000;
        TokenBucket bucket = new TokenBucket(rate, burst, now);
        int passed = 0;
        for (int gap : gaps) {
            now += gap;
            if (bucket.take(1, now) == 0) passed++;
        }
        double elapsedSeconds = (now - 1_000) / 1e9;
        assertThat((double) passed).isLessThanOrEqualTo(burst + rate * elapsedSeconds + 1e-6);
    }

    @Property
    void aRefusedRequestPassesOnceTheToldWaitHasPassed(@ForAll @IntRange(min = 1, max = 1000) int rate,
                                                       @ForAll @IntRange(min = 1, max = 50) int burst) {
        TokenBucket bucket = new TokenBucket(rate, burst, 0);
        for (int i = 0; i < burst; i++) assertThat(bucket.take(1, 0)).isZero();
        long wait = bucket.take(1, 0);
        assertThat(wait).isPositive();
        assertThat(bucket.take(1, wait)).isZero();
    }
}
