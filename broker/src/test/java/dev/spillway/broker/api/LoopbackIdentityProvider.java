package dev.spillway.broker.api;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.jose4j.jwk.JsonWebKey;
import org.jose4j.jwk.JsonWebKeySet;
import org.jose4j.jwk.RsaJsonWebKey;
import org.jose4j.jwk.RsaJwkGenerator;
import org.jose4j.jws.AlgorithmIdentifiers;
import org.jose4j.jws.JsonWebSignature;
import org.jose4j.jwt.JwtClaims;
import org.jose4j.lang.JoseException;

/**
 * An identity provider on loopback for the broker tests: its signing key set (JWKS) is served
 * over HTTPS by a certificate of its own, which the broker is told to trust, as an enterprise's
 * provider with a private CA would be. {@link #token} mints access tokens signed by it.
 *
 * <p>It also signs users in for the console (the authorization code flow with PKCE):
 * {@code /authorize} signs in {@link #nextUser} at once and sends the browser back with a code;
 * {@code /token} gives an access token for a code once, only to the console's client with its
 * secret, the same redirect URI and the verifier of the challenge it was sent.
 */
public class LoopbackIdentityProvider implements QuarkusTestResourceLifecycleManager {

    static final String ISSUER = "https://idp.spillway.test";
    static final String AUDIENCE = "spillway";
    static final AtomicInteger JWKS_FETCHES = new AtomicInteger();
    private static RsaJsonWebKey signing;
    private static RsaJsonWebKey impostor;

    static final String CLIENT_ID = "spillway-console";
    static final String CLIENT_SECRET = "console-secret-" + java.util.UUID.randomUUID();
    /** Who {@code /authorize} signs in next: subject, tenants and role claims. */
    static volatile JwtClaims nextUser;
    /** Codes given out and not yet spent. */
    private static final Map<String, Map<String, String>> CODES = new java.util.concurrent.ConcurrentHashMap<>();
    static final AtomicInteger TOKEN_REQUESTS = new AtomicInteger();

    private HttpsServer server;
    private Path dir;

    @Override
    public Map<String, String> start() {
        try {
            signing = RsaJwkGenerator.generateJwk(2048);
            signing.setKeyId("k1");
            impostor = RsaJwkGenerator.generateJwk(2048);
            impostor.setKeyId("k1"); // same key id, different key: a forged signature
            dir = Files.createTempDirectory("spillway-idp");
            Path keystore = dir.resolve("idp.p12");
            Path ca = dir.resolve("idp-ca.pem");
            keytool("-genkeypair", "-alias", "idp", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=localhost",
                    "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-keystore", keystore.toString(),
                    "-storetype", "PKCS12", "-storepass", "changeit", "-keypass", "changeit");
            keytool("-exportcert", "-rfc", "-alias", "idp", "-keystore", keystore.toString(), "-storepass", "changeit", "-file", ca.toString());

            KeyStore ks = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(keystore)) {
                ks.load(in, "changeit".toCharArray());
            }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, "changeit".toCharArray());
            SSLContext tls = SSLContext.getInstance("TLS");
            tls.init(kmf.getKeyManagers(), null, null);
            server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
            server.setHttpsConfigurator(new HttpsConfigurator(tls));
            byte[] jwks = new JsonWebKeySet(signing).toJson(JsonWebKey.OutputControlLevel.PUBLIC_ONLY).getBytes(StandardCharsets.UTF_8);
            server.createContext("/jwks", exchange -> {
                JWKS_FETCHES.incrementAndGet();
                exchange.getResponseHeaders().add("Content-Type", "application/json");
                exchange.sendResponseHeaders(200, jwks.length);
                exchange.getResponseBody().write(jwks);
                exchange.close();
            });
            server.createContext("/authorize", LoopbackIdentityProvider::authorize);
            server.createContext("/token", LoopbackIdentityProvider::exchange);
            server.start();
            Path secret = dir.resolve("client-secret");
            Files.writeString(secret, CLIENT_SECRET);
            String base = "https://127.0.0.1:" + server.getAddress().getPort();
            return Map.of(
                    "spillway.auth.oidc.issuer", ISSUER,
                    "spillway.auth.oidc.audience", AUDIENCE,
                    "spillway.auth.oidc.jwks-url", base + "/jwks",
                    "spillway.auth.oidc.jwks-ca-file", ca.toString(),
                    "spillway.console.oidc.client-id", CLIENT_ID,
                    "spillway.console.oidc.client-secret-file", secret.toString(),
                    "spillway.console.oidc.authorization-url", base + "/authorize",
                    "spillway.console.oidc.token-url", base + "/token");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (Exception e) {
            throw new IllegalStateException("cannot start the loopback identity provider", e);
        }
    }

    @Override
    public void stop() {
        if (server != null) server.stop(0);
    }

    private static void keytool(String... args) throws IOException, InterruptedException {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException("keytool failed: " + output);
    }

    private static void authorize(com.sun.net.httpserver.HttpExchange exchange) throws IOException {
        Map<String, String> q = query(exchange.getRequestURI().getRawQuery());
        String code = java.util.UUID.randomUUID().toString();
        Map<String, String> grant = new java.util.HashMap<>(q);
        grant.put("token", token(nextUser));
        CODES.put(code, grant);
        String back = q.get("redirect_uri") + "?code=" + code + "&state=" + java.net.URLEncoder.encode(q.get("state"), StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Location", back);
        exchange.sendResponseHeaders(302, -1);
        exchange.close();
    }

    private static void exchange(com.sun.net.httpserver.HttpExchange exchange) throws IOException {
        TOKEN_REQUESTS.incrementAndGet();
        Map<String, String> form = query(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
        Map<String, String> grant = CODES.remove(form.getOrDefault("code", ""));
        String error = null;
        if (grant == null) error = "invalid_grant";
        else if (!CLIENT_ID.equals(form.get("client_id")) || !CLIENT_SECRET.equals(form.get("client_secret"))) error = "invalid_client";
        else if (!grant.get("redirect_uri").equals(form.get("redirect_uri"))) error = "invalid_grant";
        else if (!grant.get("code_challenge").equals(challenge(form.getOrDefault("code_verifier", "")))) error = "invalid_grant";
        byte[] body = (error != null ? "{\"error\":\"" + error + "\"}"
                : "{\"access_token\":\"" + grant.get("token") + "\",\"token_type\":\"Bearer\",\"expires_in\":300}").getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(error != null ? 400 : 200, body.length);
        exchange.getResponseBody().write(body);
        exchange.close();
    }

    private static String challenge(String verifier) {
        try {
            return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(
                    java.security.MessageDigest.getInstance("SHA-256").digest(verifier.getBytes(StandardCharsets.US_ASCII)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new java.util.HashMap<>();
        if (raw == null || raw.isEmpty()) return out;
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq < 0) continue;
            out.put(java.net.URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8), java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return out;
    }

    /** Claims a well-formed access token carries: subject, issuer, audience, an expiry 5 minutes out. */
    static JwtClaims claims(String subject, Object tenants, String role) {
        JwtClaims c = new JwtClaims();
        c.setIssuer(ISSUER);
        c.setAudience(AUDIENCE);
        c.setSubject(subject);
        c.setExpirationTimeMinutesInTheFuture(5);
        c.setIssuedAtToNow();
        if (tenants != null) c.setClaim("spillway_tenants", tenants);
        if (role != null) c.setClaim("spillway_role", role);
        return c;
    }

    static String token(JwtClaims claims) {
        return sign(claims, signing);
    }

    /** Signed by a key the provider never published, under the published key's id. */
    static String forged(JwtClaims claims) {
        return sign(claims, impostor);
    }

    private static String sign(JwtClaims claims, RsaJsonWebKey key) {
        JsonWebSignature jws = new JsonWebSignature();
        jws.setPayload(claims.toJson());
        jws.setKey(key.getPrivateKey());
        jws.setKeyIdHeaderValue(key.getKeyId());
        jws.setAlgorithmHeaderValue(AlgorithmIdentifiers.RSA_USING_SHA256);
        try {
            return jws.getCompactSerialization();
        } catch (JoseException e) {
            throw new IllegalStateException(e);
        }
    }
}
