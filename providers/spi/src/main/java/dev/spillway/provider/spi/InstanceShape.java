package dev.spillway.provider.spi;

/** What an instance offers: CPU in thousandths of a core, memory in MiB, whole GPUs. */
public record InstanceShape(long cpuMillis, long memoryMib, int gpus) {
}
