package dev.spillway.broker.api;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import dev.spillway.api.v1.ErrorReason;
import dev.spillway.broker.errors.AlreadyExists;
import dev.spillway.broker.errors.BrokerException;
import dev.spillway.broker.errors.FailedPrecondition;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.errors.PermissionDenied;
import dev.spillway.broker.errors.TooManyRequests;
import dev.spillway.broker.errors.Unauthenticated;
import dev.spillway.broker.errors.Unavailable;
import dev.spillway.broker.errors.Violation;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
        return toStatus(new InvalidRequest(violations));
    }

    /** A job id from a request, or INVALID_ARGUMENT naming {@code field}. */
    public static UUID uuid(String field, String value) {
        try {
            return UUID.fromString(value);
        } catch (IllegalArgumentException e) {
            throw InvalidRequest.of(field, "not a job id (a UUID): '" + value + "'");
        }
    }

    /** Answers a unary call with {@code work}'s item, or with its failure as a status ({@link #toStatus}). */
    static <T> void respond(io.smallrye.mutiny.Uni<T> work, io.grpc.stub.StreamObserver<T> out) {
        work.subscribe().with(item -> {
            out.onNext(item);
            out.onCompleted();
        }, e -> out.onError(toStatus(e)));
    }

    /**
     * Any failure as a gRPC status: domain errors by kind, each with a {@code google.rpc.ErrorInfo}
     * of the broker's domain ({@link ErrorReason}) and, by kind, {@code BadRequest} field violations
     * or a {@code RetryInfo}; status exceptions as they are (a call relayed from the leader already
     * carries the leader's details); the rest INTERNAL with a reference to the broker log.
     */
    public static StatusRuntimeException toStatus(Throwable t) {
        if (t instanceof StatusRuntimeException s) return s;
        if (t.getCause() instanceof StatusRuntimeException s) return s;
        BrokerException domain = t instanceof BrokerException b ? b : t.getCause() instanceof BrokerException b ? b : null;
        if (domain == null) {
            String unavailable = dev.spillway.broker.store.DatabaseCalls.unavailableBecause(t);
            if (unavailable != null) {
                LOG.warnf("answered UNAVAILABLE: %s", unavailable);
                domain = new Unavailable(unavailable + "; retry later");
            }
        }
        if (domain == null) {
            String ref = UUID.randomUUID().toString().substring(0, 8);
            LOG.errorf(t, "internal error %s", ref);
            return status(Code.INTERNAL, "internal error (reference " + ref + " in the broker log)", ErrorReason.ERROR_REASON_INTERNAL,
                    Map.of("reference", ref), List.of());
        }
        List<Any> details = new ArrayList<>();
        Code code;
        if (domain instanceof InvalidRequest i) {
            BadRequest.Builder violations = BadRequest.newBuilder();
            for (Violation v : i.violations()) {
                violations.addFieldViolations(BadRequest.FieldViolation.newBuilder().setField(v.field()).setDescription(v.description()));
            }
            details.add(Any.pack(violations.build()));
            code = Code.INVALID_ARGUMENT;
        } else if (domain instanceof NotFound) {
            code = Code.NOT_FOUND;
        } else if (domain instanceof AlreadyExists) {
            code = Code.ALREADY_EXISTS;
        } else if (domain instanceof Unavailable) {
            // With the ErrorInfo, a client can tell "the broker answered: not now" from "the broker could not be reached",
            // which its transport reports with the same code.
            details.add(retryAfter(java.time.Duration.ofSeconds(1)));
            code = Code.UNAVAILABLE;
        } else if (domain instanceof Unauthenticated) {
            code = Code.UNAUTHENTICATED;
        } else if (domain instanceof PermissionDenied) {
            code = Code.PERMISSION_DENIED;
        } else if (domain instanceof FailedPrecondition) {
            code = Code.FAILED_PRECONDITION;
        } else if (domain instanceof TooManyRequests limited) {
            if (limited.retryAfter() != null) details.add(retryAfter(limited.retryAfter()));
            code = Code.RESOURCE_EXHAUSTED;
        } else {
            throw new IllegalStateException("no status for " + domain.getClass().getName());
        }
        return status(code, domain.getMessage(), domain.reason(), domain.metadata(), details);
    }

    /** A status as the broker answers it, {@code details} after its ErrorInfo. */
    static StatusRuntimeException status(Code code, String message, ErrorReason reason, Map<String, String> metadata, List<Any> details) {
        return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder().setCode(code.getNumber()).setMessage(message)
                .addDetails(Any.pack(errorInfo(reason, metadata)))
                .addAllDetails(details)
                .build());
    }

    /** {@code google.rpc.ErrorInfo} of the broker's domain: the reason is the enum value's name without its prefix. */
    public static ErrorInfo errorInfo(ErrorReason reason, Map<String, String> metadata) {
        return ErrorInfo.newBuilder().setDomain(ERROR_DOMAIN).setReason(reasonName(reason)).putAllMetadata(metadata).build();
    }

    /** {@code ERROR_REASON_BUDGET_EXCEEDED} → {@code BUDGET_EXCEEDED}. */
    public static String reasonName(ErrorReason reason) {
        return reason.name().substring(REASON_PREFIX.length());
    }

    private static final String REASON_PREFIX = "ERROR_REASON_";

    private static Any retryAfter(java.time.Duration delay) {
        return Any.pack(RetryInfo.newBuilder().setRetryDelay(com.google.protobuf.Duration.newBuilder()
                .setSeconds(delay.getSeconds()).setNanos(delay.getNano())).build());
    }

    /** Where the broker's own error details come from (google.rpc.ErrorInfo.domain). */
    public static final String ERROR_DOMAIN = "spillway.dev";

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

    /** The broker's ErrorInfo in a status, or null when it carries none (a status from elsewhere). */
    static ErrorInfo errorInfoOf(StatusRuntimeException s) {
        com.google.rpc.Status status = StatusProto.fromThrowable(s);
        if (status == null) return null;
        for (Any any : status.getDetailsList()) {
            if (!any.is(ErrorInfo.class)) continue;
            try {
                ErrorInfo info = any.unpack(ErrorInfo.class);
                if (ERROR_DOMAIN.equals(info.getDomain())) return info;
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                return null;
            }
        }
        return null;
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
        ErrorInfo info = errorInfoOf(s);
        if (info != null) body.put("reason", info.getReason());
        InvalidRequest invalid = t instanceof InvalidRequest i ? i : t.getCause() instanceof InvalidRequest i ? i : null;
        if (invalid != null) {
            JsonArray violations = new JsonArray();
            invalid.violations().forEach(v -> violations.add(new JsonObject().put("field", v.field()).put("description", v.description())));
            body.put("violations", violations);
        }
        return new Problem(http, body.encode());
    }
}
