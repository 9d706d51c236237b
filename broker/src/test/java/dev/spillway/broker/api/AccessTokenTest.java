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
 * tenant or role is UNAUTHENTICATED.
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
}
