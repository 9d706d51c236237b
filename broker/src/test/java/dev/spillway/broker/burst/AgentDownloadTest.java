package dev.spillway.broker.burst;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.tls.BrokerCertificates;
import dev.spillway.broker.tls.BrokerTransport;
import dev.spillway.provider.spi.AgentDownload;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What cloud boot scripts are told to fetch and trust: the jar the broker hashed at start, over https with its CA when it has TLS. */
class AgentDownloadTest {

    @TempDir
    Path dir;

    private static final byte[] JAR = "agent jar bytes".getBytes();

    private BrokerConfig config(Optional<String> jar) {
        return proxy(BrokerConfig.class, Map.of("agentJar", jar, "home", Optional.empty(), "dataDir", dir.resolve("data").toString(),
                "advertisedAddress", Optional.of("broker.example.com:7070")));
    }

    private static BrokerConfig.PoolSettings pool(Optional<String> agentUrl) {
        return proxy(BrokerConfig.PoolSettings.class, Map.of("kind", "aws", "agentUrl", agentUrl));
    }

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    @Test
    void theJarIsCopiedAndHashedOnceAtStartSoARebuildNeverReachesAnInstanceUnderTheOldHash() throws Exception {
        Path built = Files.write(dir.resolve("spillway-agent.jar"), JAR);
        AgentJar jar = new AgentJar(config(Optional.of(built.toString())));

        Files.write(built, "rebuilt while the broker runs".getBytes());

        assertThat(jar.sha256()).contains(sha256(JAR));
        assertThat(jar.file()).contains(dir.resolve("data/agent/spillway-agent.jar"));
        assertThat(Files.readAllBytes(jar.file().get())).isEqualTo(JAR);
    }

    @Test
    void withTlsInstancesDownloadOverHttpsFromTheBrokerTrustingItsCa() throws Exception {
        Path built = Files.write(dir.resolve("spillway-agent.jar"), JAR);
        BrokerConfig config = config(Optional.of(built.toString()));
        BrokerTransport tls = BrokerTransport.decide(n -> Optional.ofNullable(Map.of("spillway.tls.enabled", "true").get(n)), dir.resolve("data"));
        new BrokerCertificates(tls.caFile().getParent(), Clock.systemUTC()).ensure(List.of("broker.example.com"));

        AgentDownload d = CloudPools.agentDownload("aws-eu", pool(Optional.empty()), config, new AgentJar(config), tls);

        assertThat(d.url()).isEqualTo("https://broker.example.com:7070/agent/spillway-agent.jar");
        assertThat(d.sha256()).isEqualTo(sha256(JAR));
        assertThat(d.brokerCaPem()).contains(Files.readString(tls.caFile()).strip());
        assertThat(d.fromBroker()).isTrue();
    }

    @Test
    void inPlaintextTheScriptSaysSoAndAnArtifactStoreGetsNoToken() throws Exception {
        Path built = Files.write(dir.resolve("spillway-agent.jar"), JAR);
        BrokerConfig config = config(Optional.of(built.toString()));
        BrokerTransport plain = BrokerTransport.decide(n -> n.equals("spillway.insecure") ? Optional.of("true") : Optional.empty(), dir.resolve("data"));

        AgentDownload own = CloudPools.agentDownload("aws-eu", pool(Optional.empty()), config, new AgentJar(config), plain);
        assertThat(own.url()).isEqualTo("http://broker.example.com:7070/agent/spillway-agent.jar");
        assertThat(own.brokerCaPem()).isEmpty();

        AgentDownload store = CloudPools.agentDownload("aws-eu", pool(Optional.of("https://artifacts.example.com/spillway-agent.jar")), config,
                new AgentJar(config), plain);
        assertThat(store.fromBroker()).isFalse();
        assertThat(store.sha256()).isEqualTo(sha256(JAR));
    }

    @Test
    void aCloudPoolOnABrokerWithoutAnAgentJarIsRefusedNamingTheSetting() {
        BrokerConfig config = config(Optional.of(dir.resolve("nothing-here.jar").toString()));
        assertThatThrownBy(() -> CloudPools.agentDownload("aws-eu", pool(Optional.empty()), config, new AgentJar(config),
                BrokerTransport.decide(n -> Optional.empty(), dir)))
                .hasMessageContaining("pool aws-eu").hasMessageContaining("spillway.agent-jar");
    }

    @SuppressWarnings("unchecked")
    private static <T> T proxy(Class<T> type, Map<String, Object> answers) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (p, m, args) -> {
            if (!answers.containsKey(m.getName())) throw new AssertionError("unexpected call " + m.getName());
            return answers.get(m.getName());
        });
    }
}
