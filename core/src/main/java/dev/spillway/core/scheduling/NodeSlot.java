package dev.spillway.core.scheduling;

/**
 * A node during one planning cycle: its snapshot view plus the free resources left after the
 * placements made so far in this cycle. Free resources only shrink within a cycle, which is
 * what lets the scheduler remember "this node cannot take this shape" until the cycle ends.
 */
public final class NodeSlot {

    private final NodeView view;
    private long freeCpuMillis;
    private long freeMemoryMib;
    private int freeGpus;

    NodeSlot(NodeView view) {
        this.view = view;
        Resources free = view.free();
        this.freeCpuMillis = free.cpuMillis();
        this.freeMemoryMib = free.memoryMib();
        this.freeGpus = free.gpus();
    }

    /** A node with all of its free resources, as a cycle starts with it (for evaluating rules outside a plan). */
    public static NodeSlot of(NodeView view) {
        return new NodeSlot(view);
    }

    public NodeView view() {
        return view;
    }

    public long freeCpuMillis() {
        return freeCpuMillis;
    }

    public long freeMemoryMib() {
        return freeMemoryMib;
    }

    public int freeGpus() {
        return freeGpus;
    }

    /** The first dimension in which {@code need} exceeds what is free, or null if it fits. */
    public Dimension shortfall(Resources need) {
        if (need.cpuMillis() > freeCpuMillis) return Dimension.CPU;
        if (need.memoryMib() > freeMemoryMib) return Dimension.MEMORY;
        if (need.gpus() > freeGpus) return Dimension.GPU;
        return null;
    }

    void take(Resources need) {
        freeCpuMillis -= need.cpuMillis();
        freeMemoryMib -= need.memoryMib();
        freeGpus -= need.gpus();
        if (freeCpuMillis < 0 || freeMemoryMib < 0 || freeGpus < 0) {
            throw new IllegalStateException("over-committed node " + view.name());
        }
    }
}
