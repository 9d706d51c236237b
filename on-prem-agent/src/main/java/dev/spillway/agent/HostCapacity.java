package dev.spillway.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What this machine offers, read from the OS when not configured. */
final class HostCapacity {

    private HostCapacity() {}

    static long cpuMillis() {
        return Runtime.getRuntime().availableProcessors() * 1000L;
    }

    /** MemTotal from /proc/meminfo, in MiB; the JVM's view as a fallback. */
    static long memoryMib() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("\\D", "")) / 1024;
                }
            }
        } catch (IOException | NumberFormatException ignored) {
            // not Linux: fall through
        }
        return Runtime.getRuntime().maxMemory() / (1024 * 1024);
    }
}
