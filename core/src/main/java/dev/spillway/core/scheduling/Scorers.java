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
