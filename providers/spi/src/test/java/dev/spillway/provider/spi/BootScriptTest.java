package dev.spillway.provider.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The boot script: its download-and-verify part run for real (bash, curl and sha256sum against a
 * loopback HTTPS server that, like the broker, serves the jar only to a bearer of the join token),
 * and the rest read back.
 */
class BootScriptTest {

    private static final String TOKEN = "join.boot-script-token";
    private static final AgentBootstrap BOOTSTRAP = new AgentBootstrap("broker.example.com:7070", TOKEN, "aws-eu-1", "aws-eu",
            Map.of("spillway.dev/zone", "eu-central-1a"));

    @TempDir
    static Path certs;
    private static KeytoolCa ca;
    private static KeytoolCa otherCa;

    @TempDir
    Path dir;
    private HttpsServer server;
    private final AtomicReference<byte[]> served = new AtomicReference<>();
    private final List<String> authorizations = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void certificates() throws Exception {
        ca = KeytoolCa.create(certs.resolve("ca"), "spillway-test-ca");
        otherCa = KeytoolCa.create(certs.resolve("other"), "someone-else");
    }

    @BeforeEach
    void serveTheJar() throws Exception {
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(ca.serverContext()));
        server.createContext("/agent/spillway-agent.jar", exchange -> {
            String auth = exchange.getRequestHeaders().getFirst("Authorization");
            authorizations.add(String.valueOf(auth));
            if (!("Bearer " + TOKEN).equals(auth)) {
                exchange.sendResponseHeaders(401, -1);
            } else {
                byte[] body = served.get();
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
            }
            exchange.close();
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private String url() {
        return "https://127.0.0.1:" + server.getAddress().getPort() + "/agent/spillway-agent.jar";
    }

    private BootScript.Layout layout() {
        return new BootScript.Layout(dir.resolve("etc").toString(), dir.resolve("opt").toString());
    }

    private Result runDownload(AgentDownload agent) throws Exception {
        String script = BootScript.render(BOOTSTRAP, agent, "aws", EnumSet.of(BootScript.Step.CONFIG, BootScript.Step.AGENT_JAR), layout());
        Path file = dir.resolve("boot.sh");
        Files.writeString(file, script);
        Process p = new ProcessBuilder("bash", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), out, dir.resolve("opt/spillway-agent.jar"));
    }

    private record Result(int exit, String output, Path jar) {
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    @Test
    void theRightJarIsDownloadedOverHttpsWithTheJoinTokenAndKept() throws Exception {
        byte[] jar = "the real agent jar".getBytes(StandardCharsets.UTF_8);
        served.set(jar);

        Result r = runDownload(AgentDownload.trusting(url(), sha256(jar), ca.caPem()));

        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(Files.readAllBytes(r.jar())).isEqualTo(jar);
        assertThat(authorizations).containsExactly("Bearer " + TOKEN);
        assertThat(Files.readString(dir.resolve("etc/ca.pem")).strip()).isEqualTo(ca.caPem().strip());
        assertThat(Files.getPosixFilePermissions(dir.resolve("etc/agent.env")).toString()).isEqualTo("[OWNER_READ, OWNER_WRITE]");
    }

    @Test
    void aTamperedJarIsRefusedWithAClearMessageAndRemoved() throws Exception {
        byte[] announced = "the real agent jar".getBytes(StandardCharsets.UTF_8);
        byte[] tampered = "the real agent jar, with a backdoor".getBytes(StandardCharsets.UTF_8);
        served.set(tampered);

        Result r = runDownload(AgentDownload.trusting(url(), sha256(announced), ca.caPem()));

        assertThat(r.exit()).isNotZero();
        assertThat(r.output()).contains("has SHA-256 " + sha256(tampered) + ", not " + sha256(announced))
                .contains("refusing to start it");
        assertThat(r.jar()).doesNotExist();
        assertThat(dir.resolve("opt/spillway-agent.jar.download")).doesNotExist();
    }

    @Test
    void aServerSignedByAnotherCaIsNotTrustedAndNothingIsKept() throws Exception {
        byte[] jar = "the real agent jar".getBytes(StandardCharsets.UTF_8);
        served.set(jar);

        Result r = runDownload(AgentDownload.trusting(url(), sha256(jar), otherCa.caPem()));

        assertThat(r.exit()).isNotZero();
        assertThat(r.output()).contains("cannot download the agent jar from " + url());
        assertThat(authorizations).as("the token is never sent to a server the script does not trust").isEmpty();
        assertThat(r.jar()).doesNotExist();
    }

    @Test
    void theTokenNeverAppearsOnACommandLineAndOnlyOnceInTheScript() {
        String script = BootScript.render(BOOTSTRAP, AgentDownload.trusting("https://broker.example.com:7070/agent/spillway-agent.jar",
                "a".repeat(64), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"), "aws");
        assertThat(script.split(TOKEN, -1)).hasSize(2);
        assertThat(script).contains("SPILLWAY_JOIN_TOKEN=" + TOKEN + "\nSPILLWAY_ENV");
    }

    @Test
    void theAgentRunsAsItsOwnUserUnderSystemdTrustingTheCaAndTasksRunAsAnother() {
        String pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";
        String script = BootScript.render(BOOTSTRAP, AgentDownload.trusting("https://broker.example.com:7070/agent/spillway-agent.jar",
                "b".repeat(64), pem), "aws");

        assertThat(script).contains("useradd --system --create-home --home-dir /var/lib/spillway-agent --shell /usr/sbin/nologin spillway-agent")
                .contains("useradd --system --create-home --home-dir /var/lib/spillway-task --shell /usr/sbin/nologin spillway-task")
                .contains("\nUser=spillway-agent\n")
                .contains("\nAmbientCapabilities=CAP_SETUID CAP_SETGID CAP_KILL CAP_CHOWN CAP_FOWNER\n")
                .contains("-jar /opt/spillway/spillway-agent.jar --run-as spillway-task --ca-file /etc/spillway/ca.pem --name aws-eu-1")
                .contains("--proto =https --cacert /etc/spillway/ca.pem")
                .doesNotContain("--insecure");

        BootScript.Parsed parsed = BootScript.parse(script);
        assertThat(parsed.agentUrl()).isEqualTo("https://broker.example.com:7070/agent/spillway-agent.jar");
        assertThat(parsed.agentSha256()).isEqualTo("b".repeat(64));
        assertThat(parsed.caCertificatePem()).contains(pem + "\n");
        assertThat(parsed.runAs()).contains("spillway-task");
        assertThat(parsed.environment()).containsEntry("SPILLWAY_BROKER", "broker.example.com:7070").containsEntry("SPILLWAY_JOIN_TOKEN", TOKEN);
        assertThat(parsed.agentArguments()).containsExactly("--name", "aws-eu-1", "--pool", "aws-eu", "--drain", "hand-back",
                "--spot-watch", "aws", "--label", "spillway.dev/zone=eu-central-1a");
    }

    @Test
    void aPlaintextBrokerIsExplicitTheAgentGetsInsecureAndTheHashIsStillChecked() {
        String script = BootScript.render(BOOTSTRAP, AgentDownload.plaintext("http://broker.example.com:7070/agent/spillway-agent.jar",
                "c".repeat(64)), "azure");
        BootScript.Parsed parsed = BootScript.parse(script);
        assertThat(parsed.agentArguments()).startsWith("--insecure");
        assertThat(parsed.caCertificatePem()).isEmpty();
        assertThat(parsed.agentSha256()).isEqualTo("c".repeat(64));
        assertThat(script).contains("sha256sum -c").doesNotContain("--cacert");
    }

    @Test
    void aTlsBrokerNeverServesTheJarOverHttpAndOnlyCertificatesGoIntoTheScript() {
        assertThatThrownBy(() -> BootScript.render(BOOTSTRAP, AgentDownload.trusting("http://broker.example.com:7070/agent/spillway-agent.jar",
                "d".repeat(64), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"), "aws"))
                .hasMessageContaining("https");
        assertThatThrownBy(() -> AgentDownload.trusting("https://b:1/a.jar", "d".repeat(64),
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n$(reboot)"))
                .hasMessageContaining("PEM certificates only");
        assertThatThrownBy(() -> new AgentDownload("https://b:1/a.jar", "not-a-hash", Optional.empty(), true))
                .hasMessageContaining("SHA-256");
    }
}
