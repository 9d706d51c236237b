package dev.spillway.broker.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Every broker setting, under the {@code spillway.} prefix (environment: {@code SPILLWAY_…}).
 * The defaults run the embedded single-machine setup with no configuration at all. The database
 * is chosen by {@link dev.spillway.broker.store.DatabaseConfigSource}.
 */
@ConfigMapping(prefix = "spillway")
public interface BrokerConfig {

    /** Directory holding the embedded database and the agent token file. */
    @WithDefault("${user.home}/.spillway")
    String dataDir();

    Agents agents();

    Scheduler scheduler();

    Limits limits();

    /** Pools by name. Pools that agents name without configuration are created as {@code on-prem}. */
    Map<String, PoolSettings> pools();

    interface Agents {
        /**
         * Shared secret agents present as {@code authorization: Bearer <token>}. When unset, the
         * broker reads {@code <data-dir>/agent-token}, creating it (mode 0600) with a random value.
         */
        Optional<String> token();

        /** How often agents must report. */
        @WithDefault("2s")
        Duration heartbeatInterval();

        /** Silence after which a node is declared lost and its tasks re-queued. */
        @WithDefault("15s")
        Duration lease();
    }

    interface Scheduler {
        /** Longest pause between cycles; submissions, finished tasks and new nodes wake it earlier. */
        @WithDefault("1s")
        Duration interval();

        /** Most queued tasks one cycle considers. */
        @WithDefault("50000")
        int maxTasksPerCycle();

        /** Feasible nodes compared per placement (more: tighter packing, slower cycles). */
        @WithDefault("8")
        int candidateLimit();
    }

    interface Limits {
        /** Most tasks in one job. */
        @WithDefault("100000")
        int maxTasksPerJob();

        /** Largest total size of a job's environment (keys plus values), in bytes. */
        @WithDefault("65536")
        int maxEnvBytes();

        /** Largest command (all arguments together), in bytes. */
        @WithDefault("65536")
        int maxCommandBytes();
    }

    interface PoolSettings {
        /** {@code on-prem}, {@code local}, {@code aws} or {@code azure}. */
        @WithDefault("on-prem")
        String kind();
    }
}
