package dev.spillway.broker.tls;

import io.smallrye.config.ConfigSourceContext;
import io.smallrye.config.ConfigSourceFactory;
import io.smallrye.config.ConfigValue;
import io.smallrye.config.PropertiesConfigSource;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.eclipse.microprofile.config.spi.ConfigSource;

/**
 * Puts the broker's port on TLS before Quarkus starts its HTTP server, when
 * {@link BrokerTransport} says so: makes the broker's own CA and certificate if needed, and answers
 * the Quarkus settings that serve gRPC, REST, health and metrics over TLS only, on the port
 * configured for HTTP ({@code quarkus.http.port}, or {@code quarkus.http.test-port} in tests).
 *
 * <p>A factory, not a plain source, because it reads the other sources (application.properties,
 * profiles, system properties, environment, test profiles). Its ordinal is low: explicit
 * {@code quarkus.http.ssl.*} settings still win. In plaintext it answers nothing.
 */
public class TlsConfigSourceFactory implements ConfigSourceFactory {

    static final int ORDINAL = 50;

    @Override
    public Iterable<ConfigSource> getConfigSources(ConfigSourceContext context) {
        Function<String, Optional<String>> setting = name -> Optional.ofNullable(context.getValue(name))
                .map(ConfigValue::getValue).filter(v -> !v.isBlank());
        BrokerTransport transport = BrokerTransport.decide(setting, dataDir(setting));
        if (!transport.tls()) {
            // Quarkus keeps the values this factory gave at build time (TLS is the default) as defaults of the
            // application: plaintext must unset them explicitly (an empty value unsets a lower source's).
            return List.of(new PropertiesConfigSource(Map.of(
                    "quarkus.http.ssl.certificate.files", "",
                    "quarkus.http.ssl.certificate.key-files", "",
                    "quarkus.http.insecure-requests", "enabled",
                    "quarkus.http.test-ssl-enabled", "false"), "spillway-plaintext", ORDINAL));
        }
        if (transport.generated()) {
            new BrokerCertificates(transport.caFile().getParent(), dev.spillway.broker.config.Clocks.system())
                    .ensure(BrokerCertificates.namesFor(setting.apply("quarkus.http.host").orElse("127.0.0.1"),
                            setting.apply("spillway.advertised-address")));
        }
        return List.of(new PropertiesConfigSource(Map.of(
                "quarkus.http.ssl.certificate.files", transport.certFile().toString(),
                "quarkus.http.ssl.certificate.key-files", transport.keyFile().toString(),
                "quarkus.http.insecure-requests", "disabled",
                "quarkus.http.ssl-port", setting.apply("quarkus.http.port").orElse("7070"),
                "quarkus.http.test-ssl-port", setting.apply("quarkus.http.test-port").orElse("0"),
                "quarkus.http.test-ssl-enabled", "true"), "spillway-tls", ORDINAL));
    }

    /** As {@code BrokerConfig.dataDir()} resolves it (this runs before the mapping exists). */
    static Path dataDir(Function<String, Optional<String>> setting) {
        return setting.apply("spillway.data-dir").map(Path::of).orElse(Path.of(System.getProperty("user.home"), ".spillway"));
    }
}
