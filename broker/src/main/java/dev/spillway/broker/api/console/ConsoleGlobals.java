package dev.spillway.broker.api.console;

import io.quarkus.qute.TemplateGlobal;
import java.util.List;

/** Values every console template may name. */
@TemplateGlobal
final class ConsoleGlobals {

    private ConsoleGlobals() {
    }

    /** The job states the job list filters by. */
    static final List<String> jobStates = List.of("queued", "running", "succeeded", "failed", "cancelled");

    /** The task states the task table filters by. */
    static final List<String> taskStates = List.of("queued", "assigned", "running", "succeeded", "failed", "lost", "cancelled");
}
