package dev.spillway.api;

import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The resource names of spillway.v1 (AIP-122): {@code jobs/{job}}, {@code jobs/{job}/tasks/{task}},
 * {@code jobs/{job}/tasks/{task}/attempts/{attempt}}, {@code pools/{pool}},
 * {@code pools/{pool}/instances/{instance}} and {@code nodes/{node}}, made and read in one place.
 * A job, pool or node is also accepted by its bare id, as users type it. Parsing never throws: a
 * name that is not one gives an empty result, and {@link #problem} says why, for the field
 * violation.
 */
public final class ResourceNames {

    private static final String UUID_RE = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
    private static final Pattern JOB = Pattern.compile("(?:jobs/)?(" + UUID_RE + ")");
    private static final Pattern TASK = Pattern.compile("jobs/(" + UUID_RE + ")/tasks/(0|[1-9][0-9]{0,8})");
    private static final Pattern ATTEMPT = Pattern.compile("jobs/(" + UUID_RE + ")/tasks/(0|[1-9][0-9]{0,8})/attempts/([1-9][0-9]{0,8})");

    /** A pool's id: as a job names it (a label-like name without slashes). */
    private static final String POOL_RE = "[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?";
    private static final Pattern POOL = Pattern.compile("(?:pools/)?(" + POOL_RE + ")");
    /** The parent of a listing across pools (AIP-159). */
    public static final String EVERY_POOL = "pools/-";
    /** The parent of a listing across jobs (AIP-159). */
    public static final String EVERY_JOB = "jobs/-";
    private static final Pattern API_KEY = Pattern.compile("(?:apiKeys/)?(" + UUID_RE + ")");
    private static final Pattern BUDGET = Pattern.compile("(?:budgets/)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)");
    private static final Pattern INSTANCE = Pattern.compile("pools/(" + POOL_RE + ")/instances/(" + UUID_RE + ")");
    /** A node's name as agents register it (a host name, mostly). */
    private static final Pattern NODE = Pattern.compile("(?:nodes/)?([A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?)");

    private ResourceNames() {}

    /** An instance of a pool. */
    public record InstanceName(String pool, UUID instance) {
        @Override
        public String toString() {
            return ResourceNames.instance(pool, instance);
        }
    }

    public static String pool(String id) {
        return "pools/" + id;
    }

    public static String instance(String pool, UUID id) {
        return pool(pool) + "/instances/" + id;
    }

    public static String node(String id) {
        return "nodes/" + id;
    }

    /** {@code pools/{pool}} or a bare pool id. */
    public static Optional<String> parsePool(String name) {
        Matcher m = POOL.matcher(name);
        return m.matches() ? Optional.of(m.group(1)) : Optional.empty();
    }

    /** {@code pools/{pool}/instances/{instance}}. */
    public static Optional<InstanceName> parseInstance(String name) {
        Matcher m = INSTANCE.matcher(name);
        return m.matches() ? Optional.of(new InstanceName(m.group(1), UUID.fromString(m.group(2)))) : Optional.empty();
    }

    /** {@code nodes/{node}} or a bare node name. */
    public static Optional<String> parseNode(String name) {
        Matcher m = NODE.matcher(name);
        return m.matches() ? Optional.of(m.group(1)) : Optional.empty();
    }

    /** A task of a job, by index. */
    public record TaskName(UUID job, int index) {
        @Override
        public String toString() {
            return task(job, index);
        }
    }

    /** An attempt of a task; {@code attempt} 0 stands for the task's current attempt. */
    public record AttemptName(UUID job, int index, int attempt) {
        @Override
        public String toString() {
            return attempt == 0 ? task(job, index) : ResourceNames.attempt(job, index, attempt);
        }
    }

    public static String job(UUID id) {
        return "jobs/" + id;
    }

    public static String task(UUID job, int index) {
        return job(job) + "/tasks/" + index;
    }

    public static String attempt(UUID job, int index, int attempt) {
        return task(job, index) + "/attempts/" + attempt;
    }

    /** The task {@code index} of a job given by its name or bare id; IllegalArgumentException when it is neither. */
    public static String task(String job, int index) {
        return task(parseJob(job).orElseThrow(() -> new IllegalArgumentException(problem("job", job))), index);
    }

    /** An attempt of a task of a job given by its name or bare id; attempt 0 names the task (its current attempt). */
    public static String attempt(String job, int index, int attempt) {
        UUID id = parseJob(job).orElseThrow(() -> new IllegalArgumentException(problem("job", job)));
        return attempt == 0 ? task(id, index) : attempt(id, index, attempt);
    }

    public static String apiKey(UUID id) {
        return "apiKeys/" + id;
    }

    /** {@code apiKeys/{api_key}} or a bare key id. */
    public static Optional<UUID> parseApiKey(String name) {
        Matcher m = API_KEY.matcher(name);
        return m.matches() ? Optional.of(UUID.fromString(m.group(1))) : Optional.empty();
    }

    public static String budget(String id) {
        return "budgets/" + id;
    }

    /** {@code budgets/{budget}} or a bare budget id (lower case letters, digits and '-', at most 63). */
    public static Optional<String> parseBudget(String name) {
        Matcher m = BUDGET.matcher(name);
        return m.matches() ? Optional.of(m.group(1)) : Optional.empty();
    }

    /** {@code jobs/{job}} or a bare job id. */
    public static Optional<UUID> parseJob(String name) {
        Matcher m = JOB.matcher(name);
        return m.matches() ? Optional.of(UUID.fromString(m.group(1))) : Optional.empty();
    }

    /** {@code jobs/{job}/tasks/{task}}. */
    public static Optional<TaskName> parseTask(String name) {
        Matcher m = TASK.matcher(name);
        return m.matches() ? Optional.of(new TaskName(UUID.fromString(m.group(1)), Integer.parseInt(m.group(2)))) : Optional.empty();
    }

    /** {@code jobs/{job}/tasks/{task}/attempts/{attempt}}, or a task's name for its current attempt (attempt 0). */
    public static Optional<AttemptName> parseAttempt(String name) {
        Matcher m = ATTEMPT.matcher(name);
        if (m.matches()) {
            return Optional.of(new AttemptName(UUID.fromString(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))));
        }
        return parseTask(name).map(t -> new AttemptName(t.job(), t.index(), 0));
    }

    /** Why {@code name} is not a name of {@code kind} ("job", "task", "attempt"), as a field violation's description. */
    public static String problem(String kind, String name) {
        String shown = name.length() > 80 ? name.substring(0, 80) + "…" : name;
        String expected = switch (kind.toLowerCase(Locale.ROOT)) {
            case "job" -> "jobs/{job} or a job id, {job} a UUID";
            case "task" -> "jobs/{job}/tasks/{task}, {task} the task's index";
            case "pool" -> "pools/{pool} or a pool id";
            case "node" -> "nodes/{node} or a node name";
            case "instance" -> "pools/{pool}/instances/{instance}, {instance} a UUID";
            case "api key" -> "apiKeys/{api_key} or a key id, {api_key} a UUID";
            case "budget" -> "budgets/{budget} or a budget id: lower case letters, digits and '-', at most 63";
            default -> "jobs/{job}/tasks/{task}/attempts/{attempt}, or jobs/{job}/tasks/{task} for the current attempt";
        };
        return name.isEmpty() ? "required: " + expected : "not a " + kind + " name: '" + shown + "' (expected " + expected + ")";
    }
}
