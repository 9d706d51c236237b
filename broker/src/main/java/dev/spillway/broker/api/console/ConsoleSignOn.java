package dev.spillway.broker.api.console;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.security.SecretBox;
import dev.spillway.broker.security.Secrets;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * Console sign-in with the enterprise's identity provider: the OAuth 2.0 authorization code flow
 * with PKCE (RFC 7636). The browser is sent to the provider with a random {@code state} and the
 * S256 challenge of a random verifier, both kept in a short-lived cookie sealed by the broker;
 * the provider sends it back with a code, which the broker exchanges (with the verifier, and the
 * client secret of a confidential client) for an access token. That token becomes the session's
 * credential: the API checks it on every page as any access token.
 *
 * <p>The provider's endpoints come from configuration or its discovery document, read over HTTPS
 * trusting {@code spillway.auth.oidc.jwks-ca-file} when set (the provider's private CA).
 */
@ApplicationScoped
public class ConsoleSignOn {

    private static final Logger LOG = Logger.getLogger(ConsoleSignOn.class);
    private static final ObjectMapper JSON = new ObjectMapper().findAndRegisterModules();
    /** The cookie holding a sign-in on its way through the provider. */
    static final String COOKIE = "spillway_console_sso";
    static final Duration PENDING_FOR = Duration.ofMinutes(10);
    private static final String PURPOSE = "console-sso";

    /** A sign-in sent to the provider, waiting for its answer. */
    record Pending(String state, String verifier, String next, String redirectUri, Instant expires) {
    }

    /** Where to send the browser, and the cookie that remembers why. */
    record Start(URI authorize, String cookie) {
    }

    /** The provider refused, or could not be asked; {@code getMessage} is for the user (no secret in it). */
    static final class SignOnFailed extends Exception {
        SignOnFailed(String message) {
            super(message);
        }
    }

    private final BrokerConfig.Auth.Oidc provider;
    private final BrokerConfig.Console.Oidc client;
    private final SecretBox box;
    private final Clock clock;
    private volatile HttpClient http;
    private volatile Map<String, String> endpoints;

    public ConsoleSignOn(BrokerConfig config, SecretBox box, Clock clock) {
        this.provider = config.auth().oidc();
        this.client = config.console().oidc();
        this.box = box;
        this.clock = clock;
        if (client.clientId().isPresent() && provider.issuer().isEmpty()) {
            throw new IllegalStateException("spillway.console.oidc.client-id needs spillway.auth.oidc.issuer (and audience)");
        }
    }

    /** Whether the console offers single sign-on. */
    public boolean enabled() {
        return provider.issuer().isPresent() && client.clientId().isPresent();
    }

    /** Starts a sign-in that comes back to {@code redirectUri} (unless configured) and then goes to {@code next}. */
    Start begin(String next, String redirectUri) throws SignOnFailed {
        String redirect = client.redirectUri().orElse(redirectUri);
        Pending pending = new Pending(Secrets.random(), Secrets.random() + Secrets.random(), next, redirect, clock.instant().plus(PENDING_FOR));
        Map<String, String> query = new LinkedHashMap<>();
        query.put("response_type", "code");
        query.put("client_id", client.clientId().orElseThrow());
        query.put("redirect_uri", redirect);
        query.put("scope", String.join(" ", client.scopes()));
        query.put("state", pending.state());
        query.put("code_challenge", challenge(pending.verifier()));
        query.put("code_challenge_method", "S256");
        String authorize = endpoint("authorization_endpoint", client.authorizationUrl());
        URI to = URI.create(authorize + (authorize.contains("?") ? "&" : "?") + form(query));
        try {
            return new Start(to, box.sealFor(PURPOSE, JSON.writeValueAsString(pending)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The sign-in a cookie remembers, if it is one of this broker's and not stale. */
    Optional<Pending> pending(String cookie) {
        if (cookie == null) return Optional.empty();
        return box.openFor(PURPOSE, cookie).flatMap(json -> {
            try {
                return Optional.of(JSON.readValue(json, Pending.class));
            } catch (JsonProcessingException e) {
                return Optional.empty();
            }
        }).filter(p -> p.expires().isAfter(clock.instant()));
    }

    /** Whether the provider's {@code state} is the one this sign-in sent (constant time). */
    static boolean sameState(Pending pending, String state) {
        return state != null && MessageDigest.isEqual(pending.state().getBytes(StandardCharsets.UTF_8), state.getBytes(StandardCharsets.UTF_8));
    }

    /** The access token the provider gives for {@code code}. */
    String exchange(Pending pending, String code) throws SignOnFailed {
        Map<String, String> body = new LinkedHashMap<>();
        body.put("grant_type", "authorization_code");
        body.put("code", code);
        body.put("redirect_uri", pending.redirectUri());
        body.put("client_id", client.clientId().orElseThrow());
        body.put("code_verifier", pending.verifier());
        client.clientSecretFile().ifPresent(file -> body.put("client_secret", secret(file)));
        String url = endpoint("token_endpoint", client.tokenUrl());
        try {
            HttpResponse<String> answer = http().send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(15))
                    .header("Content-Type", "application/x-www-form-urlencoded").header("Accept", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(form(body))).build(), HttpResponse.BodyHandlers.ofString());
            JsonNode json = JSON.readTree(answer.body());
            if (answer.statusCode() != 200) {
                String error = json.path("error").asText("HTTP " + answer.statusCode());
                LOG.infof("the identity provider refused a console sign-in's code: %s", error);
                throw new SignOnFailed("The identity provider refused the sign-in (" + error + "). Please try again.");
            }
            String token = json.path("access_token").asText("");
            if (token.isEmpty()) throw new SignOnFailed("The identity provider gave no access token.");
            return token;
        } catch (IOException e) {
            LOG.warnf("cannot reach the identity provider's token endpoint %s: %s", url, e.getMessage());
            throw new SignOnFailed("The identity provider cannot be reached now. Please try again.");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SignOnFailed("Interrupted.");
        }
    }

    private String endpoint(String name, Optional<String> configured) throws SignOnFailed {
        if (configured.isPresent()) return configured.get();
        Map<String, String> known = endpoints;
        if (known == null) {
            String url = provider.issuer().orElseThrow().replaceAll("/+$", "") + "/.well-known/openid-configuration";
            try {
                HttpResponse<String> answer = http().send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                        HttpResponse.BodyHandlers.ofString());
                JsonNode json = JSON.readTree(answer.body());
                Map<String, String> read = new LinkedHashMap<>();
                json.fields().forEachRemaining(f -> read.put(f.getKey(), f.getValue().asText()));
                endpoints = known = read;
            } catch (IOException e) {
                LOG.warnf("cannot read the identity provider's configuration at %s: %s", url, e.getMessage());
                throw new SignOnFailed("The identity provider cannot be reached now. Please try again.");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SignOnFailed("Interrupted.");
            }
        }
        String value = known.get(name);
        if (value == null || value.isEmpty()) throw new SignOnFailed("The identity provider's configuration names no " + name + ".");
        return value;
    }

    private HttpClient http() {
        HttpClient c = http;
        if (c != null) return c;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
        provider.jwksCaFile().ifPresent(file -> b.sslContext(dev.spillway.client.TrustedCas.in(Path.of(file), "spillway.auth.oidc.jwks-ca-file")));
        http = c = b.build();
        return c;
    }

    private static String secret(String file) {
        try {
            return Files.readString(Path.of(file)).trim();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read spillway.console.oidc.client-secret-file " + file, e);
        }
    }

    /** The S256 challenge of a PKCE verifier. */
    static String challenge(String verifier) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(verifier.getBytes(StandardCharsets.US_ASCII));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String form(Map<String, String> values) {
        return values.entrySet().stream().map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "="
                + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8)).collect(Collectors.joining("&"));
    }
}
