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
 */
public class LoopbackIdentityProvider implements QuarkusTestResourceLifecycleManager {

    static final String ISSUER = "https://idp.spillway.test";
    static final String AUDIENCE = "spillway";
    static final AtomicInteger JWKS_FETCHES = new AtomicInteger();
    private static RsaJsonWebKey signing;
    private static RsaJsonWebKey impostor;

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
            server.start();
            return Map.of(
                    "spillway.auth.oidc.issuer", ISSUER,
                    "spillway.auth.oidc.audience", AUDIENCE,
                    "spillway.auth.oidc.jwks-url", "https://127.0.0.1:" + server.getAddress().getPort() + "/jwks",
                    "spillway.auth.oidc.jwks-ca-file", ca.toString());
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
