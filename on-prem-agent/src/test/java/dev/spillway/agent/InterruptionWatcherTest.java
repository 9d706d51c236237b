package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The spot interruption watcher against a loopback metadata service. */
class InterruptionWatcherTest {

    @Test
    void ec2NoticeIsReadWithAnImdsV2SessionToken() throws Exception {
        try (MetadataLoopbackServer imds = new MetadataLoopbackServer("i-0abc")) {
            InterruptionWatcher watcher = new InterruptionWatcher(InterruptionWatcher.Cloud.AWS, imds.endpoint(), Duration.ofSeconds(1), n -> { });
            assertThat(watcher.poll()).isEmpty();

            Instant at = Instant.now().plusSeconds(120).truncatedTo(ChronoUnit.SECONDS);
            imds.announceInterruption(at);
            Optional<InterruptionWatcher.Notice> notice = watcher.poll();

            assertThat(notice).hasValueSatisfying(n -> {
                assertThat(n.at()).isEqualTo(at);
                assertThat(n.why()).contains("EC2 spot interruption (terminate)");
            });
            // One token for the session, then only token-bearing reads (a read without one gets 401 from IMDSv2).
            assertThat(imds.requests()).containsExactly("PUT /latest/api/token", "GET /latest/meta-data/spot/instance-action",
                    "GET /latest/meta-data/spot/instance-action");
        }
    }

    @Test
    void azureNoticeIsAPreemptEventForThisVm() throws Exception {
        try (MetadataLoopbackServer imds = new MetadataLoopbackServer("spillway-vm-1")) {
            InterruptionWatcher watcher = new InterruptionWatcher(InterruptionWatcher.Cloud.AZURE, imds.endpoint(), Duration.ofSeconds(1), n -> { });
            assertThat(watcher.poll()).isEmpty();
            imds.announceInterruptionOfAnotherVm("spillway-vm-2");
            assertThat(watcher.poll()).as("another VM's eviction").isEmpty();

            Instant at = Instant.now().plusSeconds(30).truncatedTo(ChronoUnit.SECONDS);
            imds.announceInterruption(at);

            assertThat(watcher.poll()).hasValueSatisfying(n -> {
                assertThat(n.at()).isEqualTo(at);
                assertThat(n.why()).contains("Preempt");
            });
        }
    }

    @Test
    void theWatcherReportsTheFirstNoticeOnceAndStops() throws Exception {
        try (MetadataLoopbackServer imds = new MetadataLoopbackServer("i-0abc")) {
            java.util.List<InterruptionWatcher.Notice> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
            Thread t = new Thread(new InterruptionWatcher(InterruptionWatcher.Cloud.AWS, imds.endpoint(), Duration.ofMillis(50), seen::add));
            t.start();
            imds.announceInterruption(Instant.now().plusSeconds(60));
            t.join(10_000);

            assertThat(t.isAlive()).isFalse();
            assertThat(seen).hasSize(1);
        }
    }

    @Test
    void timesInBothFormatsAreRead() {
        assertThat(InterruptionWatcher.instant("2026-11-24T23:30:00Z")).contains(Instant.parse("2026-11-24T23:30:00Z"));
        assertThat(InterruptionWatcher.instant("Tue, 24 Nov 2026 23:30:00 GMT")).contains(Instant.parse("2026-11-24T23:30:00Z"));
        assertThat(InterruptionWatcher.instant("")).isEmpty();
        assertThat(InterruptionWatcher.instant("soon")).isEmpty();
    }
}
