package dev.spillway.broker.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Which transport the settings ask for. */
class BrokerTransportTest {

    private static BrokerTransport decide(Map<String, String> settings) {
        return BrokerTransport.decide(name -> Optional.ofNullable(settings.get(name)), Path.of("/data"));
    }

    @Test
    void tlsByDefaultAndTheExplicitInsecureFlagAlwaysWins() {
        assertThat(decide(Map.of("spillway.tls.enabled", "false")).tls()).isFalse();
        assertThat(decide(Map.of("spillway.tls.enabled", "false")).explicitlyInsecure()).isFalse();
        assertThat(decide(Map.of("spillway.tls.enabled", "true")).tls()).isTrue();
        BrokerTransport lab = decide(Map.of("spillway.tls.enabled", "true", "spillway.insecure", "true"));
        assertThat(lab.tls()).isFalse();
        assertThat(lab.explicitlyInsecure()).isTrue();
        assertThat(lab.caPem()).isEmpty();
        assertThat(lab.scheme()).isEqualTo("http");
    }

    @Test
    void theBrokersOwnCertificateLivesInTheDataDirectory() {
        BrokerTransport own = decide(Map.of("spillway.tls.enabled", "true"));
        assertThat(own.generated()).isTrue();
        assertThat(own.caFile()).isEqualTo(Path.of("/data/tls/ca.pem"));
        assertThat(own.certFile()).isEqualTo(Path.of("/data/tls/server.pem"));
        assertThat(own.keyFile()).isEqualTo(Path.of("/data/tls/server-key.pem"));
        assertThat(own.scheme()).isEqualTo("https");
    }

    @Test
    void anEnterpriseCertificateNeedsItsKeyAndClientsTrustItsCaFileOrTheChainItself() {
        BrokerTransport chain = decide(Map.of("spillway.tls.enabled", "true", "spillway.tls.cert-file", "/pki/broker.pem",
                "spillway.tls.key-file", "/pki/broker-key.pem"));
        assertThat(chain.generated()).isFalse();
        assertThat(chain.caFile()).isEqualTo(Path.of("/pki/broker.pem"));
        assertThat(decide(Map.of("spillway.tls.enabled", "true", "spillway.tls.cert-file", "/pki/broker.pem",
                "spillway.tls.key-file", "/pki/broker-key.pem", "spillway.tls.ca-file", "/pki/root.pem")).caFile()).isEqualTo(Path.of("/pki/root.pem"));
        assertThatThrownBy(() -> decide(Map.of("spillway.tls.enabled", "true", "spillway.tls.cert-file", "/pki/broker.pem")))
                .hasMessageContaining("spillway.tls.key-file");
    }
}
