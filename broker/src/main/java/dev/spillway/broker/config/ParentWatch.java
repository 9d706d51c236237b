package dev.spillway.broker.config;

import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

/**
 * Stops the broker when the process that started it ends ({@code spillway.parent-pid}): a
 * {@code spillway up} killed with SIGKILL, or one whose shutdown could not finish, would otherwise
 * leave its broker running, holding the port and the embedded database.
 */
@ApplicationScoped
public class ParentWatch {

    private static final Logger LOG = Logger.getLogger(ParentWatch.class);

    void watch(@Observes StartupEvent started, BrokerConfig config) {
        config.parentPid().ifPresent(pid -> ProcessHandle.of(pid).ifPresentOrElse(
                parent -> parent.onExit().thenRun(() -> stop(pid)),
                () -> stop(pid)));
    }

    private static void stop(long pid) {
        LOG.warnf("the process that started this broker (pid %d) has ended; stopping", pid);
        Quarkus.asyncExit(0);
    }
}
