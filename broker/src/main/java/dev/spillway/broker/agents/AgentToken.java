package dev.spillway.broker.agents;

import dev.spillway.broker.config.BrokerConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import org.jboss.logging.Logger;

/**
 * The cluster-wide shared agent token: a lab opt-in ({@code spillway.agents.shared-token=true}),
 * off by default, when agents join with one-time join tokens and then their node credentials.
 * Taken from {@code spillway.agents.token} or the file {@code <data-dir>/agent-token} (created
 * readable by its owner only). Never logged, never stored in the database.
 */
@ApplicationScoped
@io.quarkus.runtime.Startup // the token file must exist before the first agent starts; the warning belongs to the start
public class AgentToken {

    private static final Logger LOG = Logger.getLogger(AgentToken.class);

    /** Null when the shared token is off: then nothing matches it. */
    private final byte[] token;

    public AgentToken(BrokerConfig config) {
        if (!config.agents().sharedToken()) {
            this.token = null;
            return;
        }
        this.token = config.agents().token()
                .orElseGet(() -> readOrCreate(Path.of(config.dataDir(), "agent-token")))
                .getBytes(StandardCharsets.UTF_8);
        LOG.warn("the shared agent token is on (spillway.agents.shared-token=true): anyone holding it can register nodes in on-prem "
                + "pools under any name without a credential of its own; for labs only. Agents should join with one-time join "
                + "tokens (spillway token create) instead");
    }

    /** Whether the shared token is on. */
    public boolean enabled() {
        return token != null;
    }

    /** Constant-time comparison with the presented token; false whenever the shared token is off. */
    public boolean matches(String presented) {
        return token != null && presented != null && MessageDigest.isEqual(token, presented.getBytes(StandardCharsets.UTF_8));
    }

    /** The secret in {@code file}, created (owner-only, atomically) with a random value when missing. */
    public static String readOrCreate(Path file) {
        try {
            if (Files.exists(file)) return Files.readString(file).trim();
            Files.createDirectories(file.getParent());
            byte[] random = new byte[32];
            new SecureRandom().nextBytes(random);
            String value = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
            Path tmp = Files.createTempFile(file.getParent(), "agent-token", ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tmp, value + "\n");
            Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return value;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the agent token file " + file, e);
        }
    }
}
