package dev.spillway.bench.sim;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.sim.SwfTrace.Problem;
import dev.spillway.core.sim.SwfTrace.TraceJob;
import dev.spillway.core.sim.SwfTrace;
import org.junit.jupiter.api.Test;

class SwfTraceTest {

    private static String line(String... fields) {
        return String.join(" ", fields) + "\n";
    }

    /** An SWF line with these fields, status, user and group 1, and -1 elsewhere. */
    private static String job(long number, long submit, long run, long allocated, long requested) {
        return String.format("%5d %8d -1 %6d %4d -1 -1 %4d -1 -1 1 1 1 -1 -1 -1 -1 -1%n", number, submit, run, allocated, requested);
    }

    @Test
    void invalidLinesAreReportedWithTheirLineNumberAndSkipped() throws Exception {
        String text = "; Computer: test\n"                                    // 1
                + "; MaxProcs: 8\n"                                            // 2
                + job(1, 0, 100, 4, -1)                                         // 3 valid: allocated 4
                + "\n"                                                          // 4 blank, ignored
                + line("2", "10", "-1", "5", "1", "-1", "-1")                  // 5 too few fields
                + job(3, 20, 30, 2, 3)                                          // 6 valid: requested 3 wins
                + job(4, 30, 100, 2, -1).replace(" 100 ", " x1z ")              // 7 not a number
                + job(5, 40, -1, 2, -1)                                         // 8 unknown run time
                + job(6, 50, -7, 2, -1)                                         // 9 negative run time
                + job(7, 60, 10, 2, 0)                                          // 10 zero requested processors
                + job(8, 70, 10, -1, -1)                                        // 11 no processor count at all
                + job(9, 80, 10, 0, -1)                                         // 12 zero allocated, nothing requested
                + job(3, 90, 10, 1, -1)                                         // 13 duplicate job number
                + job(10, 100, 0, 1, -1)                                        // 14 valid: run time 0 still counts
                + job(11, -1, 10, 1, -1)                                        // 15 unknown submit time
                + job(12, 110, 10, 1, -1).strip() + " 7\n";                     // 16 19 fields

        SwfTrace.Trace trace = SwfTrace.parse(text);

        assertThat(trace.jobs()).containsExactly(
                new TraceJob(1, 0, 100, 4, 3, 1, 1, -1),
                new TraceJob(3, 20, 30, 3, 6, 1, 1, -1),
                new TraceJob(10, 100, 0, 1, 14, 1, 1, -1));
        assertThat(trace.problems()).extracting(Problem::line).containsExactly(5, 7, 8, 9, 10, 11, 12, 13, 15, 16);
        assertThat(trace.problems()).extracting(Problem::message).containsExactly(
                "expected 18 fields, found 7",
                "field 4 is not a number: x1z",
                "run time (field 4) is unknown (-1)",
                "run time (field 4) is negative: -7",
                "requested processors (field 8) must be positive or -1, got 0",
                "no processor count: requested (field 8) is unknown and allocated (field 5) is -1",
                "no processor count: requested (field 8) is unknown and allocated (field 5) is 0",
                "duplicate job number 3 (first on line 6)",
                "submit time (field 2) is unknown (-1)",
                "expected 18 fields, found 19");
        assertThat(trace.maxProcs()).hasValue(8);
        assertThat(trace.tasks()).isEqualTo(4 + 3 + 1);
    }

    @Test
    void aTraceWithoutHeaderHasNoMaxProcs() throws Exception {
        SwfTrace.Trace trace = SwfTrace.parse(job(1, 0, 5, 1, -1));
        assertThat(trace.maxProcs()).isEmpty();
        assertThat(trace.problems()).isEmpty();
    }
}
