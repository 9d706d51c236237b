package dev.spillway.broker.store;

import io.quarkus.credentials.CredentialsProvider;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Named;
import java.util.HashMap;
import java.util.Map;
import org.eclipse.microprofile.config.ConfigProvider;

/**
 * The datasource credentials ({@code quarkus.datasource.credentials-provider}), asked for at each new connection, JDBC
 * (Flyway) and reactive alike: {@code quarkus.datasource.username} and {@code .password} as configured (directly or
 * through {@code SPILLWAY_DATABASE_URL}), which for the embedded PostgreSQL {@link DatabaseConfigSource} answers with its
 * superuser and the password from {@code <data-dir>/db-password}. A provider is needed because Quarkus reads the
 * datasource's password only from names a config source lists, and the embedded password must not be listed: the
 * build would then read it and keep it in the application as a default.
 */
@ApplicationScoped
@Named(DatabaseCredentials.NAME)
public class DatabaseCredentials implements CredentialsProvider {

    /** The name {@code application.properties} refers to this provider by. */
    public static final String NAME = "spillway-database";

    @Override
    public Map<String, String> getCredentials(String credentialsProviderName) {
        var config = ConfigProvider.getConfig();
        Map<String, String> credentials = new HashMap<>();
        config.getOptionalValue("quarkus.datasource.username", String.class).ifPresent(u -> credentials.put(USER_PROPERTY_NAME, u));
        config.getOptionalValue("quarkus.datasource.password", String.class).ifPresent(p -> credentials.put(PASSWORD_PROPERTY_NAME, p));
        return credentials;
    }
}
