package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import dev.spillway.broker.errors.Unavailable;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.vertx.pgclient.PgException;
import org.junit.jupiter.api.Test;

/** The statuses a client sees, in the details a client reads to tell them apart. */
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
