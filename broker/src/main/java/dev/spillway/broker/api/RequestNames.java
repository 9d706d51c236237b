package dev.spillway.broker.api;

import dev.spillway.api.ResourceNames;
import dev.spillway.broker.errors.InvalidRequest;
import java.util.UUID;

/** Resource names read from requests: what they name, or INVALID_ARGUMENT naming the request's field. */
final class RequestNames {

    private RequestNames() {}

    /** {@code jobs/{job}} or a bare job id. */
    static UUID job(String field, String name) {
        return ResourceNames.parseJob(name).orElseThrow(() -> InvalidRequest.of(field, ResourceNames.problem("job", name)));
    }

    /** {@code jobs/{job}/tasks/{task}}. */
    static ResourceNames.TaskName task(String field, String name) {
        return ResourceNames.parseTask(name).orElseThrow(() -> InvalidRequest.of(field, ResourceNames.problem("task", name)));
    }

    /** {@code pools/{pool}} or a bare pool id. */
    static String pool(String field, String name) {
        return ResourceNames.parsePool(name).orElseThrow(() -> InvalidRequest.of(field, ResourceNames.problem("pool", name)));
    }

    /** {@code nodes/{node}} or a bare node name. */
    static String node(String field, String name) {
        return ResourceNames.parseNode(name).orElseThrow(() -> InvalidRequest.of(field, ResourceNames.problem("node", name)));
    }

    /** {@code jobs/{job}/tasks/{task}/attempts/{attempt}}, or a task's name for its current attempt (attempt 0). */
    static ResourceNames.AttemptName attempt(String field, String name) {
        return ResourceNames.parseAttempt(name).orElseThrow(() -> InvalidRequest.of(field, ResourceNames.problem("attempt", name)));
    }

    /** {@code apiKeys/{api_key}} or a bare key id. */
    static UUID apiKey(String field, String name) {
        return ResourceNames.parseApiKey(name).orElseThrow(() -> InvalidRequest.of(field, ResourceNames.problem("api key", name)));
    }

    /** {@code budgets/{budget}} or a bare budget id. */
    static String budget(String field, String name) {
        return ResourceNames.parseBudget(name).orElseThrow(() -> InvalidRequest.of(field, ResourceNames.problem("budget", name)));
    }
}
