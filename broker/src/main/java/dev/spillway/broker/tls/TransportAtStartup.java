package dev.spillway.broker.tls;

import dev.spillway.broker.config.BrokerConfig;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Optional;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.logging.Logger;

/**
 * The broker's {@link BrokerTransport} for the rest of the broker (cloud boot scripts carry its CA),
 * and what it says at start: a loud warning in plaintext; in TLS, which CA clients must trust and
 * its SHA-256 fingerprint (never a key).
 */
@ApplicationScoped
public class TransportAtStartup {

    private static final Logger LOG = Logger.getLogger(TransportAtStartup.class);

    @Produces
    @Singleton
    BrokerTransport transport(BrokerConfig config) {
        Config c = ConfigProvider.getConfig();
        return BrokerTransport.decide(name -> c.getOptionalValue(name, String.class).filter(v -> !v.isBlank()), Path.of(config.dataDir()));
    }

    void announce(@Observes StartupEvent event, BrokerTransport transport) {
        if (!transport.tls()) {
            LOG.warnf("PLAINTEXT: this broker's port serves gRPC, REST, health and metrics WITHOUT TLS (%s). Anyone on the network path "
                            + "can read and change its traffic, credentials included. Use it only in a lab; set spillway.tls.enabled=true "
                            + "(and not spillway.insecure) to serve TLS.",
                    transport.explicitlyInsecure() ? "spillway.insecure=true" : "spillway.tls.enabled is not true");
            return;
        }
        LOG.infof("TLS only on this broker's port (%s certificate %s); clients and agents trust %s (CA SHA-256 fingerprint %s)",
                transport.generated() ? "its own" : "the configured", transport.certFile(), transport.caFile(),
                fingerprint(transport).orElse("unreadable"));
    }

    static Optional<String> fingerprint(BrokerTransport transport) {
        try {
            var cert = BrokerCertificates.readCertificates(transport.caFile()).get(0);
            return Optional.of(HexFormat.ofDelimiter(":").withUpperCase().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded())));
        } catch (Exception e) {
            return Optional.empty();
        }
    }
}
