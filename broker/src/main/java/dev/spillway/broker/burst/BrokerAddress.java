package dev.spillway.broker.burst;

import org.eclipse.microprofile.config.ConfigProvider;

/** This broker's own host:port (gRPC and HTTP share it), as a default for what cloud instances are told. */
final class BrokerAddress {

    private BrokerAddress() {}

    static String local() {
        var config = ConfigProvider.getConfig();
        String host = config.getOptionalValue("quarkus.http.host", String.class).orElse("127.0.0.1");
        int port = config.getOptionalValue("quarkus.http.port", Integer.class).orElse(7070);
        return ("0.0.0.0".equals(host) ? "127.0.0.1" : host) + ":" + port;
    }

    /** Whether a {@code host:port} (or bare host) names this machine's loopback. */
    static boolean isLoopback(String address) {
        String host = address.startsWith("[") ? address.substring(1, address.indexOf(']'))
                : address.contains(":") && address.indexOf(':') == address.lastIndexOf(':') ? address.substring(0, address.indexOf(':')) : address;
        return isLoopbackHost(host);
    }

    static boolean isLoopbackHost(String host) {
        if (host == null) return false;
        String h = host.toLowerCase(java.util.Locale.ROOT);
        return h.equals("localhost") || h.startsWith("127.") || h.equals("::1") || h.equals("0:0:0:0:0:0:0:1");
    }
}
