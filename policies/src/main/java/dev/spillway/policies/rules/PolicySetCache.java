package dev.spillway.policies.rules;

import dev.spillway.policies.document.SourceFile;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Compiled policy sets by version (the digest of their files), so applying or loading the same
 * files again reuses the compiled programs. Only successful compilations are kept; the least
 * recently used set goes first beyond {@code capacity}. Thread-safe.
 */
public final class PolicySetCache {

    private final PolicyCompiler compiler;
    private final int capacity;
    private final Map<String, PolicySet> byVersion;

    public PolicySetCache(PolicyCompiler compiler, int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("capacity must be at least 1");
        this.compiler = compiler;
        this.capacity = capacity;
        this.byVersion = new LinkedHashMap<>(16, 0.75f, true);
    }

    public CompileResult compile(List<SourceFile> files) {
        String version = PolicyCompiler.version(files);
        synchronized (byVersion) {
            PolicySet cached = byVersion.get(version);
            if (cached != null) return new CompileResult(cached, List.of());
        }
        CompileResult result = compiler.compile(files);
        if (result.ok()) {
            synchronized (byVersion) {
                byVersion.putIfAbsent(version, result.policySet());
                while (byVersion.size() > capacity) byVersion.remove(byVersion.keySet().iterator().next());
                return new CompileResult(byVersion.get(version), List.of());
            }
        }
        return result;
    }

    public int size() {
        synchronized (byVersion) {
            return byVersion.size();
        }
    }
}
