package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TaskEnvironmentTest {

    private static final AttemptId ID = AttemptId.verify(AttemptTest.JOB, 3, 2);
    private static final Path WORK = Path.of("/var/lib/spillway/attempts", AttemptTest.JOB, "3", "2", "work");

    /** What an agent started by a boot script or a shell typically has. */
    private static final Map<String, String> AGENT_ENV = Map.ofEntries(
            entry("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"),
            entry("HOME", "/root"),
            entry("USER", "root"),
            entry("LANG", "de_DE.UTF-8"),
            entry("LC_TIME", "en_GB.UTF-8"),
            entry("TZ", "Europe/Berlin"),
            entry("SPILLWAY_JOIN_TOKEN", "join.s3cret"),
            entry("SPILLWAY_AGENT_TOKEN", "agent-s3cret"),
            entry("SPILLWAY_BROKER", "broker:7070"),
            entry("AWS_SECRET_ACCESS_KEY", "aws-s3cret"),
            entry("JAVA_TOOL_OPTIONS", "-Dx=y"),
            entry("LD_PRELOAD", "/opt/agent/hook.so"),
            entry("SSH_AUTH_SOCK", "/tmp/ssh-agent.sock"));

    @Test
    void onlyTheAllowlistPassesFromTheAgentAndHomeIsTheWorkingDirectory() {
        Map<String, String> env = TaskEnvironment.build(AGENT_ENV, ID, Map.of(), WORK, "nobody");

        assertThat(env).containsOnly(
                entry("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"),
                entry("LANG", "de_DE.UTF-8"),
                entry("LC_TIME", "en_GB.UTF-8"),
                entry("TZ", "Europe/Berlin"),
                entry("HOME", WORK.toString()),
                entry("USER", "nobody"),
                entry("LOGNAME", "nobody"),
                entry("SPILLWAY_JOB_ID", AttemptTest.JOB),
                entry("SPILLWAY_TASK_INDEX", "3"),
                entry("SPILLWAY_ATTEMPT", "2"),
                entry("SPILLWAY_WORK_DIR", WORK.toString()));
    }

    @Test
    void theJobsEnvironmentIsAddedAndMayOverrideTheInheritedButNotTheAttemptsOwnVariables() {
        Map<String, String> job = Map.of("PATH", "/opt/tool/bin:/usr/bin", "DATASET", "s3://bucket/x",
                "SPILLWAY_TASK_COUNT", "40", "SPILLWAY_TASK_INDEX", "99", "SPILLWAY_WORK_DIR", "/etc");

        Map<String, String> env = TaskEnvironment.build(AGENT_ENV, ID, job, WORK, "spillway-task");

        assertThat(env).contains(entry("PATH", "/opt/tool/bin:/usr/bin"), entry("DATASET", "s3://bucket/x"),
                entry("SPILLWAY_TASK_COUNT", "40"), entry("SPILLWAY_TASK_INDEX", "3"), entry("SPILLWAY_WORK_DIR", WORK.toString()));
        assertThat(env).doesNotContainKeys("SPILLWAY_JOIN_TOKEN", "SPILLWAY_AGENT_TOKEN", "SPILLWAY_BROKER", "AWS_SECRET_ACCESS_KEY");
    }

    @Test
    void anAgentWithoutPathGivesTasksTheUsualOne() {
        assertThat(TaskEnvironment.build(Map.of(), ID, Map.of(), WORK, "nobody")).containsEntry("PATH", "/usr/local/bin:/usr/bin:/bin");
    }
}
