package dev.spillway.broker.scheduling;

import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.NodeView;
import java.util.Map;
import java.util.function.Function;

/** The cloud pools' offerings as last read, by {@link Offering#id()}: what each cloud node was bought as. */
public interface CloudOfferings {

    Map<String, Offering> byId();

    /** What each cloud node was bought as, from the offerings as they are now (null for other nodes and unknown offerings). */
    default Function<NodeView, Offering> boughtAs() {
        Map<String, Offering> byId = byId();
        return node -> {
            String id = Offering.idOfNode(node.pool(), node.labels());
            return id == null ? null : byId.get(id);
        };
    }
}
