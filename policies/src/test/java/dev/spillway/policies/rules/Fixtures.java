package dev.spillway.policies.rules;

import dev.spillway.core.scheduling.NodeSlot;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskShape;
import java.lang.reflect.Constructor;
import java.time.Instant;
import java.util.Map;
import java.util.Set;

/** Shared test inputs. */
final class Fixtures {

    private Fixtures() {}

    static final Instant NOW = Instant.parse("2026-03-04T10:15:00Z"); // a Wednesday

    static PolicySet compile(String yaml) {
        CompileResult r = new PolicyCompiler().compile("policy.yaml", yaml);
        if (!r.ok()) throw new AssertionError("refused: " + r.problems());
        return r.policySet();
    }

    static String policy(String spec) {
        return "apiVersion: spillway.dev/v1\nkind: Policy\nmetadata: {name: p}\nspec:\n" + spec.stripTrailing() + "\n";
    }

    static NodeView node(String name, String pool, Map<String, String> labels) {
        return new NodeView(name, pool, new Resources(16_000, 65_536, 0), Resources.ZERO, labels, true);
    }

    static TaskShape shape() {
        return new TaskShape(new Resources(1_000, 1_024, 0), Map.of(), Set.of());
    }

    /** The core keeps NodeSlot's constructor to itself; tests of filters in isolation reach it reflectively. */
    static NodeSlot slot(NodeView view) {
        try {
            Constructor<NodeSlot> c = NodeSlot.class.getDeclaredConstructor(NodeView.class);
            c.setAccessible(true);
            return c.newInstance(view);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    static PlacementContext context(JobFacts job) {
        return new PlacementContext(NOW, s -> job, t -> TenantFacts.named(t), Map.of());
    }
}
