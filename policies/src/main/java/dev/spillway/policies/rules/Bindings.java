package dev.spillway.policies.rules;

import dev.cel.runtime.CelVariableResolver;
import java.util.Map;
import java.util.Optional;

/** The variables of one evaluation; the maps are {@code StructDecl} views built once per subject, not per evaluation. */
record Bindings(Map<String, Object> job, Map<String, Object> tenant, Map<String, Object> task, Map<String, Object> node,
                Map<String, Object> offering, Object now) implements CelVariableResolver {

    @Override
    public Optional<Object> find(String name) {
        Object v = switch (name) {
            case "job" -> job;
            case "tenant" -> tenant;
            case "task" -> task;
            case "node" -> node;
            case "offering" -> offering;
            case "now" -> now;
            default -> null;
        };
        return Optional.ofNullable(v);
    }

    Bindings withNode(Map<String, Object> n) {
        return new Bindings(job, tenant, task, n, offering, now);
    }

    Bindings withOffering(Map<String, Object> o) {
        return new Bindings(job, tenant, task, node, o, now);
    }
}
