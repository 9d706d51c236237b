package dev.spillway.core.scheduling;

/** The built-in scorers. */
public final class Scorers {

    private Scorers() {}

    /**
     * Prefers the node that will be fullest after the placement (mean of CPU and memory
     * utilisation). Packing keeps whole nodes free for large tasks and lets idle nodes go.
     */
    public static final NodeScorer BIN_PACK = new NodeScorer() {
        @Override
        public String name() {
            return "bin-pack";
        }

        @Override
        public double score(TaskShape shape, NodeSlot node) {
            Resources cap = node.view().capacity();
            double cpu = cap.cpuMillis() == 0 ? 1 : 1 - (double) (node.freeCpuMillis() - shape.request().cpuMillis()) / cap.cpuMillis();
            double mem = cap.memoryMib() == 0 ? 1 : 1 - (double) (node.freeMemoryMib() - shape.request().memoryMib()) / cap.memoryMib();
            return (cpu + mem) / 2;
        }
    };

    /**
     * Prefers capacity that is already paid for: on-prem nodes over cloud nodes (labelled
     * {@link #CLOUD_LABEL}{@code =true}), so cloud nodes empty out and can be handed back.
     */
    public static final NodeScorer PREFER_ON_PREM = new NodeScorer() {
        @Override
        public String name() {
            return "prefer-on-prem";
        }

        @Override
        public double score(TaskShape shape, NodeSlot node) {
            return "true".equals(node.view().labels().get(CLOUD_LABEL)) ? 0 : 1;
        }
    };

    /** Node label marking capacity rented from a cloud pool. */
    public static final String CLOUD_LABEL = "spillway.dev/cloud";

    /** Keeps tasks that need no GPU off GPU nodes, so GPU tasks find them free. */
    public static final NodeScorer SPARE_GPUS = new NodeScorer() {
        @Override
        public String name() {
            return "spare-gpus";
        }

        @Override
        public double score(TaskShape shape, NodeSlot node) {
            return shape.request().gpus() == 0 && node.view().capacity().gpus() > 0 ? 0 : 1;
        }
    };
}
