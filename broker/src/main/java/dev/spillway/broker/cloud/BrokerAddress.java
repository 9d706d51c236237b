package dev.spillway.broker.cloud;

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
}
