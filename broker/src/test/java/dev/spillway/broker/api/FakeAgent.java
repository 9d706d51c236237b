package dev.spillway.broker.api;

import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.AgentServiceGrpc;
import dev.spillway.api.v1.ConnectRequest;
import dev.spillway.api.v1.ConnectResponse;
import dev.spillway.api.v1.Register;
import dev.spillway.api.v1.Resources;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A test-side agent speaking the real protocol over a real channel. */
final class FakeAgent implements AutoCloseable {

    private final ManagedChannel channel;
    private final StreamObserver<ConnectRequest> requests;
    private final String name;
    final List<ConnectResponse> received = new CopyOnWriteArrayList<>();
    volatile Throwable error;

    FakeAgent(String host, int port, String name, String credential) {
        this.name = name;
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + credential);
        channel = ManagedChannelBuilder.forAddress(host, port).usePlaintext()
                .intercept(MetadataUtils.newAttachHeadersInterceptor(headers)).build();
        requests = AgentServiceGrpc.newStub(channel).connect(new StreamObserver<>() {
            @Override
            public void onNext(ConnectResponse value) {
                received.add(value);
            }

            @Override
            public void onError(Throwable t) {
                error = t;
            }

            @Override
            public void onCompleted() {
            }
        });
    }

    /** Sends a registration without waiting for the answer. */
    void sendRegister(String pool, long cpuMillis, long memoryMib) {
        send(ConnectRequest.newBuilder().setRegister(Register.newBuilder().setNodeName(name).setPool(pool).putLabels("rack", "r1")
                .setCapacity(Resources.newBuilder().setCpuMillis(cpuMillis).setMemoryMib(memoryMib))).build());
    }

    /** Registers in pool onprem and waits until the broker accepts. */
    void register(long cpuMillis, long memoryMib) {
        sendRegister("onprem", cpuMillis, memoryMib);
        await().atMost(Duration.ofSeconds(10)).until(() -> registered() != null);
    }

    /** The broker's acceptance, or null. */
    dev.spillway.api.v1.Registered registered() {
        return received.stream().filter(ConnectResponse::hasRegistered).map(ConnectResponse::getRegistered).findFirst().orElse(null);
    }

    void send(ConnectRequest r) {
        synchronized (requests) {
            requests.onNext(r);
        }
    }

    @Override
    public void close() {
        try {
            requests.onCompleted();
        } catch (RuntimeException ignored) {
            // the stream already failed
        }
        channel.shutdownNow();
    }
}
