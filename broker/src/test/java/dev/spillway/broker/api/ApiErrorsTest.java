package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import dev.spillway.api.v1.ErrorReason;
import dev.spillway.broker.errors.AlreadyExists;
import dev.spillway.broker.errors.FailedPrecondition;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.errors.PermissionDenied;
import dev.spillway.broker.errors.TooManyRequests;
import dev.spillway.broker.errors.Unauthenticated;
import dev.spillway.broker.errors.Unavailable;
import dev.spillway.broker.errors.Violation;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.vertx.pgclient.PgException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The statuses a client sees, with the ErrorInfo (reason, metadata) and details a client reads to tell them apart. */
class ApiErrorsTest {

    @Test
    void aDatabaseTimeoutIsUnavailableAsTheBrokerAnswersIt() throws Exception {
        StatusRuntimeException s = ApiErrors.toStatus(new PgException("canceling statement due to statement timeout", "ERROR", "57014", null));
        assertThat(s.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(s.getStatus().getDescription()).contains("57014").endsWith("retry later");
        assertAnsweredByBroker(s);
    }

    @Test
    void aDomainUnavailableCarriesTheSameDetails() throws Exception {
        StatusRuntimeException s = ApiErrors.toStatus(new Unavailable("node n1, which ran the attempt, is not connected"));
        assertThat(s.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(s.getStatus().getDescription()).isEqualTo("node n1, which ran the attempt, is not connected");
        assertAnsweredByBroker(s);
    }

    @Test
    void everyDomainErrorCarriesItsReasonAndMetadataWithItsCode() throws Exception {
        record Case(RuntimeException error, Status.Code code, String reason, Map<String, String> metadata) { }
        List<Case> cases = List.of(
                new Case(InvalidRequest.of("spec.task_count", "must be positive"), Status.Code.INVALID_ARGUMENT, "INVALID_REQUEST", Map.of()),
                new Case(new InvalidRequest(ErrorReason.ERROR_REASON_POLICY_DENIED, Map.of("policy", "p", "rule", "r", "policy_version", "3"),
                        List.of(new Violation("policy/p/r", "no"))), Status.Code.INVALID_ARGUMENT, "POLICY_DENIED",
                        Map.of("policy", "p", "rule", "r", "policy_version", "3")),
                new Case(NotFound.job("8d1f"), Status.Code.NOT_FOUND, "NOT_FOUND", Map.of("resource", "jobs/8d1f")),
                new Case(AlreadyExists.requestIdReused("jobs/8d1f", "reused"), Status.Code.ALREADY_EXISTS, "REQUEST_ID_REUSED", Map.of("job", "jobs/8d1f")),
                new Case(new Unauthenticated("unknown API key"), Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED", Map.of()),
                new Case(PermissionDenied.permission("job_submit", "no"), Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED",
                        Map.of("permission", "job_submit")),
                new Case(PermissionDenied.tenant("team-b", "no"), Status.Code.PERMISSION_DENIED, "TENANT_NOT_ALLOWED", Map.of("tenant", "team-b")),
                new Case(new FailedPrecondition(ErrorReason.ERROR_REASON_BUDGET_EXCEEDED, Map.of("tenant", "a"), "over"),
                        Status.Code.FAILED_PRECONDITION, "BUDGET_EXCEEDED", Map.of("tenant", "a")),
                new Case(new TooManyRequests(ErrorReason.ERROR_REASON_RATE_LIMIT_EXCEEDED, "slow down", Duration.ofMillis(1500)),
                        Status.Code.RESOURCE_EXHAUSTED, "RATE_LIMIT_EXCEEDED", Map.of()),
                new Case(new IllegalStateException("a bug"), Status.Code.INTERNAL, "INTERNAL", null));
        for (Case c : cases) {
            StatusRuntimeException s = ApiErrors.toStatus(c.error());
            assertThat(s.getStatus().getCode()).as("%s", c.error()).isEqualTo(c.code());
            ErrorInfo info = ApiErrors.errorInfoOf(s);
            assertThat(info).as("%s", c.error()).isNotNull();
            assertThat(info.getReason()).isEqualTo(c.reason());
            assertThat(ErrorReason.valueOf("ERROR_REASON_" + info.getReason())).as("a reason names an ErrorReason").isNotNull();
            if (c.metadata() != null) assertThat(info.getMetadataMap()).isEqualTo(c.metadata());
        }
        assertThat(ApiErrors.errorInfoOf(ApiErrors.toStatus(new IllegalStateException("a bug"))).getMetadataMap())
                .as("the log names the reference").containsKey("reference");
        com.google.rpc.Status limited = StatusProto.fromThrowable(ApiErrors.toStatus(
                new TooManyRequests(ErrorReason.ERROR_REASON_RATE_LIMIT_EXCEEDED, "slow down", Duration.ofMillis(1500))));
        assertThat(limited.getDetailsList().stream().filter(a -> a.is(RetryInfo.class)).findFirst().orElseThrow().unpack(RetryInfo.class)
                .getRetryDelay().getNanos()).isEqualTo(500_000_000);
        com.google.rpc.Status invalid = StatusProto.fromThrowable(ApiErrors.toStatus(InvalidRequest.of("spec.task_count", "must be positive")));
        assertThat(invalid.getDetailsList().stream().filter(a -> a.is(com.google.rpc.BadRequest.class)).findFirst().orElseThrow()
                .unpack(com.google.rpc.BadRequest.class).getFieldViolations(0).getField()).isEqualTo("spec.task_count");
    }

    @Test
    void problemJsonCarriesTheReason() {
        ApiErrors.Problem p = ApiErrors.problemOf(PermissionDenied.tenant("team-b", "no"));
        assertThat(p.status()).isEqualTo(403);
        assertThat(new io.vertx.core.json.JsonObject(p.json()).getString("reason")).isEqualTo("TENANT_NOT_ALLOWED");
    }

    @Test
    void aStatusFromElsewhereHasNoReasonOfTheBrokers() {
        assertThat(ApiErrors.errorInfoOf(Status.UNAVAILABLE.withDescription("connection refused").asRuntimeException())).isNull();
    }

    private static void assertAnsweredByBroker(StatusRuntimeException s) throws Exception {
        com.google.rpc.Status status = StatusProto.fromThrowable(s);
        assertThat(status).as("details sent").isNotNull();
        ErrorInfo info = status.getDetailsList().stream().filter(a -> a.is(ErrorInfo.class)).findFirst().orElseThrow().unpack(ErrorInfo.class);
        assertThat(info.getDomain()).isEqualTo(ApiErrors.ERROR_DOMAIN);
        assertThat(info.getReason()).isEqualTo("UNAVAILABLE");
        RetryInfo retry = status.getDetailsList().stream().filter(a -> a.is(RetryInfo.class)).findFirst().orElseThrow().unpack(RetryInfo.class);
        assertThat(retry.getRetryDelay().getSeconds()).isEqualTo(1);
    }
}
