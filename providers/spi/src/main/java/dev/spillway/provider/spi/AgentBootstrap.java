package dev.spillway.provider.spi;

import java.util.Map;

/**
 * What a new instance needs to join: where the broker is and a one-time join token bound to this
 * instance. The token is a secret: it is never printed (see {@link #toString()}).
 */
public record AgentBootstrap(String brokerAddress, String joinToken, String nodeName, String pool, Map<String, String> labels) {

    public AgentBootstrap {
        labels = Map.copyOf(labels);
    }

    @Override
    public String toString() {
        return "AgentBootstrap[broker=" + brokerAddress + ", node=" + nodeName + ", pool=" + pool + ", labels=" + labels + ", token=<redacted>]";
    }
}
