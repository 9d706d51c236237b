package dev.spillway.broker.security;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.core.access.Caller;
import dev.spillway.core.access.Role;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.jboss.logging.Logger;

/**
 * The first administrator of a fresh broker: on start, when {@code <data-dir>/admin-key} is
 * missing or names a key that no longer works, an admin API key is created and written there,
 * readable by its owner only. Whoever can read that file on this machine is the admin; everyone
 * else needs a key or token of their own. Turn off with {@code spillway.auth.bootstrap-admin-key=false}.
 */
@ApplicationScoped
public class AdminKey {

    public static final String FILE = "admin-key";

    /** The operator's admin key ({@code spillway.auth.admin-key-file}): registered if the database does not know it yet. */
    private void registerConfigured(Path file) {
        String secret;
        try {
            secret = Files.readString(file).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the admin key file " + file + " (spillway.auth.admin-key-file)", e);
        }
        boolean registered = keys.registerAdmin(secret, config.auth().bootstrapTenant(), "admin key from " + file.getFileName())
                .await().atMost(Duration.ofSeconds(30));
        if (registered) LOG.infof("registered the admin key of %s (prefix %s)", file, secret.substring(0, ApiKeys.PREFIX.length() + 4));
    }
    private static final Logger LOG = Logger.getLogger(AdminKey.class);
    private static final Caller BROKER = Caller.of("system", Role.ADMIN, "default");

    private final BrokerConfig config;
    private final ApiKeys keys;

    public AdminKey(BrokerConfig config, ApiKeys keys) {
        this.config = config;
        this.keys = keys;
    }

    void onStart(@Observes StartupEvent start) {
        if (config.auth().adminKeyFile().isPresent()) {
            registerConfigured(Path.of(config.auth().adminKeyFile().get()));
            return;
        }
        if (!config.auth().bootstrapAdminKey()) return;
        Path file = Path.of(config.dataDir(), FILE);
        try {
            if (Files.exists(file)) {
                String secret = Files.readString(file).trim();
                boolean works = keys.authenticate(secret).map(c -> c.role() == Role.ADMIN)
                        .onFailure().recoverWithItem(false).await().atMost(Duration.ofSeconds(30));
                if (works) return;
                LOG.warnf("%s names no working admin key (revoked, expired, or another database); writing a new one", file);
            }
            ApiKeys.Created created = keys.create(BROKER, config.auth().bootstrapTenant(), Role.ADMIN.label(), null, "bootstrap admin", null)
                    .await().atMost(Duration.ofSeconds(30));
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), FILE, ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tmp, created.secret() + "\n");
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            LOG.infof("created admin API key %s in %s (readable by its owner only)", created.key().id(), file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the admin key file " + file, e);
        }
    }
}
