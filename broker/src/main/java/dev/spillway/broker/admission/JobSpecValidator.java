package dev.spillway.broker.admission;

import com.google.protobuf.Duration;
import com.google.protobuf.util.Durations;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.RetryPolicy;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.errors.Violation;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The first admission step: checks a submitted spec and fills in defaults. Every problem is reported at once, as a field
 * violation named by its path in {@code SubmitJobRequest}, so a client can fix them all in one go (the error a client
 * receives lists the first 50 and counts the rest, see {@link dev.spillway.broker.errors.InvalidRequest}).
 *
 * <p>Sizes are bounded against abuse: the whole spec ({@code spillway.limits.max-spec-bytes}), the task count, the
 * command and environment, and the number of labels, node-selector entries, pools and jurisdictions. Entries of a list
 * that is too long are still checked one by one; the spec size bounds that work.
 *
 * <p>Every string of the spec is checked for characters its field cannot hold (control characters; NUL only in command
 * arguments and environment values), see {@link SpecStrings}.
 */
public final class JobSpecValidator {

    private static final Pattern ENV_KEY = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern LABEL = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?");
    private static final int MAX_LABELS = 32;
    /** Datasets one job may name. */
    static final int MAX_DATASETS = 16;
    private static final int MAX_RETRIES = 100;
    private static final Duration DEFAULT_INITIAL_BACKOFF = Durations.fromSeconds(1);
    private static final Duration DEFAULT_MAX_BACKOFF = Durations.fromMinutes(5);
    /** Longest retry delay a job may ask for. */
    static final Duration MAX_BACKOFF_CAP = Durations.fromHours(24);
    static final Duration MIN_RUNTIME = Durations.fromSeconds(1);
    static final Duration MAX_RUNTIME = Durations.fromDays(30);

    private final BrokerConfig.Limits limits;

    public JobSpecValidator(BrokerConfig.Limits limits) {
        this.limits = limits;
    }

    public record Result(JobSpec spec, List<Violation> violations) {
        public boolean valid() {
            return violations.isEmpty();
        }
    }

    public Result validate(JobSpec in) {
        List<Violation> v = new ArrayList<>();
        String p = "spec.";
        int specBytes = in.getSerializedSize();
        if (specBytes > limits.maxSpecBytes()) {
            // Refused on size alone: the entries of an oversized spec are not worth examining one by one.
            v.add(violation("spec", "at most " + limits.maxSpecBytes() + " bytes (spillway.limits.max-spec-bytes; got " + specBytes + ")"));
            return new Result(in, v);
        }
        unknownFields("spec", in, v);
        if (in.getName().length() > 128) v.add(violation(p + "name", "at most 128 characters"));
        if (in.getTenant().length() > 63) v.add(violation(p + "tenant", "at most 63 characters"));
        if (!in.getTenant().isEmpty() && !SpecStrings.hasForbidden(in.getTenant()) && !LABEL.matcher(in.getTenant()).matches()) {
            v.add(violation(p + "tenant", "letters, digits, '.', '_', '-' and '/' only, starting and ending with a letter or digit"));
        }
        labels(p + "labels", in.getLabelsMap(), MAX_LABELS, v);
        if (in.getPriority() < -1000 || in.getPriority() > 1000) v.add(violation(p + "priority", "must be between -1000 and 1000"));
        if (in.getTaskCount() < 1) {
            v.add(violation(p + "task_count", "must be at least 1"));
        } else if (in.getTaskCount() > limits.maxTasksPerJob()) {
            v.add(violation(p + "task_count", "at most " + limits.maxTasksPerJob() + " tasks per job (got " + in.getTaskCount() + ")"));
        }

        if (in.getDatasetsCount() > MAX_DATASETS) {
            v.add(violation(p + "datasets", "at most " + MAX_DATASETS + " datasets (got " + in.getDatasetsCount() + ")"));
        }
        for (int i = 0; i < in.getDatasetsCount(); i++) {
            if (!SpecStrings.hasForbidden(in.getDatasets(i)) && !LABEL.matcher(in.getDatasets(i)).matches()) v.add(violation(p + "datasets[" + i + "]", "not a dataset name"));
        }

        var task = in.getTask();
        String t = p + "task.";
        if (!in.hasTask()) {
            v.add(violation(p + "task", "required"));
        } else {
            if (task.getCommandCount() == 0 || task.getCommand(0).isBlank()) {
                v.add(violation(t + "command", "required: the program to run and its arguments"));
            }
            long commandBytes = task.getCommandList().stream().mapToLong(s -> s.getBytes(StandardCharsets.UTF_8).length).sum();
            if (commandBytes > limits.maxCommandBytes()) {
                v.add(violation(t + "command", "at most " + limits.maxCommandBytes() + " bytes (got " + commandBytes + ")"));
            }
            int envEntries = task.getEnvCount() + task.getSecretEnvCount();
            if (envEntries > limits.maxEnvEntries()) {
                v.add(violation(t + "env", "at most " + limits.maxEnvEntries() + " variables, secret ones included (got " + envEntries + ")"));
            }
            long envBytes = envBytes(t + "env", task.getEnvMap(), v) + envBytes(t + "secret_env", task.getSecretEnvMap(), v);
            for (String name : task.getSecretEnvMap().keySet()) {
                if (task.getEnvMap().containsKey(name)) v.add(violation(t + "secret_env[" + SpecStrings.shown(name) + "]", "also in env: a name is either plain or secret"));
            }
            if (envBytes > limits.maxEnvBytes()) {
                v.add(violation(t + "env", "at most " + limits.maxEnvBytes() + " bytes of names and values, secret ones included (got " + envBytes + ")"));
            }
            if (task.hasMaxRuntime() && duration(t + "max_runtime", task.getMaxRuntime(), v)) {
                if (Durations.compare(task.getMaxRuntime(), MIN_RUNTIME) < 0 || Durations.compare(task.getMaxRuntime(), MAX_RUNTIME) > 0) {
                    v.add(violation(t + "max_runtime", "between 1s and 30 days (got " + shown(task.getMaxRuntime()) + ")"));
                }
            }
            if (task.hasExpectedRuntime() && duration(t + "expected_runtime", task.getExpectedRuntime(), v)) {
                if (Durations.compare(task.getExpectedRuntime(), MIN_RUNTIME) < 0 || Durations.compare(task.getExpectedRuntime(), MAX_RUNTIME) > 0) {
                    v.add(violation(t + "expected_runtime", "between 1s and 30 days (got " + shown(task.getExpectedRuntime()) + ")"));
                } else if (task.hasMaxRuntime() && Durations.compare(task.getExpectedRuntime(), task.getMaxRuntime()) > 0) {
                    v.add(violation(t + "expected_runtime", "at most max_runtime (" + shown(task.getMaxRuntime()) + "), got "
                            + shown(task.getExpectedRuntime())));
                }
            }
            var r = task.getResources();
            if (!task.hasResources()) {
                v.add(violation(t + "resources", "required: cpu and memory per task"));
            } else {
                if (r.getCpuMillis() <= 0) v.add(violation(t + "resources.cpu_millis", "must be positive (got " + r.getCpuMillis() + ")"));
                if (r.getMemoryMib() <= 0) v.add(violation(t + "resources.memory_mib", "must be positive (got " + r.getMemoryMib() + ")"));
                if (r.getGpus() < 0) v.add(violation(t + "resources.gpus", "must not be negative (got " + r.getGpus() + ")"));
            }
            labels(t + "node_selector", task.getNodeSelectorMap(), limits.maxNodeSelectorEntries(), v);
            if (task.getPoolsCount() > limits.maxPools()) {
                v.add(violation(t + "pools", "at most " + limits.maxPools() + " pools (got " + task.getPoolsCount() + ")"));
            }
            for (int i = 0; i < task.getPoolsCount(); i++) {
                if (!SpecStrings.hasForbidden(task.getPools(i)) && !LABEL.matcher(task.getPools(i)).matches()) v.add(violation(t + "pools[" + i + "]", "not a pool name"));
            }
            if (task.getJurisdictionsCount() > limits.maxJurisdictions()) {
                v.add(violation(t + "jurisdictions", "at most " + limits.maxJurisdictions() + " jurisdictions (got " + task.getJurisdictionsCount() + ")"));
            }
            for (int i = 0; i < task.getJurisdictionsCount(); i++) {
                if (!SpecStrings.hasForbidden(task.getJurisdictions(i)) && !LABEL.matcher(task.getJurisdictions(i)).matches()) v.add(violation(t + "jurisdictions[" + i + "]", "not a jurisdiction name"));
            }
        }

        SpecStrings.check("spec", in, v);

        RetryPolicy retry = in.getRetry();
        if (retry.getMaxRetries() < 0 || retry.getMaxRetries() > MAX_RETRIES) {
            v.add(violation(p + "retry.max_retries", "must be between 0 and " + MAX_RETRIES));
        }
        backoffs(p + "retry.", retry, v);
        if (!v.isEmpty()) return new Result(in, v);

        RetryPolicy.Builder withDefaults = retry.toBuilder();
        if (!retry.hasInitialBackoff()) withDefaults.setInitialBackoff(DEFAULT_INITIAL_BACKOFF);
        if (!retry.hasMaxBackoff()) withDefaults.setMaxBackoff(DEFAULT_MAX_BACKOFF);
        JobSpec spec = in.toBuilder()
                .setTenant(in.getTenant().isEmpty() ? "default" : in.getTenant())
                .setRetry(withDefaults)
                .build();
        return new Result(spec, v);
    }

    /**
     * Fields this broker does not know (sent by a newer or a broken client) would be dropped
     * silently; refuse them instead, naming each by its path and field number.
     */
    private static void unknownFields(String path, com.google.protobuf.Message message, List<Violation> v) {
        for (Integer number : message.getUnknownFields().asMap().keySet()) {
            v.add(violation(path + "." + number, "unknown field number " + number + " (is the client newer than this broker?)"));
        }
        message.getAllFields().forEach((field, value) -> {
            if (field.getJavaType() != com.google.protobuf.Descriptors.FieldDescriptor.JavaType.MESSAGE || field.isMapField()) return;
            if (field.isRepeated()) return;
            unknownFields(path + "." + field.getName(), (com.google.protobuf.Message) value, v);
        });
    }

    private static void labels(String field, Map<String, String> labels, int maxEntries, List<Violation> v) {
        if (labels.size() > maxEntries) v.add(violation(field, "at most " + maxEntries + " entries (got " + labels.size() + ")"));
        for (Map.Entry<String, String> e : labels.entrySet()) {
            if (SpecStrings.hasForbidden(e.getKey())) continue; // refused for its characters (see SpecStrings)
            if (!LABEL.matcher(e.getKey()).matches()) v.add(violation(field + "[" + e.getKey() + "]", "not a valid label key (1-63 characters: letters, digits, '.', '_', '-', '/')"));
            if (e.getValue().length() > 63) v.add(violation(field + "[" + SpecStrings.shown(e.getKey()) + "]", "values are at most 63 characters"));
        }
    }

    /**
     * Backoffs are valid durations, not negative, initial ≤ max (a missing one counts as its default) and max ≤
     * {@link #MAX_BACKOFF_CAP}: a delay longer than a day is a task forgotten in the queue, and bounded delays keep the
     * stored milliseconds and the retry arithmetic far from overflow.
     */
    private static void backoffs(String r, RetryPolicy retry, List<Violation> v) {
        boolean initialOk = duration(r + "initial_backoff", retry.getInitialBackoff(), v);
        boolean maxOk = duration(r + "max_backoff", retry.getMaxBackoff(), v);
        if (maxOk && Durations.compare(retry.getMaxBackoff(), MAX_BACKOFF_CAP) > 0) {
            v.add(violation(r + "max_backoff", "at most " + shown(MAX_BACKOFF_CAP) + " (got " + shown(retry.getMaxBackoff()) + ")"));
            maxOk = false;
        }
        if (!initialOk || !maxOk) return;
        Duration initial = retry.hasInitialBackoff() ? retry.getInitialBackoff() : DEFAULT_INITIAL_BACKOFF;
        Duration max = retry.hasMaxBackoff() ? retry.getMaxBackoff() : DEFAULT_MAX_BACKOFF;
        if (Durations.compare(initial, max) <= 0) return;
        if (retry.hasInitialBackoff()) {
            v.add(violation(r + "initial_backoff", "must not exceed max_backoff (" + shown(max) + (retry.hasMaxBackoff() ? "" : ", its default")
                    + "; got " + shown(initial) + ")"));
        } else {
            v.add(violation(r + "max_backoff", "must be at least initial_backoff (" + shown(initial) + ", its default; got " + shown(max) + ")"));
        }
    }

    /** Whether {@code d} is a valid, non-negative duration; a violation for {@code field} when not. */
    private static boolean duration(String field, Duration d, List<Violation> v) {
        if (!Durations.isValid(d)) {
            v.add(violation(field, "not a valid duration (seconds within ±10,000 years, nanos within ±999,999,999 and of the same sign)"));
            return false;
        }
        if (Durations.isNegative(d)) {
            v.add(violation(field, "must not be negative (got " + shown(d) + ")"));
            return false;
        }
        return true;
    }

    /** A valid duration as a person writes it: {@code 1s}, {@code 5m}, {@code 1500ms}, {@code 24h}. */
    private static String shown(Duration d) {
        long millis = Durations.toMillis(d);
        java.time.Duration j = java.time.Duration.ofSeconds(d.getSeconds(), d.getNanos());
        if (d.getNanos() % 1_000_000 != 0) return j.toString();
        if (millis % 3_600_000 == 0 && millis != 0) return millis / 3_600_000 + "h";
        if (millis % 60_000 == 0 && millis != 0) return millis / 60_000 + "m";
        if (millis % 1000 == 0) return millis / 1000 + "s";
        return millis + "ms";
    }

    public static Violation violation(String field, String description) {
        return new Violation(field, description);
    }

    /** The bytes of an environment map's names and values; bad names are reported under {@code field}. */
    private static long envBytes(String field, Map<String, String> env, List<Violation> v) {
        long bytes = 0;
        for (Map.Entry<String, String> e : env.entrySet()) {
            bytes += e.getKey().getBytes(StandardCharsets.UTF_8).length + e.getValue().getBytes(StandardCharsets.UTF_8).length;
            if (SpecStrings.hasForbidden(e.getKey())) {
                continue; // refused for its characters (see SpecStrings)
            } else if (!ENV_KEY.matcher(e.getKey()).matches()) {
                v.add(violation(field + "[" + e.getKey() + "]", "names must match [A-Za-z_][A-Za-z0-9_]*"));
            } else if (e.getKey().startsWith("SPILLWAY_")) {
                v.add(violation(field + "[" + e.getKey() + "]", "SPILLWAY_ variables are set by Spillway"));
            }
        }
        return bytes;
    }
}
