package dev.spillway.core.scheduling;

import java.util.EnumMap;
import java.util.Map;

/** The built-in filters. Each one answers a single question. */
public final class Filters {

    private Filters() {}

    /** Draining or otherwise closed nodes take no new work. */
    public static final NodeFilter SCHEDULABLE = new NodeFilter() {
        private final Veto veto = Veto.fixed("schedulable", "node is draining");

        @Override
        public String name() {
            return "schedulable";
        }

        @Override
        public Veto check(TaskShape shape, NodeSlot node) {
            return node.view().schedulable() ? null : veto;
        }
    };

    /** The task may be limited to some pools. */
    public static final NodeFilter POOL = new NodeFilter() {
        private final Veto veto = Veto.fixed("pool", "pool not allowed by the task");

        @Override
        public String name() {
            return "pool";
        }

        @Override
        public Veto check(TaskShape shape, NodeSlot node) {
            return shape.pools().isEmpty() || shape.pools().contains(node.view().pool()) ? null : veto;
        }
    };

    /** Every label of the task's node selector must be on the node with the same value. */
    public static final NodeFilter NODE_SELECTOR = new NodeFilter() {
        private final Veto veto = Veto.fixed("node-selector", "node lacks a selected label");

        @Override
        public String name() {
            return "node-selector";
        }

        @Override
        public Veto check(TaskShape shape, NodeSlot node) {
            if (shape.nodeSelector().isEmpty()) return null;
            Map<String, String> labels = node.view().labels();
            for (Map.Entry<String, String> want : shape.nodeSelector().entrySet()) {
                if (!want.getValue().equals(labels.get(want.getKey()))) return veto;
            }
            return null;
        }
    };

    /** A task limited to some jurisdictions runs only on nodes labelled with one of them. */
    public static final NodeFilter JURISDICTION = new NodeFilter() {
        private final Veto veto = Veto.fixed("jurisdiction", "node outside the task's jurisdictions");

        @Override
        public String name() {
            return "jurisdiction";
        }

        @Override
        public Veto check(TaskShape shape, NodeSlot node) {
            if (shape.jurisdictions().isEmpty()) return null;
            String where = node.view().labels().get(TaskShape.JURISDICTION_LABEL);
            return where != null && shape.jurisdictions().contains(where) ? null : veto;
        }
    };

    /** Spot (interruptible) nodes take only tasks that tolerate interruption. */
    public static final NodeFilter SPOT = new NodeFilter() {
        private final Veto veto = Veto.fixed("spot", "spot node; the task does not tolerate spot");

        @Override
        public String name() {
            return "spot";
        }

        @Override
        public Veto check(TaskShape shape, NodeSlot node) {
            return shape.spotTolerant() || !"true".equals(node.view().labels().get(TaskShape.SPOT_LABEL)) ? null : veto;
        }
    };

    /** The node could never hold the task, even empty. */
    public static final NodeFilter CAPACITY = new NodeFilter() {
        private final Map<Dimension, Veto> vetoes = vetoesPerDimension(Veto.Kind.STATIC, "capacity", "node too small: %s");

        @Override
        public String name() {
            return "capacity";
        }

        @Override
        public Veto check(TaskShape shape, NodeSlot node) {
            Dimension d = node.view().capacity().shortfall(shape.request());
            return d == null ? null : vetoes.get(d);
        }
    };

    /** The node is too busy right now. */
    public static final NodeFilter FREE_RESOURCES = new NodeFilter() {
        private final Map<Dimension, Veto> vetoes = vetoesPerDimension(Veto.Kind.TRANSIENT, "free-resources", "insufficient free %s");

        @Override
        public String name() {
            return "free-resources";
        }

        @Override
        public Veto check(TaskShape shape, NodeSlot node) {
            Dimension d = node.shortfall(shape.request());
            return d == null ? null : vetoes.get(d);
        }
    };

    private static Map<Dimension, Veto> vetoesPerDimension(Veto.Kind kind, String filter, String format) {
        Map<Dimension, Veto> map = new EnumMap<>(Dimension.class);
        for (Dimension d : Dimension.values()) {
            map.put(d, new Veto(filter, kind, String.format(format, d.label())));
        }
        return map;
    }
}
