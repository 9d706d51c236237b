package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.rpc.BadRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/** What the conformance tests share: reading a whole listing page by page, and the field a refusal names. */
final class Conformance {

    private Conformance() {}

    /** Every item of a listing, page after page until the token is empty. */
    static <R, T> List<T> pages(Function<String, R> call, Function<R, List<T>> items, Function<R, String> next) {
        List<T> out = new ArrayList<>();
        String token = "";
        do {
            R page = call.apply(token);
            out.addAll(items.apply(page));
            token = next.apply(page);
        } while (!token.isEmpty());
        return out;
    }

    /** The field the call's INVALID_ARGUMENT names first (the call must be refused so). */
    static String violatedField(Runnable call) {
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, call::run);
        assertThat(e).as("refused").isNotNull();
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        try {
            return StatusProto.fromThrowable(e).getDetailsList().stream().filter(a -> a.is(BadRequest.class)).findFirst().orElseThrow()
                    .unpack(BadRequest.class).getFieldViolations(0).getField();
        } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
            throw new AssertionError(ex);
        }
    }
}
