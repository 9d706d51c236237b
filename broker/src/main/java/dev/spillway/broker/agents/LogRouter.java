package dev.spillway.broker.agents;

import dev.spillway.api.agent.v1.LogChunk;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/** Routes log chunks arriving on agent streams to the client call that asked for them. */
@ApplicationScoped
public class LogRouter {

    private final Map<String, Consumer<LogChunk>> sinks = new ConcurrentHashMap<>();

    public void open(String requestId, Consumer<LogChunk> sink) {
        sinks.put(requestId, sink);
    }

    public void close(String requestId) {
        sinks.remove(requestId);
    }

    void deliver(LogChunk chunk) {
        Consumer<LogChunk> sink = chunk.getEof() || !chunk.getError().isEmpty() ? sinks.remove(chunk.getRequestId()) : sinks.get(chunk.getRequestId());
        if (sink != null) sink.accept(chunk);
    }
}
