package dev.spillway.agent;

import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * A task process's whole environment, built from an allowlist: nothing of the agent's own
 * environment reaches a task unless named here, so the agent's token variables
 * ({@code SPILLWAY_JOIN_TOKEN}, {@code SPILLWAY_AGENT_TOKEN}) and whatever else its service
 * manager set stay with the agent. In order, later entries winning:
 * <ol>
 *   <li>from the agent's environment: {@code PATH} (else {@value #DEFAULT_PATH}), {@code LANG},
 *       {@code LC_*} and {@code TZ} (how the machine formats text and time: no secrets there);</li>
 *   <li>{@code HOME} = the task's working directory (always there and the task's own, unlike the
 *       home of {@code nobody}; tools that write caches under HOME keep them per attempt), and
 *       {@code USER}/{@code LOGNAME} = the user the task runs as;</li>
 *   <li>the job's environment as the broker sent it (which includes the broker's
 *       {@code SPILLWAY_TASK_COUNT}, {@code SPILLWAY_JOB_ID}, ...);</li>
 *   <li>the variables the agent sets from the checked attempt: {@code SPILLWAY_JOB_ID},
 *       {@code SPILLWAY_TASK_INDEX}, {@code SPILLWAY_ATTEMPT}, {@code SPILLWAY_WORK_DIR}.</li>
 * </ol>
 */
final class TaskEnvironment {

    static final String DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

    private TaskEnvironment() {}

    /** Whether a variable of the agent's own environment may pass to tasks. */
    static boolean inheritable(String name) {
        return name.equals("PATH") || name.equals("LANG") || name.equals("TZ") || name.startsWith("LC_");
    }

    static Map<String, String> build(Map<String, String> agentEnv, AttemptId id, Map<String, String> jobEnv, Path workDir, String user) {
        Map<String, String> env = new TreeMap<>();
        agentEnv.forEach((k, v) -> {
            if (inheritable(k)) env.put(k, v);
        });
        env.putIfAbsent("PATH", DEFAULT_PATH);
        env.put("HOME", workDir.toString());
        env.put("USER", user);
        env.put("LOGNAME", user);
        env.putAll(jobEnv);
        env.put("SPILLWAY_JOB_ID", id.jobId());
        env.put("SPILLWAY_TASK_INDEX", Integer.toString(id.taskIndex()));
        env.put("SPILLWAY_ATTEMPT", Integer.toString(id.attempt()));
        env.put("SPILLWAY_WORK_DIR", workDir.toString());
        return env;
    }
}
