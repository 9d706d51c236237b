package dev.spillway.client;

import com.google.protobuf.Duration;
import com.google.rpc.BadRequest.FieldViolation;
import dev.spillway.api.Quantities;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.RetryPolicy;
import dev.spillway.api.v1.TaskTemplate;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * A job spec file (YAML) turned into a {@code spillway.v1.JobSpec}. Every problem names the file,
 * the line and the field, both for what this parser finds (unknown fields, wrong types) and for
 * the broker's field violations, which are mapped back to the lines they came from.
 *
 * <pre>
 * name: hello                 # optional
 * tenant: research            # optional: one of the caller's tenants (default: the caller's first)
 * queue: research-batch       # optional: a Queue policy document; gives the tenant, and the priority if none is set
 * labels: {team: genomics}
 * priority: 0                 # -1000..1000 (default: the queue's defaultPriority, else 0)
 * tasks: 40                   # size of the task array
 * command: echo "task $SPILLWAY_TASK_INDEX"   # a shell line, or a list (argv)
 * env: {GREETING: hello}
 * secretEnv: {DB_PASSWORD: $DB_PASSWORD}   # values never shown back; $NAME is read from the submitting shell
 * resources: {cpu: 1, memory: 512Mi, gpus: 0} # cpu in cores ("0.5", "500m"); memory "4Gi", "512Mi" or MiB
 * nodeSelector: {disk: ssd}
 * pools: [onprem]
 * jurisdictions: [EU]         # where the task may run; empty: anywhere
 * spot: true                  # may use interruptible capacity (default false)
 * maxRuntime: 2h              # wall-time limit of each attempt; killed past it, reason timeout (default: none)
 * expectedRuntime: 20m        # typical wall time of an attempt, for the expected cost of a quote (default: maxRuntime)
 * retries: 2
 * backoff: {initial: 1s, max: 1m}
 * </pre>
 */
public final class JobSpecFile {

    /** One problem, located in the file. */
    public record Problem(String file, int line, int column, String field, String message) {
        @Override
        public String toString() {
            return file + ":" + line + ":" + column + ": " + field + ": " + message;
        }
    }

    public static final class InvalidSpecException extends Exception {
        private final List<Problem> problems;

        InvalidSpecException(List<Problem> problems) {
            super(problems.size() + " problem(s) in the job spec");
            this.problems = List.copyOf(problems);
        }

        public List<Problem> problems() {
            return problems;
        }
    }

    /** YAML key path → spec field path, for the keys users write. */
    private static final Map<String, String> FIELDS = new LinkedHashMap<>();

    static {
        FIELDS.put("name", "spec.name");
        FIELDS.put("tenant", "spec.tenant");
        FIELDS.put("queue", "spec.queue");
        FIELDS.put("labels", "spec.labels");
        FIELDS.put("priority", "spec.priority");
        FIELDS.put("tasks", "spec.task_count");
        FIELDS.put("command", "spec.task.command");
        FIELDS.put("env", "spec.task.env");
        FIELDS.put("secretEnv", "spec.task.secret_env");
        FIELDS.put("resources", "spec.task.resources");
        FIELDS.put("resources.cpu", "spec.task.resources.cpu_millis");
        FIELDS.put("resources.memory", "spec.task.resources.memory_mib");
        FIELDS.put("resources.gpus", "spec.task.resources.gpus");
        FIELDS.put("nodeSelector", "spec.task.node_selector");
        FIELDS.put("pools", "spec.task.pools");
        FIELDS.put("jurisdictions", "spec.task.jurisdictions");
        FIELDS.put("spot", "spec.task.spot_tolerant");
        FIELDS.put("maxRuntime", "spec.task.max_runtime");
        FIELDS.put("expectedRuntime", "spec.task.expected_runtime");
        FIELDS.put("datasets", "spec.datasets");
        FIELDS.put("retries", "spec.retry.max_retries");
        FIELDS.put("backoff", "spec.retry");
        FIELDS.put("backoff.initial", "spec.retry.initial_backoff");
        FIELDS.put("backoff.max", "spec.retry.max_backoff");
    }

    private final String file;
    private final JobSpec spec;
    /** Spec field path → where it was written. */
    private final Map<String, Mark> marks;

    private JobSpecFile(String file, JobSpec spec, Map<String, Mark> marks) {
        this.file = file;
        this.spec = spec;
        this.marks = marks;
    }

    public JobSpec spec() {
        return spec;
    }

    public static JobSpecFile read(Path path) throws IOException, InvalidSpecException {
        try (Reader reader = Files.newBufferedReader(path)) {
            return parse(path.toString(), reader);
        }
    }

    public static JobSpecFile parse(String file, Reader reader) throws InvalidSpecException {
        return parse(file, reader, System.getenv());
    }

    /** @param environment where {@code secretEnv} values written as {@code $NAME} are read from */
    public static JobSpecFile parse(String file, Reader reader, Map<String, String> environment) throws InvalidSpecException {
        Node root;
        try {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).compose(reader);
        } catch (MarkedYAMLException e) {
            Mark m = e.getProblemMark();
            throw new InvalidSpecException(List.of(new Problem(file, m.getLine() + 1, m.getColumn() + 1, "(yaml)", e.getProblem())));
        }
        Builder b = new Builder(file, environment);
        if (!(root instanceof MappingNode map)) {
            int line = root == null ? 1 : root.getStartMark().getLine() + 1;
            throw new InvalidSpecException(List.of(new Problem(file, line, 1, "(root)", "a job spec is a YAML mapping (name:, tasks:, command:, …)")));
        }
        b.root(map);
        if (!b.problems.isEmpty()) throw new InvalidSpecException(b.problems);
        return new JobSpecFile(file, b.spec.build(), b.marks);
    }

    /** The broker's field violations, located in this file. */
    public List<Problem> locate(List<FieldViolation> violations) {
        List<Problem> out = new ArrayList<>();
        for (FieldViolation v : violations) {
            String field = v.getField();
            Mark m = marks.get(field);
            String parent = field;
            while (m == null && (parent.contains("[") || parent.contains("."))) {
                int cut = Math.max(parent.lastIndexOf('['), parent.lastIndexOf('.'));
                parent = parent.substring(0, cut);
                m = marks.get(parent);
            }
            String shown = yamlName(field);
            out.add(new Problem(file, m == null ? 1 : m.getLine() + 1, m == null ? 1 : m.getColumn() + 1, shown, v.getDescription()));
        }
        return out;
    }

    /** The YAML spelling of a spec field path, e.g. spec.task.resources.cpu_millis → resources.cpu. */
    static String yamlName(String field) {
        String suffix = "";
        int bracket = field.indexOf('[');
        String base = bracket >= 0 ? field.substring(0, bracket) : field;
        if (bracket >= 0) suffix = field.substring(bracket);
        for (Map.Entry<String, String> e : FIELDS.entrySet()) {
            if (e.getValue().equals(base)) return e.getKey() + suffix;
        }
        return field;
    }

    private static final class Builder {
        final String file;
        final List<Problem> problems = new ArrayList<>();
        final Map<String, Mark> marks = new HashMap<>();
        final JobSpec.Builder spec = JobSpec.newBuilder();
        final TaskTemplate.Builder task = TaskTemplate.newBuilder();
        final Resources.Builder resources = Resources.newBuilder();
        final RetryPolicy.Builder retry = RetryPolicy.newBuilder();
        boolean hasResources;
        final Map<String, String> environment;

        Builder(String file, Map<String, String> environment) {
            this.file = file;
            this.environment = environment;
        }

        void root(MappingNode map) {
            for (NodeTuple t : map.getValue()) {
                String key = key(t);
                if (key == null) continue;
                Node v = t.getValueNode();
                String field = FIELDS.get(key);
                if (field != null) marks.put(field, t.getKeyNode().getStartMark());
                switch (key) {
                    case "name" -> spec.setName(string(key, v));
                    case "tenant" -> spec.setTenant(string(key, v));
                    case "queue" -> spec.setQueue(string(key, v));
                    case "labels" -> spec.putAllLabels(stringMap(key, v, "spec.labels"));
                    case "priority" -> spec.setPriority((int) integer(key, v));
                    case "tasks" -> spec.setTaskCount((int) integer(key, v));
                    case "command" -> command(v);
                    case "env" -> task.putAllEnv(stringMap(key, v, "spec.task.env"));
                    case "secretEnv" -> task.putAllSecretEnv(secretEnv(key, v));
                    case "resources" -> resources(v);
                    case "nodeSelector" -> task.putAllNodeSelector(stringMap(key, v, "spec.task.node_selector"));
                    case "pools" -> task.addAllPools(stringList(key, v));
                    case "jurisdictions" -> task.addAllJurisdictions(stringList(key, v));
                    case "spot" -> task.setSpotTolerant(bool(key, v));
                    case "maxRuntime" -> maxRuntime(v);
                    case "expectedRuntime" -> expectedRuntime(v);
                    case "datasets" -> spec.addAllDatasets(stringList(key, v));
                    case "retries" -> retry.setMaxRetries((int) integer(key, v));
                    case "backoff" -> backoff(v);
                    default -> problem(t.getKeyNode(), key, "unknown field (known: " + String.join(", ",
                            FIELDS.keySet().stream().filter(k -> !k.contains(".")).toList()) + ")");
                }
            }
            if (!map.getValue().stream().map(this::keyQuiet).toList().contains("tasks")) spec.setTaskCount(1);
            if (hasResources) task.setResources(resources);
            spec.setTask(task).setRetry(retry);
        }

        void command(Node v) {
            if (v instanceof ScalarNode s) {
                task.addAllCommand(List.of("/bin/sh", "-c", s.getValue()));
            } else {
                task.addAllCommand(stringList("command", v));
            }
        }

        void resources(Node v) {
            if (!(v instanceof MappingNode map)) {
                problem(v, "resources", "expected a mapping such as {cpu: 1, memory: 512Mi}");
                return;
            }
            hasResources = true;
            for (NodeTuple t : map.getValue()) {
                String key = key(t);
                if (key == null) continue;
                String path = "resources." + key;
                if (FIELDS.containsKey(path)) marks.put(FIELDS.get(path), t.getKeyNode().getStartMark());
                Node value = t.getValueNode();
                try {
                    switch (key) {
                        case "cpu" -> resources.setCpuMillis(Quantities.parseCpuMillis(scalar(path, value)));
                        case "memory" -> resources.setMemoryMib(Quantities.parseMemoryMib(scalar(path, value)));
                        case "gpus" -> resources.setGpus((int) integer(path, value));
                        default -> problem(t.getKeyNode(), path, "unknown field (known: cpu, memory, gpus)");
                    }
                } catch (IllegalArgumentException e) {
                    problem(value, path, e.getMessage());
                }
            }
        }

        void maxRuntime(Node v) {
            try {
                task.setMaxRuntime(duration(scalar("maxRuntime", v)));
            } catch (IllegalArgumentException e) {
                problem(v, "maxRuntime", e.getMessage());
            }
        }

        void expectedRuntime(Node v) {
            try {
                task.setExpectedRuntime(duration(scalar("expectedRuntime", v)));
            } catch (IllegalArgumentException e) {
                problem(v, "expectedRuntime", e.getMessage());
            }
        }

        void backoff(Node v) {
            if (!(v instanceof MappingNode map)) {
                problem(v, "backoff", "expected a mapping such as {initial: 1s, max: 1m}");
                return;
            }
            for (NodeTuple t : map.getValue()) {
                String key = key(t);
                if (key == null) continue;
                String path = "backoff." + key;
                if (FIELDS.containsKey(path)) marks.put(FIELDS.get(path), t.getKeyNode().getStartMark());
                try {
                    switch (key) {
                        case "initial" -> retry.setInitialBackoff(duration(scalar(path, t.getValueNode())));
                        case "max" -> retry.setMaxBackoff(duration(scalar(path, t.getValueNode())));
                        default -> problem(t.getKeyNode(), path, "unknown field (known: initial, max)");
                    }
                } catch (IllegalArgumentException e) {
                    problem(t.getValueNode(), path, e.getMessage());
                }
            }
        }

        String key(NodeTuple t) {
            if (t.getKeyNode() instanceof ScalarNode s) return s.getValue();
            problem(t.getKeyNode(), "(key)", "keys must be plain words");
            return null;
        }

        String keyQuiet(NodeTuple t) {
            return t.getKeyNode() instanceof ScalarNode s ? s.getValue() : "";
        }

        String scalar(String field, Node v) {
            if (v instanceof ScalarNode s) return s.getValue();
            throw new IllegalArgumentException("expected a single value");
        }

        String string(String field, Node v) {
            if (v instanceof ScalarNode s) return s.getValue();
            problem(v, field, "expected text");
            return "";
        }

        long integer(String field, Node v) {
            if (v instanceof ScalarNode s) {
                try {
                    return Long.parseLong(s.getValue().trim());
                } catch (NumberFormatException e) {
                    problem(v, field, "expected a whole number, got '" + s.getValue() + "'");
                    return 0;
                }
            }
            problem(v, field, "expected a whole number");
            return 0;
        }

        boolean bool(String field, Node v) {
            if (v instanceof ScalarNode s && (s.getValue().equals("true") || s.getValue().equals("false"))) return Boolean.parseBoolean(s.getValue());
            problem(v, field, "expected true or false");
            return false;
        }

        Map<String, String> stringMap(String field, Node v, String specField) {
            Map<String, String> out = new LinkedHashMap<>();
            if (!(v instanceof MappingNode map)) {
                problem(v, field, "expected a mapping of names to values");
                return out;
            }
            for (NodeTuple t : map.getValue()) {
                String key = key(t);
                if (key == null) continue;
                marks.put(specField + "[" + key + "]", t.getKeyNode().getStartMark());
                if (t.getValueNode() instanceof ScalarNode s) {
                    out.put(key, s.getValue());
                } else {
                    problem(t.getValueNode(), field + "." + key, "expected a single value");
                }
            }
            return out;
        }

        /**
         * Secret values: a value {@code $NAME} is read from the submitting shell's environment
         * (so the secret is in no file), anything else is taken as written.
         */
        Map<String, String> secretEnv(String field, Node v) {
            Map<String, String> out = new LinkedHashMap<>();
            stringMap(field, v, "spec.task.secret_env").forEach((name, value) -> {
                if (value.startsWith("$") && value.length() > 1) {
                    String fromEnv = environment.get(value.substring(1));
                    if (fromEnv == null) {
                        problem(v, field + "." + name, "the environment variable " + value.substring(1) + " is not set");
                        return;
                    }
                    out.put(name, fromEnv);
                } else {
                    out.put(name, value);
                }
            });
            return out;
        }

        List<String> stringList(String field, Node v) {
            List<String> out = new ArrayList<>();
            if (!(v instanceof SequenceNode seq)) {
                problem(v, field, "expected a list");
                return out;
            }
            for (Node item : seq.getValue()) {
                if (item instanceof ScalarNode s) out.add(s.getValue());
                else problem(item, field, "expected a list of single values");
            }
            return out;
        }

        void problem(Node at, String field, String message) {
            Mark m = at.getStartMark();
            problems.add(new Problem(file, m.getLine() + 1, m.getColumn() + 1, field, message));
        }
    }

    /** "1s", "500ms", "2m", "1h" to a protobuf Duration. */
    public static Duration duration(String text) {
        String t = text.trim();
        try {
            long millis;
            if (t.endsWith("ms")) millis = Long.parseLong(t.substring(0, t.length() - 2));
            else if (t.endsWith("s")) millis = Long.parseLong(t.substring(0, t.length() - 1)) * 1000;
            else if (t.endsWith("m")) millis = Long.parseLong(t.substring(0, t.length() - 1)) * 60_000;
            else if (t.endsWith("h")) millis = Long.parseLong(t.substring(0, t.length() - 1)) * 3_600_000;
            else throw new NumberFormatException();
            return Duration.newBuilder().setSeconds(millis / 1000).setNanos((int) (millis % 1000) * 1_000_000).build();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a duration: '" + text + "' (such as 500ms, 2s, 1m, 1h)");
        }
    }
}
