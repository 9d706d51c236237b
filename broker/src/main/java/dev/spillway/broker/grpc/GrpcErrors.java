package dev.spillway.broker.grpc;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import java.util.UUID;
import org.jboss.logging.Logger;

/** How the broker's gRPC services report errors: a status code, a clear message, never a stack trace. */
public final class GrpcErrors {

    private static final Logger LOG = Logger.getLogger(GrpcErrors.class);

    private GrpcErrors() {}

    public static StatusRuntimeException invalid(List<BadRequest.FieldViolation> violations) {
        String summary = violations.size() == 1
                ? violations.get(0).getField() + ": " + violations.get(0).getDescription()
                : violations.size() + " problems, first: " + violations.get(0).getField() + ": " + violations.get(0).getDescription();
        return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
                .setCode(Code.INVALID_ARGUMENT_VALUE)
                .setMessage("invalid request: " + summary)
                .addDetails(Any.pack(BadRequest.newBuilder().addAllFieldViolations(violations).build()))
                .build());
    }

    public static StatusRuntimeException notFound(String what) {
        return Status.NOT_FOUND.withDescription(what).asRuntimeException();
    }

    public static UUID jobId(String value) {
        try {
            return UUID.fromString(value);
        } catch (IllegalArgumentException e) {
            throw invalid(List.of(BadRequest.FieldViolation.newBuilder().setField("job_id")
                    .setDescription("not a job id (a UUID): '" + value + "'").build()));
        }
    }

    /** Passes status exceptions through; anything else becomes INTERNAL, logged once with its cause. */
    public static StatusRuntimeException toStatus(Throwable t) {
        if (t instanceof StatusRuntimeException s) return s;
        if (t.getCause() instanceof StatusRuntimeException s) return s;
        String ref = UUID.randomUUID().toString().substring(0, 8);
        LOG.errorf(t, "internal error %s", ref);
        return Status.INTERNAL.withDescription("internal error (reference " + ref + " in the broker log)").asRuntimeException();
    }
}
