package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.spillway.api.v1.AccessServiceGrpc;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.WhoAmIRequest;
import dev.spillway.api.v1.WhoAmIResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.jose4j.jwt.JwtClaims;
import org.jose4j.jwt.NumericDate;
import org.junit.jupiter.api.Test;

/**
 * OIDC access tokens, verified by the broker against the signing keys of an identity provider
 * served over HTTPS on loopback: a good token acts in the tenants and role its claims name; an
 * expired one, another issuer's, another audience's, a forged signature, or one without a
 * tenant or role is UNAUTHENTICATED. The console signs users in through the same provider (the
 * authorization code flow with PKCE), and a callback it did not start, or a code spent already,
 * signs no one in.
 */
@QuarkusTest
@QuarkusTestResource(value = LoopbackIdentityProvider.class, restrictToAnnotatedClass = true)
class AccessTokenTest {

    @TestHTTPResource
    URL url;

    private WhoAmIResponse whoAmI(String token) {
        ManagedChannel channel = TestCallers.channel(url, token);
        try {
            return AccessServiceGrpc.newBlockingStub(channel).whoAmI(WhoAmIRequest.getDefaultInstance());
        } finally {
            channel.shutdownNow();
        }
    }

    private String refusal(String token) {
        var e = catchThrowableOfType(StatusRuntimeException.class, () -> whoAmI(token));
        assertThat(e).as("refused").isNotNull();
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        return e.getStatus().getDescription();
    }

    @Test
    void aValidTokenActsInItsTenantsWithItsRole() throws Exception {
        String token = LoopbackIdentityProvider.token(LoopbackIdentityProvider.claims("alice", List.of("team-x", "team-y"), "submitter"));
        WhoAmIResponse me = whoAmI(token);
        assertThat(me.getSubject()).isEqualTo("oidc:" + LoopbackIdentityProvider.ISSUER + "#alice");
        assertThat(me.getRole()).isEqualTo("submitter");
        assertThat(me.getTenantsList()).containsExactly("team-x", "team-y");

        ManagedChannel channel = TestCallers.channel(url, token);
        try {
            var jobs = JobServiceGrpc.newBlockingStub(channel);
            String id = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(JobApiTest.valid()).build()).getUid();
            assertThat(jobs.getJob(GetJobRequest.newBuilder().setName(id).build()).getSpec().getTenant()).isEqualTo("team-x");
            String second = jobs.submitJob(SubmitJobRequest.newBuilder().setSpec(JobApiTest.valid().toBuilder().setTenant("team-y")).build())
                    .getUid();
            assertThat(jobs.getJob(GetJobRequest.newBuilder().setName(second).build()).getSpec().getTenant()).isEqualTo("team-y");
        } finally {
            channel.shutdownNow();
        }

        HttpResponse<String> rest = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url.toString()).resolve("/api/v1/jobs"))
                .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(rest.statusCode()).isEqualTo(200);
    }

    @Test
    void theKeySetIsFetchedOnceNotPerCall() {
        String first = LoopbackIdentityProvider.token(LoopbackIdentityProvider.claims("bob", "team-x", "viewer"));
        whoAmI(first);
        int fetches = LoopbackIdentityProvider.JWKS_FETCHES.get();
        for (int i = 0; i < 5; i++) {
            whoAmI(LoopbackIdentityProvider.token(LoopbackIdentityProvider.claims("bob-" + i, "team-x", "viewer")));
        }
        assertThat(LoopbackIdentityProvider.JWKS_FETCHES.get()).isEqualTo(fetches);
    }

    @Test
    void anExpiredTokenIsRefused() {
        JwtClaims claims = LoopbackIdentityProvider.claims("carol", "team-x", "viewer");
        claims.setExpirationTime(NumericDate.fromSeconds(NumericDate.now().getValue() - 120));
        assertThat(refusal(LoopbackIdentityProvider.token(claims))).contains("expired");
    }

    @Test
    void anotherIssuersTokenIsRefused() {
        JwtClaims claims = LoopbackIdentityProvider.claims("dave", "team-x", "viewer");
        claims.setIssuer("https://elsewhere.test");
        assertThat(refusal(LoopbackIdentityProvider.token(claims))).contains("wrong issuer");
    }

    @Test
    void anotherAudiencesTokenIsRefused() {
        JwtClaims claims = LoopbackIdentityProvider.claims("erin", "team-x", "viewer");
        claims.setAudience("some-other-api");
        assertThat(refusal(LoopbackIdentityProvider.token(claims))).contains("wrong audience");
    }

    @Test
    void aForgedSignatureIsRefused() {
        assertThat(refusal(LoopbackIdentityProvider.forged(LoopbackIdentityProvider.claims("mallory", "team-x", "admin"))))
                .contains("bad signature");
    }

    @Test
    void aTokenWithoutTenantOrRoleIsRefused() {
        assertThat(refusal(LoopbackIdentityProvider.token(LoopbackIdentityProvider.claims("frank", null, "viewer")))).contains("no tenant");
        assertThat(refusal(LoopbackIdentityProvider.token(LoopbackIdentityProvider.claims("frank", "team-x", null)))).contains("names no role");
        assertThat(refusal(LoopbackIdentityProvider.token(LoopbackIdentityProvider.claims("frank", "team-x", "superuser"))))
                .contains("names no role");
    }

    @Test
    void garbageThatLooksLikeATokenIsRefused() {
        assertThat(refusal("abc.def.ghi")).contains("refused");
    }

    // ---- the console's single sign-on ----

    private final HttpClient browser = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).sslContext(idpTrust()).build();

    /** A browser trusting the provider's CA, as the enterprise's browsers do. */
    private static javax.net.ssl.SSLContext idpTrust() {
        try (var in = java.nio.file.Files.newInputStream(java.nio.file.Path.of(
                org.eclipse.microprofile.config.ConfigProvider.getConfig().getValue("spillway.auth.oidc.jwks-ca-file", String.class)))) {
            java.security.KeyStore trust = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType());
            trust.load(null, null);
            trust.setCertificateEntry("idp", java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in));
            var tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private HttpResponse<String> visit(String to, String cookie) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(to.startsWith("http") ? to : "http://" + url.getHost() + ":" + url.getPort() + to));
        if (cookie != null) b.header("Cookie", cookie);
        return browser.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String cookie(HttpResponse<?> r, String name) {
        String set = r.headers().allValues("Set-Cookie").stream().filter(c -> c.startsWith(name + "=")).findFirst().orElseThrow(
                () -> new AssertionError("no cookie " + name + " in " + r.headers().map()));
        return set.substring(0, set.indexOf(';'));
    }

    /** Starts a console sign-in and follows the provider back to the callback; the callback's address and the sign-in's cookie. */
    private String[] throughTheProvider(String next) throws Exception {
        HttpResponse<String> start = visit("/console/login/oidc?next=" + java.net.URLEncoder.encode(next, java.nio.charset.StandardCharsets.UTF_8), null);
        assertThat(start.statusCode()).isEqualTo(303);
        String authorize = start.headers().firstValue("Location").orElseThrow();
        assertThat(authorize).contains("code_challenge_method=S256").contains("client_id=" + LoopbackIdentityProvider.CLIENT_ID).contains("state=");
        assertThat(start.headers().allValues("Set-Cookie")).anySatisfy(c -> assertThat(c).startsWith("spillway_console_sso=").contains("SameSite=Lax"));
        HttpResponse<String> provider = visit(authorize, null);
        assertThat(provider.statusCode()).isEqualTo(302);
        return new String[] {provider.headers().firstValue("Location").orElseThrow(), cookie(start, "spillway_console_sso")};
    }

    @Test
    void theConsoleSignsInThroughTheIdentityProvider() throws Exception {
        assertThat(visit("/console/login", null).body()).contains("id=\"sso\"");
        LoopbackIdentityProvider.nextUser = LoopbackIdentityProvider.claims("frank", List.of("team-sso"), "viewer");

        String[] back = throughTheProvider("/console/jobs");
        HttpResponse<String> callback = visit(back[0], back[1]);

        assertThat(callback.statusCode()).as(callback.body()).isEqualTo(200);
        assertThat(callback.body()).contains("http-equiv=\"refresh\" content=\"0;url=/console/jobs\"");
        String session = cookie(callback, "spillway_console");
        HttpResponse<String> jobs = visit("/console/jobs", session);
        assertThat(jobs.statusCode()).isEqualTo(200);
        assertThat(jobs.body()).contains("oidc:" + LoopbackIdentityProvider.ISSUER + "#frank").contains("team-sso").contains("viewer");
    }

    @Test
    void aCallbackTheConsoleDidNotStartOrACodeSpentAlreadySignsNoOneIn() throws Exception {
        LoopbackIdentityProvider.nextUser = LoopbackIdentityProvider.claims("grace", List.of("team-sso"), "viewer");
        String[] back = throughTheProvider("/console/");

        // Without the sign-in's cookie (another browser), or with another state: refused before the code is used.
        int exchanges = LoopbackIdentityProvider.TOKEN_REQUESTS.get();
        HttpResponse<String> foreign = visit(back[0], null);
        assertThat(foreign.statusCode()).isEqualTo(403);
        assertThat(foreign.headers().allValues("Set-Cookie")).noneMatch(c -> c.startsWith("spillway_console="));
        assertThat(visit(back[0].replaceAll("state=[^&]+", "state=forged"), back[1]).statusCode()).isEqualTo(403);
        assertThat(LoopbackIdentityProvider.TOKEN_REQUESTS.get()).isEqualTo(exchanges);

        assertThat(visit(back[0], back[1]).statusCode()).isEqualTo(200);
        // The same code again: the provider refuses it, and no session comes of it.
        HttpResponse<String> replay = visit(back[0], back[1]);
        assertThat(replay.statusCode()).isEqualTo(401);
        assertThat(replay.body()).contains("refused the sign-in");
        assertThat(replay.headers().allValues("Set-Cookie")).noneMatch(c -> c.startsWith("spillway_console=sealed"));
    }
}
