package dev.spillway.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.rpc.BadRequest.FieldViolation;
import dev.spillway.api.v1.JobSpec;
import java.io.StringReader;
import java.util.List;
import org.junit.jupiter.api.Test;

class JobSpecFileTest {

    private static JobSpecFile parse(String yaml) throws JobSpecFile.InvalidSpecException {
        return JobSpecFile.parse("job.yaml", new StringReader(yaml));
    }

    @Test
    void aFullSpecMapsOntoTheProto() throws Exception {
        JobSpec spec = parse("""
                name: hello
                tenant: demo
                labels: {team: research}
                priority: 5
                tasks: 40
                command: echo "$SPILLWAY_TASK_INDEX"
                env: {A: "1"}
                resources: {cpu: 1.5, memory: 2Gi, gpus: 1}
                nodeSelector: {disk: ssd}
                pools: [onprem]
                retries: 2
                backoff: {initial: 500ms, max: 1m}
                """).spec();
        assertThat(spec.getTaskCount()).isEqualTo(40);
        assertThat(spec.getTask().getCommandList()).containsExactly("/bin/sh", "-c", "echo \"$SPILLWAY_TASK_INDEX\"");
        assertThat(spec.getTask().getResources().getCpuMillis()).isEqualTo(1500);
        assertThat(spec.getTask().getResources().getMemoryMib()).isEqualTo(2048);
        assertThat(spec.getTask().getResources().getGpus()).isEqualTo(1);
        assertThat(spec.getRetry().getMaxRetries()).isEqualTo(2);
        assertThat(spec.getRetry().getInitialBackoff().getNanos()).isEqualTo(500_000_000);
        assertThat(spec.getRetry().getMaxBackoff().getSeconds()).isEqualTo(60);
        assertThat(spec.getLabelsMap()).containsEntry("team", "research");
    }

    @Test
    void secretValuesComeFromTheFileOrTheSubmittingShell() throws Exception {
        String yaml = """
                tasks: 1
                command: "true"
                resources: {cpu: 1, memory: 64Mi}
                secretEnv: {LITERAL: "s3cret", FROM_SHELL: $DB_PASSWORD}
                """;
        JobSpec spec = JobSpecFile.parse("job.yaml", new StringReader(yaml), java.util.Map.of("DB_PASSWORD", "hunter2")).spec();
        assertThat(spec.getTask().getSecretEnvMap()).containsExactlyInAnyOrderEntriesOf(java.util.Map.of("LITERAL", "s3cret", "FROM_SHELL", "hunter2"));
        assertThat(spec.getTask().getEnvMap()).isEmpty();

        var missing = catchThrowableOfType(JobSpecFile.InvalidSpecException.class,
                () -> JobSpecFile.parse("job.yaml", new StringReader(yaml), java.util.Map.of()));
        assertThat(missing.problems()).singleElement().satisfies(p -> {
            assertThat(p.toString()).contains("job.yaml:4").contains("DB_PASSWORD is not set");
        });
    }

    @Test
    void everyProblemIsReportedWithFileLineAndField() {
        var e = catchThrowableOfType(JobSpecFile.InvalidSpecException.class, () -> parse("""
                name: x
                tasks: many
                resources:
                  cpu: lots
                  disk: 10Gi
                colour: red
                """));
        assertThat(e.problems()).extracting(Object::toString).containsExactly(
                "job.yaml:2:8: tasks: expected a whole number, got 'many'",
                "job.yaml:4:8: resources.cpu: not a cpu amount: 'lots' (cores such as 2 or 0.5, or millicores such as 500m)",
                "job.yaml:5:3: resources.disk: unknown field (known: cpu, memory, gpus)",
                "job.yaml:6:1: colour: unknown field (known: name, tenant, queue, labels, priority, tasks, command, env, secretEnv, resources, nodeSelector, pools, jurisdictions, spot, maxRuntime, expectedRuntime, datasets, retries, backoff)");
    }

    @Test
    void amountsThatAreNotExactSayWhyAtTheirValue() {
        var e = catchThrowableOfType(JobSpecFile.InvalidSpecException.class, () -> parse("""
                command: "true"
                resources: {cpu: 0.0005, memory: 4GB}
                """));
        assertThat(e.problems()).extracting(Object::toString).containsExactly(
                "job.yaml:2:18: resources.cpu: not a cpu amount: '0.0005' (that is 0.5 millicores; the finest amount is 1m, a thousandth of a core)",
                "job.yaml:2:34: resources.memory: not a memory amount: '4GB' (unknown unit 'GB'; use Mi, Gi or Ti (binary; M and G mean the same), or a plain number of MiB)");
    }

    @Test
    void brokenYamlIsReportedWhereItBreaks() {
        var e = catchThrowableOfType(JobSpecFile.InvalidSpecException.class, () -> parse("name: [unclosed\n"));
        assertThat(e.problems()).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo("job.yaml");
            assertThat(p.field()).isEqualTo("(yaml)");
        });
    }

    @Test
    void brokerViolationsAreLocatedOnTheirLines() throws Exception {
        JobSpecFile file = parse("""
                tasks: 2
                command: "true"
                resources:
                  cpu: 0
                  memory: 64Mi
                """);
        var problems = file.locate(List.of(
                FieldViolation.newBuilder().setField("spec.task.resources.cpu_millis").setDescription("must be positive").build(),
                FieldViolation.newBuilder().setField("spec.task.resources").setDescription("no pool offers it").build()));
        assertThat(problems).extracting(Object::toString).containsExactly(
                "job.yaml:4:3: resources.cpu: must be positive",
                "job.yaml:3:1: resources: no pool offers it");
    }
}
