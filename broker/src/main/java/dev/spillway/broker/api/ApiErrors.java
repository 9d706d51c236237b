package dev.spillway.broker.api;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.RetryInfo;
import dev.spillway.broker.errors.BrokerException;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.AlreadyExists;
import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.errors.PermissionDenied;
import dev.spillway.broker.errors.TooManyRequests;
import dev.spillway.broker.errors.Unauthenticated;
import dev.spillway.broker.errors.Unavailable;
import dev.spillway.broker.errors.Violation;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.UUID;
import org.jboss.logging.Logger;

/**
 * The one place that turns domain errors into what clients read: a gRPC status (with
 * {@code google.rpc.BadRequest} field violations) or an RFC 9457 problem+json response. Never a
 * stack trace: anything unexpected becomes INTERNAL with a reference to the broker log.
 */
public final class ApiErrors {

    private static final Logger LOG = Logger.getLogger(ApiErrors.class);

    private ApiErrors() {}

    public static StatusRuntimeException invalid(List<Violation> violations) {
        InvalidRequest e = new InvalidRequest(violations);
        BadRequest.Builder details = BadRequest.newBuilder();
        for (Violation v : e.violations()) {
            details.addFieldViolations(BadRequest.FieldViolation.newBuilder().setField(v.field()).setDescription(v.description()));
        }
        return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
                .setCode(Code.INVALID_ARGUMENT_VALUE)
                .setMessage(e.getMessage())
                .addDetails(Any.pack(details.build()))
                .build());
    }

    /** A job id from a request, or INVALID_ARGUMENT naming {@code field}. */
    public static UUID uuid(String field, String value) {
        try {
            return UUID.fromString(value);
        } catch (IllegalArgumentException e) {
            throw InvalidRequest.of(field, "not a job id (a UUID): '" + value + "'");
        }
    }

    /** Any failure as a gRPC status: domain errors by kind, status exceptions as they are, the rest INTERNAL. */
    /** Answers a unary call with {@code work}'s item, or with its failure as a status ({@link #toStatus}). */
    static <T> void respond(io.smallrye.mutiny.Uni<T> work, io.grpc.stub.StreamObserver<T> out) {
        work.subscribe().with(item -> {
            out.onNext(item);
            out.onCompleted();
        }, e -> out.onError(toStatus(e)));
    }

    public static StatusRuntimeException toStatus(Throwable t) {
        if (t instanceof StatusRuntimeException s) return s;
        if (t.getCause() instanceof StatusRuntimeException s) return s;
        BrokerException domain = t instanceof BrokerException b ? b : t.getCause() instanceof BrokerException b ? b : null;
        if (domain instanceof InvalidRequest i) return invalid(i.violations());
        if (domain instanceof NotFound) return Status.NOT_FOUND.withDescription(domain.getMessage()).asRuntimeException();
        if (domain instanceof AlreadyExists) return Status.ALREADY_EXISTS.withDescription(domain.getMessage()).asRuntimeException();
        if (domain instanceof Unavailable) return unavailable(domain.getMessage());
        if (domain instanceof Unauthenticated) return Status.UNAUTHENTICATED.withDescription(domain.getMessage()).asRuntimeException();
        if (domain instanceof PermissionDenied) return Status.PERMISSION_DENIED.withDescription(domain.getMessage()).asRuntimeException();
        if (domain instanceof dev.spillway.broker.errors.FailedPrecondition f) {
            return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder().setCode(Code.FAILED_PRECONDITION_VALUE)
                    .setMessage(f.getMessage())
                    .addDetails(Any.pack(com.google.rpc.ErrorInfo.newBuilder().setDomain(ERROR_DOMAIN).setReason(f.reason()).build())).build());
        }
        if (domain instanceof TooManyRequests limited) {
            com.google.rpc.Status.Builder status = com.google.rpc.Status.newBuilder().setCode(Code.RESOURCE_EXHAUSTED_VALUE)
                    .setMessage(limited.getMessage());
            if (limited.retryAfter() != null) {
                status.addDetails(Any.pack(RetryInfo.newBuilder().setRetryDelay(com.google.protobuf.Duration.newBuilder()
                        .setSeconds(limited.retryAfter().getSeconds()).setNanos(limited.retryAfter().getNano())).build()));
            }
            return StatusProto.toStatusRuntimeException(status.build());
        }
        String unavailable = dev.spillway.broker.store.DatabaseCalls.unavailableBecause(t);
        if (unavailable != null) {
            LOG.warnf("answered UNAVAILABLE: %s", unavailable);
            return unavailable(unavailable + "; retry later");
        }
        String ref = UUID.randomUUID().toString().substring(0, 8);
        LOG.errorf(t, "internal error %s", ref);
        return Status.INTERNAL.withDescription("internal error (reference " + ref + " in the broker log)").asRuntimeException();
    }

    /** Where the broker's own error details come from (google.rpc.ErrorInfo.domain). */
    public static final String ERROR_DOMAIN = "spillway.dev";

    /**
     * UNAVAILABLE as the broker answers it: with an ErrorInfo of the broker's domain (so a client
     * can tell "the broker answered: not now" from "the broker could not be reached", which the
     * client's transport reports with the same code) and a RetryInfo of one second.
     */
    private static StatusRuntimeException unavailable(String message) {
        return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder().setCode(Code.UNAVAILABLE_VALUE).setMessage(message)
                .addDetails(Any.pack(com.google.rpc.ErrorInfo.newBuilder().setDomain(ERROR_DOMAIN).setReason("UNAVAILABLE").build()))
                .addDetails(Any.pack(RetryInfo.newBuilder().setRetryDelay(com.google.protobuf.Duration.newBuilder().setSeconds(1)).build()))
                .build());
    }

    /** Any failure as problem+json, with field violations listed under {@code violations}. */
    public static Response problem(Throwable t) {
        Problem p = problemOf(t);
        Response.ResponseBuilder response = Response.status(p.status()).type(Problem.MEDIA_TYPE).entity(p.json());
        if (p.status() == 401) response.header("WWW-Authenticate", "Bearer");
        TooManyRequests limited = t instanceof TooManyRequests l ? l : t.getCause() instanceof TooManyRequests l ? l : null;
        if (limited != null && limited.retryAfter() != null) {
            response.header("Retry-After", Math.max(1, (limited.retryAfter().toMillis() + 999) / 1000));
        }
        return response.build();
    }

    /** An HTTP status and its RFC 9457 body. */
    public record Problem(int status, String json) {
        public static final String MEDIA_TYPE = "application/problem+json";
    }

    public static Problem problemOf(Throwable t) {
        StatusRuntimeException s = toStatus(t);
        int http = switch (s.getStatus().getCode()) {
            case INVALID_ARGUMENT -> 400;
            case UNAUTHENTICATED -> 401;
            case PERMISSION_DENIED -> 403;
            case NOT_FOUND -> 404;
            case ALREADY_EXISTS, FAILED_PRECONDITION -> 409;
            case RESOURCE_EXHAUSTED -> 429;
            case UNAVAILABLE -> 503;
            default -> 500;
        };
        String title = switch (http) {
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 409 -> "Conflict";
            case 429 -> "Too Many Requests";
            case 503 -> "Service Unavailable";
            default -> "Internal Server Error";
        };
        JsonObject body = new JsonObject().put("type", "about:blank").put("title", title).put("status", http)
                .put("detail", s.getStatus().getDescription());
        InvalidRequest invalid = t instanceof InvalidRequest i ? i : t.getCause() instanceof InvalidRequest i ? i : null;
        if (invalid != null) {
            JsonArray violations = new JsonArray();
            invalid.violations().forEach(v -> violations.add(new JsonObject().put("field", v.field()).put("description", v.description())));
            body.put("violations", violations);
        }
        return new Problem(http, body.encode());
    }
}
