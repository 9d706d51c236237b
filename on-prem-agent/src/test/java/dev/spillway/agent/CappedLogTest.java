package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** A capped output file keeps the newest output, never passes its cap, and readers see consistent offsets. */
class CappedLogTest {

    @Property(tries = 200)
    void theFileIsAlwaysTheNewestOutputWithinTheCap(@ForAll @IntRange(min = 2, max = 300) int cap,
                                                    @ForAll @Size(max = 40) List<@IntRange(min = 0, max = 700) Integer> writes) throws Exception {
        Path file = Files.createTempFile("capped", ".log");
        try {
            CappedLog log = new CappedLog(file, cap);
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            int next = 0;
            for (int len : writes) {
                byte[] b = new byte[len];
                for (int i = 0; i < len; i++) b[i] = (byte) (next++ % 251);
                log.write(b, 0, len);
                all.writeBytes(b);

                byte[] output = all.toByteArray();
                byte[] kept = Files.readAllBytes(file);
                assertThat(kept.length).isLessThanOrEqualTo(cap);
                // The newest output, all of it while it fits, and at least half the cap once it does not.
                assertThat(kept.length).isGreaterThanOrEqualTo(Math.min(output.length, cap / 2));
                assertThat(kept).isEqualTo(Arrays.copyOfRange(output, output.length - kept.length, output.length));
                assertThat(log.dropped()).isEqualTo(output.length - kept.length);
            }
            // Reading from any offset gives the output at that offset, or from the oldest kept.
            byte[] output = all.toByteArray();
            for (long from = 0; from <= output.length; from += Math.max(1, output.length / 7)) {
                byte[] buf = new byte[64];
                CappedLog.Chunk c = log.read(from, buf);
                assertThat(c.from()).isEqualTo(Math.max(from, log.dropped()));
                assertThat(Arrays.copyOf(buf, c.count())).isEqualTo(Arrays.copyOfRange(output, (int) c.from(), (int) c.from() + c.count()));
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Property(tries = 20)
    void pumpingCopiesAStreamToItsEnd(@ForAll @IntRange(min = 0, max = 300_000) int length) throws Exception {
        Path file = Files.createTempFile("capped", ".log");
        try {
            byte[] data = new byte[length];
            for (int i = 0; i < length; i++) data[i] = (byte) i;
            new CappedLog(file, 100_000).pump(new ByteArrayInputStream(data));
            byte[] kept = Files.readAllBytes(file);
            assertThat(kept.length).isBetween(Math.min(length, 50_000), 100_000);
            assertThat(kept).isEqualTo(Arrays.copyOfRange(data, length - kept.length, length));
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @org.junit.jupiter.api.Test
    void aSilentTaskLeavesAnEmptyFileAndOutputLeftFromBeforeIsCutAtOnce() throws Exception {
        Path silent = Files.createTempFile("capped", ".log");
        Path reused = Files.createTempFile("capped", ".log");
        try {
            CappedLog quiet = new CappedLog(silent, 100);
            quiet.pump(new ByteArrayInputStream(new byte[0]));
            assertThat(silent).isEmptyFile();
            assertThat(quiet.read(0, new byte[10]).count()).isZero();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> quiet.write(new byte[] {1}, 0, 1))
                    .isInstanceOf(java.io.IOException.class).hasMessageContaining("closed");

            Files.writeString(reused, "output of an earlier start");
            new CappedLog(reused, 100);
            assertThat(reused).isEmptyFile();
        } finally {
            Files.deleteIfExists(silent);
            Files.deleteIfExists(reused);
        }
    }
}
