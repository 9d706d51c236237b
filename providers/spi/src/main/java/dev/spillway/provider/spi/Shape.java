package dev.spillway.provider.spi;

/** What an instance offers: CPU in thousandths of a core, memory in MiB, whole GPUs. */
public record Shape(long cpuMillis, long memoryMib, int gpus) {
}
