package dev.spillway.client;

import dev.spillway.api.Quantities;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.RetryPolicy;
import dev.spillway.api.v1.TaskTemplate;
import java.time.Duration;
import java.util.List;

/**
 * A job spec in a few lines, with the same words as a job spec file ({@link JobSpecFile}):
 *
 * <pre>{@code
 * JobSpec spec = JobSpecs.shell("python train.py --shard $SPILLWAY_TASK_INDEX")
 *         .name("train").tasks(40).cpu("2").memory("4Gi")
 *         .label("team", "ml").spot().maxRuntime(Duration.ofHours(2))
 *         .build();
 * }</pre>
 *
 * Each task runs the command with {@code SPILLWAY_TASK_INDEX} set to its index. A spec starts as
 * one task of 1 CPU and 512 MiB; the broker checks the rest (limits, tenants, pools) and says which
 * field is wrong.
 */
public final class JobSpecs {

    private final JobSpec.Builder spec = JobSpec.newBuilder().setTaskCount(1);
    private final TaskTemplate.Builder task = TaskTemplate.newBuilder()
            .setResources(Resources.newBuilder().setCpuMillis(1000).setMemoryMib(512));

    private JobSpecs(List<String> command) {
        if (command.isEmpty()) throw new IllegalArgumentException("a command is required");
        task.addAllCommand(command);
    }

    /** Tasks that run {@code argv} as it is (no shell). */
    public static JobSpecs command(String... argv) {
        return new JobSpecs(List.of(argv));
    }

    /** Tasks that run {@code line} with {@code /bin/sh -c}, as a job spec file's one-line command does. */
    public static JobSpecs shell(String line) {
        return new JobSpecs(List.of("/bin/sh", "-c", line));
    }

    public JobSpecs name(String name) {
        spec.setName(name);
        return this;
    }

    /** One of the caller's tenants (default: the caller's first). */
    public JobSpecs tenant(String tenant) {
        spec.setTenant(tenant);
        return this;
    }

    /** A queue (policy document) that gives the tenant and the default priority. */
    public JobSpecs queue(String queue) {
        spec.setQueue(queue);
        return this;
    }

    /** The size of the task array. */
    public JobSpecs tasks(int count) {
        spec.setTaskCount(count);
        return this;
    }

    /** -1000..1000; higher runs first among the tenant's jobs. */
    public JobSpecs priority(int priority) {
        spec.setPriority(priority);
        return this;
    }

    public JobSpecs label(String key, String value) {
        spec.putLabels(key, value);
        return this;
    }

    /** CPU per task in cores: {@code "2"}, {@code "0.5"} or {@code "500m"}. */
    public JobSpecs cpu(String cores) {
        task.getResourcesBuilder().setCpuMillis(Quantities.parseCpuMillis(cores));
        return this;
    }

    /** Memory per task: {@code "4Gi"}, {@code "512Mi"} or a number of MiB. */
    public JobSpecs memory(String memory) {
        task.getResourcesBuilder().setMemoryMib(Quantities.parseMemoryMib(memory));
        return this;
    }

    public JobSpecs gpus(int gpus) {
        task.getResourcesBuilder().setGpus(gpus);
        return this;
    }

    public JobSpecs env(String name, String value) {
        task.putEnv(name, value);
        return this;
    }

    /** An environment variable whose value the broker seals at rest and never shows back. */
    public JobSpecs secretEnv(String name, String value) {
        task.putSecretEnv(name, value);
        return this;
    }

    /** Only on nodes carrying this label. */
    public JobSpecs nodeSelector(String key, String value) {
        task.putNodeSelector(key, value);
        return this;
    }

    /** Only in these pools. */
    public JobSpecs pools(String... pools) {
        task.addAllPools(List.of(pools));
        return this;
    }

    /** Only where these jurisdictions hold (e.g. {@code "EU"}). */
    public JobSpecs jurisdictions(String... jurisdictions) {
        task.addAllJurisdictions(List.of(jurisdictions));
        return this;
    }

    /** May run on interruptible (spot) capacity. */
    public JobSpecs spot() {
        task.setSpotTolerant(true);
        return this;
    }

    /** Wall-time limit of each attempt: killed past it. Also bounds the job's cost quote. */
    public JobSpecs maxRuntime(Duration limit) {
        task.setMaxRuntime(proto(limit));
        return this;
    }

    /** Typical wall time of an attempt, for the expected cost of a quote. */
    public JobSpecs expectedRuntime(Duration typical) {
        task.setExpectedRuntime(proto(typical));
        return this;
    }

    /** Tries of a failed task after the first, waiting {@code initial} then twice as long each time up to {@code max}. */
    public JobSpecs retries(int retries, Duration initial, Duration max) {
        spec.setRetry(RetryPolicy.newBuilder().setMaxRetries(retries).setInitialBackoff(proto(initial)).setMaxBackoff(proto(max)));
        return this;
    }

    public JobSpec build() {
        return spec.clone().setTask(task.clone()).build();
    }

    private static com.google.protobuf.Duration proto(Duration d) {
        return com.google.protobuf.Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
    }
}
