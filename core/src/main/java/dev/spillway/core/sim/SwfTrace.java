package dev.spillway.core.sim;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A workload trace in the Standard Workload Format (SWF) of the Parallel Workloads Archive: one
 * job a line, 18 whitespace-separated numeric fields, {@code -1} for unknown, {@code ;} header
 * comments.
 *
 * <p>How a line becomes a job (see {@link TraceJob}): its requested processors (field 8), or its
 * allocated processors (field 5) when that is {@code -1}, become as many one-cpu tasks, each
 * running for the job's run time (field 4) from its submit time (field 2). The other fields are
 * checked to be numbers and otherwise ignored: the status (a failed or cancelled job still ran for
 * its run time), the recorded wait (the simulator computes its own), memory (tasks get a fixed
 * amount, see {@link Simulation.Settings#taskMemoryMib()}).
 *
 * <p>A line that cannot be read that way is never guessed at: it is reported with its line number
 * ({@link Problem}) and skipped. Wrong field count, a field that is not a number, a negative or
 * unknown submit time or run time, no positive processor count, a duplicate job number.
 * A run time of 0 is valid (the job still counts, its tasks finish as they start).
 */
public final class SwfTrace {

    /** Field count of an SWF line. */
    public static final int FIELDS = 18;
    /** Largest job accepted, in tasks (the broker's default limit of tasks per job). */
    public static final int MAX_TASKS_PER_JOB = 100_000;

    /**
     * One job of the trace.
     *
     * @param number        the job number (field 1), unique in the trace
     * @param submitSeconds submit time (field 2), seconds from the start of the log
     * @param runSeconds    run time (field 4) of each of its tasks, seconds
     * @param tasks         one-cpu tasks: requested processors (field 8), or allocated (field 5) when unknown
     * @param line          line number in the file, for messages
     * @param user          user id (field 12), -1 when unknown
     * @param group         group id (field 13), -1 when unknown
     * @param queue         queue number (field 15), -1 when unknown
     */
    public record TraceJob(long number, double submitSeconds, double runSeconds, int tasks, int line, long user, long group, long queue) {

        /** A job whose user, group and queue are unknown. */
        public TraceJob(long number, double submitSeconds, double runSeconds, int tasks, int line) {
            this(number, submitSeconds, runSeconds, tasks, line, -1, -1, -1);
        }
    }

    /** A line that was skipped, and why. */
    public record Problem(int line, String message) {
        @Override
        public String toString() {
            return "line " + line + ": " + message;
        }
    }

    /**
     * A parsed trace.
     *
     * @param jobs     valid jobs in file order
     * @param problems skipped lines, in file order
     * @param maxProcs the header's {@code MaxProcs} (the traced machine's processors), if given
     */
    public record Trace(List<TraceJob> jobs, List<Problem> problems, OptionalInt maxProcs) {
        public Trace {
            jobs = List.copyOf(jobs);
            problems = List.copyOf(problems);
        }

        public long tasks() {
            return jobs.stream().mapToLong(TraceJob::tasks).sum();
        }
    }

    private SwfTrace() {}

    /** Parses a whole trace held as text. */
    public static Trace parse(String text) {
        return parse(text.lines().iterator());
    }

    /** Parses a trace line by line (without their line ends). */
    public static Trace parse(Iterator<String> lines) {
        List<TraceJob> jobs = new ArrayList<>();
        List<Problem> problems = new ArrayList<>();
        Map<Long, Integer> seen = new HashMap<>();
        OptionalInt maxProcs = OptionalInt.empty();
        String raw;
        int number = 0;
        while (lines.hasNext()) {
            raw = lines.next();
            number++;
            String line = raw.strip();
            if (line.isEmpty()) continue;
            if (line.startsWith(";")) {
                OptionalInt procs = headerInt(line, "MaxProcs");
                if (procs.isPresent()) maxProcs = procs;
                continue;
            }
            String[] fields = line.split("\\s+");
            if (fields.length != FIELDS) {
                problems.add(new Problem(number, "expected " + FIELDS + " fields, found " + fields.length));
                continue;
            }
            double[] f = new double[FIELDS];
            String bad = null;
            for (int i = 0; i < FIELDS && bad == null; i++) {
                try {
                    f[i] = Double.parseDouble(fields[i]);
                    if (!Double.isFinite(f[i])) bad = "field " + (i + 1) + " is not a finite number: " + fields[i];
                } catch (NumberFormatException e) {
                    bad = "field " + (i + 1) + " is not a number: " + fields[i];
                }
            }
            if (bad == null) bad = check(f);
            if (bad == null) {
                long job = (long) f[0];
                Integer first = seen.putIfAbsent(job, number);
                if (first != null) bad = "duplicate job number " + job + " (first on line " + first + ")";
            }
            if (bad != null) {
                problems.add(new Problem(number, bad));
                continue;
            }
            int tasks = (int) (f[7] > 0 ? f[7] : f[4]);
            jobs.add(new TraceJob((long) f[0], f[1], f[3], tasks, number, (long) f[11], (long) f[12], (long) f[14]));
        }
        return new Trace(jobs, problems, maxProcs);
    }

    /** Why the fields cannot be simulated, or null. */
    private static String check(double[] f) {
        if (f[0] < 0 || f[0] != Math.rint(f[0])) return "job number (field 1) must be a whole number >= 0, got " + num(f[0]);
        if (f[1] < 0) return "submit time (field 2) is " + (f[1] == -1 ? "unknown (-1)" : "negative: " + num(f[1]));
        if (f[3] < 0) return "run time (field 4) is " + (f[3] == -1 ? "unknown (-1)" : "negative: " + num(f[3]));
        double requested = f[7];
        double allocated = f[4];
        if (requested != -1 && requested <= 0) return "requested processors (field 8) must be positive or -1, got " + num(requested);
        double procs = requested > 0 ? requested : allocated;
        if (procs <= 0) {
            return requested > 0 ? "no processor count"
                    : "no processor count: requested (field 8) is unknown and allocated (field 5) is " + num(allocated);
        }
        if (procs != Math.rint(procs)) return "processor count must be whole, got " + num(procs);
        if (procs > MAX_TASKS_PER_JOB) return "more than " + MAX_TASKS_PER_JOB + " processors: " + num(procs);
        return null;
    }

    private static String num(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }

    private static OptionalInt headerInt(String line, String key) {
        String body = line.substring(1).strip();
        if (!body.startsWith(key + ":")) return OptionalInt.empty();
        try {
            return OptionalInt.of(Integer.parseInt(body.substring(key.length() + 1).strip()));
        } catch (NumberFormatException e) {
            return OptionalInt.empty();
        }
    }
}
