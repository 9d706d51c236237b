package dev.spillway.broker.api.console;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.security.SecretBox;
import dev.spillway.broker.security.Secrets;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Console sign-ins, kept by the browser and nowhere else: a cookie holding the caller's credential
 * (the API key or access token it signed in with), a CSRF token and an expiry, sealed with the
 * broker's secret key (AES-256-GCM, {@link SecretBox}), so that it can be neither read nor altered
 * off the broker, and any broker of the cluster can open it. The cookie is {@code HttpOnly},
 * {@code SameSite=Strict}, limited to {@code /console} and, under TLS, {@code Secure}.
 *
 * <p>The credential is presented afresh on each call the console makes for the page, so a key
 * revoked or expired ends the session at the next page.
 */
@ApplicationScoped
public class ConsoleSessions {

    /** The session cookie's name. */
    public static final String COOKIE = "spillway_console";
    /** The sign-in form's anti-forgery cookie (double submit: the form carries the same value). */
    public static final String LOGIN_COOKIE = "spillway_console_login";
    private static final String PURPOSE = "console-session";

    /**
     * One sign-in. {@code role}, {@code subject} and {@code tenants} are what WhoAmI said at
     * sign-in, for the page's header and menu; what a page may show is decided by the API on
     * each call, never by them.
     */
    public record Session(String credential, String csrf, Instant expires, String subject, String role, List<String> tenants,
                          boolean allTenants) {

        /** Whether this sign-in's role reads costs and policies (the FinOps pages). */
        public boolean finops() {
            return role.equals("admin") || role.equals("finops");
        }

        /** Whether {@code token} is this session's CSRF token (in constant time). */
        public boolean csrfMatches(String token) {
            return token != null && MessageDigest.isEqual(csrf.getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8));
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper().findAndRegisterModules();

    private final SecretBox box;
    private final Clock clock;
    private final Duration ttl;

    public ConsoleSessions(SecretBox box, Clock clock, BrokerConfig config) {
        this.box = box;
        this.clock = clock;
        this.ttl = config.console().sessionTtl();
    }

    /** A new session for a caller WhoAmI described. */
    public Session start(String credential, String subject, String role, List<String> tenants, boolean allTenants) {
        return new Session(credential, Secrets.random(), clock.instant().plus(ttl), subject, role, List.copyOf(tenants), allTenants);
    }

    /** The cookie value of {@code session}. */
    public String seal(Session session) {
        try {
            return box.sealFor(PURPOSE, JSON.writeValueAsString(session));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a console session", e);
        }
    }

    /** The session a cookie holds; empty when there is none, or it was altered, sealed by another key, or has expired. */
    public Optional<Session> open(String cookie) {
        if (cookie == null || cookie.isEmpty()) return Optional.empty();
        return box.openFor(PURPOSE, cookie).flatMap(json -> {
            try {
                return Optional.of(JSON.readValue(json, Session.class));
            } catch (JsonProcessingException e) {
                return Optional.empty();
            }
        }).filter(s -> s.expires().isAfter(clock.instant()));
    }

    /** How long a session lasts. */
    public Duration ttl() {
        return ttl;
    }
}
