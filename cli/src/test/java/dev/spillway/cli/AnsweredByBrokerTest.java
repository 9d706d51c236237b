package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.net.ConnectException;
import org.junit.jupiter.api.Test;

/** UNAVAILABLE from the transport (the broker cannot be reached) and from the broker (it cannot do this now) read differently. */
class AnsweredByBrokerTest {

    @Test
    void aRefusedConnectionIsNotAnAnswer() {
        var s = Status.UNAVAILABLE.withDescription("io exception").withCause(new ConnectException("Connection refused")).asRuntimeException();
        assertThat(Spillway.answeredByBroker(s)).isFalse();
    }

    @Test
    void anUnavailableWithTheBrokersErrorInfoIsAnAnswer() {
        var s = StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder().setCode(Code.UNAVAILABLE_VALUE)
                .setMessage("the database cancelled a statement after 30 s; retry later")
                .addDetails(Any.pack(ErrorInfo.newBuilder().setDomain("spillway.dev").setReason("UNAVAILABLE").build())).build());
        assertThat(Spillway.answeredByBroker(s)).isTrue();
    }

    @Test
    void anotherDomainsErrorInfoIsNotTheBrokers() {
        var s = StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder().setCode(Code.UNAVAILABLE_VALUE).setMessage("upstream")
                .addDetails(Any.pack(ErrorInfo.newBuilder().setDomain("proxy.example").setReason("UNAVAILABLE").build())).build());
        assertThat(Spillway.answeredByBroker(s)).isFalse();
    }
}
