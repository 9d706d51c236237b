package dev.spillway.broker.api;

import dev.spillway.broker.tls.BrokerCertificates;
import dev.spillway.broker.tls.BrokerTransport;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannelBuilder;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;

/** Channels from this broker to a broker of its cluster (the leader, or itself for the console). */
public final class BrokerChannels {

    private BrokerChannels() {
    }

    /**
     * A channel builder to the broker at {@code address} ({@code host:port}): under TLS trusting
     * the cluster's CA and verifying the name this broker's own certificate carries first (every
     * broker of a cluster shares the certificate's names), else plaintext.
     */
    public static ManagedChannelBuilder<?> to(BrokerTransport transport, String address) {
        ChannelCredentials credentials;
        if (transport.tls()) {
            try {
                credentials = TlsChannelCredentials.newBuilder().trustManager(transport.caFile().toFile()).build();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the CA " + transport.caFile(), e);
            }
        } else {
            credentials = InsecureChannelCredentials.create();
        }
        ManagedChannelBuilder<?> builder = Grpc.newChannelBuilder(address, credentials);
        if (transport.tls()) BrokerCertificates.firstName(transport.certFile()).ifPresent(builder::overrideAuthority);
        return builder;
    }
}
