package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.broker.security.ApiKeys;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import jakarta.inject.Inject;
import java.io.ByteArrayOutputStream;
import java.net.URL;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code grpc-message} on the wire is the gRPC protocol's percent-encoding: UTF-8 with only bytes outside 0x20–0x7E and
 * '%' escaped, so ':' and ' ' arrive as they are and clients that show the raw value (Node's grpc-js) read the message.
 */
@QuarkusTest
class StatusMessageEncodingTest {

    /** A job id that is no UUID: ':' and ' ' stay, 'é' (C3 A9) and '%' are escaped. */
    private static final String BAD_ID = "café: 100%";

    @TestHTTPResource
    URL url;

    @Inject
    Vertx vertx;

    @Inject
    ApiKeys keys;

    @Test
    void theRawTrailerEscapesOnlyWhatTheProtocolSays() throws Exception {
        RawResponse raw = call("/spillway.v1.JobService/GetJob", GetJobRequest.newBuilder().setName(BAD_ID).build().toByteArray());

        assertThat(raw.status()).isEqualTo(String.valueOf(Status.Code.INVALID_ARGUMENT.value()));
        assertThat(raw.message()).isEqualTo("invalid request: name: not a job name: 'caf%C3%A9: 100%25' (expected jobs/{job} or a job id, {job} a UUID)");
        assertThat(raw.message().chars()).allMatch(c -> c >= 0x20 && c <= 0x7E);
    }

    @Test
    void grpcJavaReadsTheSameMessageBack() {
        ManagedChannel channel = TestCallers.channel(url, TestCallers.key(keys, "default", Role.ADMIN));
        try {
            StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> JobServiceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(10, TimeUnit.SECONDS).getJob(GetJobRequest.newBuilder().setName(BAD_ID).build()));
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).isEqualTo("invalid request: name: not a job name: '" + BAD_ID + "' (expected jobs/{job} or a job id, {job} a UUID)");
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void encodingFollowsTheProtocol() {
        assertThat(StatusMessageEncoding.encode("plain: text (ok) ~*+/?&=")).isEqualTo("plain: text (ok) ~*+/?&=");
        assertThat(StatusMessageEncoding.encode("100%")).isEqualTo("100%25");
        assertThat(StatusMessageEncoding.encode("tab\there\nnew")).isEqualTo("tab%09here%0Anew");
        assertThat(StatusMessageEncoding.encode("über 😀")).isEqualTo("%C3%BCber %F0%9F%98%80");
        assertThat(StatusMessageEncoding.encode("\u007F")).isEqualTo("%7F");
        assertThat(StatusMessageEncoding.encode("")).isEmpty();
    }

    private record RawResponse(String status, String message) {
    }

    /**
     * One unary gRPC call over HTTP/2 with prior knowledge (h2c), returning {@code grpc-status} and the undecoded
     * {@code grpc-message} from the trailers, or from the headers of a trailers-only response. Vert.x turns each header
     * byte into one char, so a non-ASCII byte on the wire would show as a char above 0x7E.
     */
    private RawResponse call(String path, byte[] message) throws Exception {
        HttpClient client = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false));
        try {
            ByteArrayOutputStream frame = new ByteArrayOutputStream();
            frame.write(0); // not compressed
            frame.write(new byte[] {(byte) (message.length >>> 24), (byte) (message.length >>> 16), (byte) (message.length >>> 8), (byte) message.length});
            frame.write(message);
            RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setHost(url.getHost()).setPort(url.getPort()).setURI(path)
                    .putHeader("content-type", "application/grpc").putHeader("te", "trailers")
                    .putHeader("authorization", "Bearer " + TestCallers.key(keys, "default", Role.ADMIN));
            RawResponse response = client.request(options)
                    .compose(request -> request.send(Buffer.buffer(frame.toByteArray())))
                    .compose(resp -> resp.body().map(body -> raw(resp)))
                    .toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
            return response;
        } finally {
            client.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    private static RawResponse raw(HttpClientResponse resp) {
        MultiMap where = resp.trailers().contains("grpc-status") ? resp.trailers() : resp.headers();
        String message = where.get("grpc-message");
        return new RawResponse(where.get("grpc-status"), message);
    }
}
