package dev.spillway.broker.api;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;

/**
 * Writes {@code grpc-message} as the gRPC HTTP/2 protocol says: UTF-8, percent-encoding only the bytes outside
 * 0x20–0x7E and '%' itself.
 *
 * <p>Why this exists: with gRPC served on the HTTP port, Quarkus runs the services on the Vert.x gRPC server, whose
 * {@code GrpcServerResponseImpl} encodes the status message with {@code java.net.URLEncoder} (vertx-grpc 4.5,
 * {@code io.vertx.grpc.common.impl.Utils.utf8PercentEncode}); that form-encodes every character but letters, digits
 * and {@code .-_}, so clients that do not decode (Node's grpc-js shows the value as it came) read {@code %3A} and
 * {@code %20} in every message. Neither Quarkus nor Vert.x has a setting for it. So every call's close is intercepted:
 * the description is moved out of the {@link Status} (Vert.x then writes no {@code grpc-message} of its own) into the
 * trailers, already encoded. Vert.x copies trailers as they are, into the trailers-only headers when nothing else was
 * sent. The {@code grpc-status-details-bin} detail is left alone.
 *
 * <p>Registered as the outermost interceptor, so a call closed by any other interceptor (authentication, say) passes
 * through it too.
 */
@ApplicationScoped
@GlobalInterceptor
@Priority(Integer.MAX_VALUE)
public class StatusMessageEncoding implements ServerInterceptor {

    static final Metadata.Key<String> GRPC_MESSAGE = Metadata.Key.of("grpc-message", Metadata.ASCII_STRING_MARSHALLER);

    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                String description = status.getDescription();
                if (description == null || status.isOk()) {
                    super.close(status, trailers);
                    return;
                }
                trailers.discardAll(GRPC_MESSAGE);
                trailers.put(GRPC_MESSAGE, encode(description));
                super.close(status.withDescription(null), trailers);
            }
        }, headers);
    }

    /**
     * The protocol's Percent-Encoded form of a status message: its UTF-8 bytes, with every byte outside 0x20–0x7E and
     * every '%' written as {@code %XX} (upper-case hex); everything else, ':' and ' ' included, as it is.
     */
    static String encode(String message) {
        byte[] utf8 = message.getBytes(StandardCharsets.UTF_8);
        StringBuilder out = null;
        for (int i = 0; i < utf8.length; i++) {
            int b = utf8[i] & 0xFF;
            boolean plain = b >= 0x20 && b <= 0x7E && b != '%';
            if (plain && out == null) continue;
            if (out == null) {
                out = new StringBuilder(utf8.length + 16);
                out.append(new String(utf8, 0, i, StandardCharsets.US_ASCII));
            }
            if (plain) {
                out.append((char) b);
            } else {
                out.append('%').append(HEX[b >> 4]).append(HEX[b & 0xF]);
            }
        }
        return out == null ? message : out.toString();
    }
}
