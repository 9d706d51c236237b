package dev.spillway.broker.burst;

import dev.spillway.broker.config.BrokerConfig;
import io.quarkus.runtime.Startup;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * The agent jar this broker hands to cloud instances, fixed at start: the configured jar
 * ({@code spillway.agent-jar}, default the one built under {@code spillway.home}) is copied to
 * {@code <data-dir>/agent/spillway-agent.jar} and hashed once. The copy is what is served, so a jar
 * rebuilt while the broker runs never reaches an instance under the old hash; boot scripts refuse
 * any jar whose SHA-256 is not {@link #sha256()}.
 */
@Startup
@Singleton
public class AgentJar {

    private static final Logger LOG = Logger.getLogger(AgentJar.class);

    private final Optional<Path> file;
    private final Optional<String> sha256;

    public AgentJar(BrokerConfig config) {
        Path source = config.agentJar().map(Path::of)
                .orElseGet(() -> Path.of(config.home().orElse("."), "on-prem-agent", "target", "spillway-agent.jar"));
        if (!Files.isRegularFile(source)) {
            LOG.debugf("no agent jar at %s: cloud pools of kind aws and azure need one (spillway.agent-jar)", source);
            this.file = Optional.empty();
            this.sha256 = Optional.empty();
            return;
        }
        Path served = Path.of(config.dataDir(), "agent", "spillway-agent.jar");
        try {
            Files.createDirectories(served.getParent());
            Path tmp = Files.createTempFile(served.getParent(), "spillway-agent", ".tmp");
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            try (InputStream in = new DigestInputStream(Files.newInputStream(source), digest)) {
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            Files.move(tmp, served, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            this.file = Optional.of(served);
            this.sha256 = Optional.of(HexFormat.of().formatHex(digest.digest()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy the agent jar " + source + " to " + served, e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        LOG.infof("serving the agent jar from %s (SHA-256 %s)", source, sha256.get());
    }

    /** The jar to serve, when this broker has one. */
    public Optional<Path> file() {
        return file;
    }

    /** Lower-case hex SHA-256 of {@link #file()}. */
    public Optional<String> sha256() {
        return sha256;
    }
}
