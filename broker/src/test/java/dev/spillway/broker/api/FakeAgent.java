package dev.spillway.broker.api;

import static org.awaitility.Awaitility.await;

import dev.spillway.api.agent.v1.AgentServiceGrpc;
import dev.spillway.api.agent.v1.ConnectRequest;
import dev.spillway.api.agent.v1.ConnectResponse;
import dev.spillway.api.agent.v1.Register;
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
    dev.spillway.api.agent.v1.Registered registered() {
        return received.stream().filter(ConnectResponse::hasRegistered).map(ConnectResponse::getRegistered).findFirst().orElse(null);
    }

    void send(ConnectRequest r) {
        synchronized (requests) {
            requests.onNext(r);
        }
    }

    private java.util.concurrent.ScheduledExecutorService heart;

    /**
     * From now on, behaves as an agent running what it is given: every 300 ms a report (its
     * heartbeat) lists each assigned attempt as running, and an attempt killed since the last
     * report as ended by the kill, once.
     */
    void runAssignments() {
        java.util.Set<String> killed = java.util.concurrent.ConcurrentHashMap.newKeySet();
        heart = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
        heart.scheduleWithFixedDelay(() -> {
            dev.spillway.api.agent.v1.Report.Builder report = dev.spillway.api.agent.v1.Report.newBuilder();
            java.util.Set<String> kills = new java.util.HashSet<>();
            for (ConnectResponse r : received) {
                if (r.hasKill()) kills.add(r.getKill().getJobId() + "/" + r.getKill().getTaskIndex() + "#" + r.getKill().getAttempt());
            }
            for (ConnectResponse r : received) {
                if (!r.hasAssign()) continue;
                var a = r.getAssign();
                String key = a.getJobId() + "/" + a.getTaskIndex() + "#" + a.getAttempt();
                var status = dev.spillway.api.agent.v1.AttemptStatus.newBuilder().setJobId(a.getJobId()).setTaskIndex(a.getTaskIndex())
                        .setAttempt(a.getAttempt());
                if (!kills.contains(key)) {
                    report.addAttempts(status.setState(dev.spillway.api.agent.v1.AttemptState.ATTEMPT_STATE_RUNNING));
                } else if (killed.add(key)) {
                    report.addAttempts(status.setState(dev.spillway.api.agent.v1.AttemptState.ATTEMPT_STATE_KILLED).setExitCode(137));
                }
            }
            try {
                send(ConnectRequest.newBuilder().setReport(report).build());
            } catch (RuntimeException closed) {
                // the stream ended; close() stops this
            }
        }, 0, 300, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        if (heart != null) heart.shutdownNow();
        try {
            requests.onCompleted();
        } catch (RuntimeException ignored) {
            // the stream already failed
        }
        channel.shutdownNow();
    }
}
