package dev.spillway.broker.api;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import dev.spillway.api.Usd;
import dev.spillway.api.v1.CostGroup;
import dev.spillway.api.v1.CostServiceGrpc;
import dev.spillway.api.v1.ExportCostsRequest;
import dev.spillway.api.v1.ExportCostsResponse;
import dev.spillway.api.v1.GetCostReportRequest;
import dev.spillway.api.v1.GetCostReportResponse;
import dev.spillway.broker.cost.CostLedger;
import dev.spillway.broker.cost.CostQueries;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.store.LedgerStore;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/** spillway.v1.CostService: the cost ledger's report and its FOCUS export. Roles are checked by {@link CallerInterceptor}. */
@GrpcService
public class CostGrpcService extends CostServiceGrpc.CostServiceImplBase {

    /** Bytes per export message. */
    static final int CHUNK = 64 * 1024;

    private final CostQueries costs;
    private final CostLedger ledger;

    public CostGrpcService(CostQueries costs, CostLedger ledger) {
        this.costs = costs;
        this.ledger = ledger;
    }

    @Override
    public void getCostReport(GetCostReportRequest request, StreamObserver<GetCostReportResponse> out) {
        var scope = CallerInterceptor.caller().readScope();
        java.time.temporal.ChronoUnit interval = switch (request.getInterval()) {
            case COST_INTERVAL_HOUR -> java.time.temporal.ChronoUnit.HOURS;
            case COST_INTERVAL_DAY -> java.time.temporal.ChronoUnit.DAYS;
            default -> null;
        };
        ApiErrors.respond(io.smallrye.mutiny.Uni.createFrom().deferred(() -> costs.report(request.getGroupBy(),
                request.hasStartTime() ? instant(request.getStartTime()) : null, request.hasEndTime() ? instant(request.getEndTime()) : null,
                request.getTenant(), scope, interval, request.getJob().isEmpty() ? null : RequestNames.job("job", request.getJob()))).map(r -> {
                    GetCostReportResponse.Builder b = response(r.total()).toBuilder();
                    for (CostLedger.Report p : r.periods()) {
                        GetCostReportResponse one = response(p);
                        b.addPeriods(dev.spillway.api.v1.CostPeriod.newBuilder().setStartTime(one.getStartTime()).setEndTime(one.getEndTime())
                                .addAllGroups(one.getGroupsList()).setTotal(one.getTotal()));
                    }
                    return b.build();
                }), out);
    }

    static GetCostReportResponse response(CostLedger.Report r) {
        GetCostReportResponse.Builder b = GetCostReportResponse.newBuilder().setStartTime(timestamp(r.from())).setEndTime(timestamp(r.to()))
                .setClosedUntil(timestamp(r.closedUntil()));
        double seconds = 0;
        for (LedgerStore.Sum s : r.groups()) {
            b.addGroups(group(s));
            seconds += s.taskSeconds();
        }
        return b.setTotal(CostGroup.newBuilder().setCloudCost(Usd.ofMicros(r.cloudMicroUsd())).setOnPremCost(Usd.ofMicros(r.onPremMicroUsd()))
                .setIdleCost(Usd.ofMicros(r.idleMicroUsd())).setTaskSeconds(seconds)).build();
    }

    private static CostGroup group(LedgerStore.Sum s) {
        return CostGroup.newBuilder().setKey(s.key()).setName(s.name() == null ? "" : s.name()).setCloudCost(Usd.ofMicros(s.cloudMicroUsd()))
                .setOnPremCost(Usd.ofMicros(s.onPremMicroUsd())).setIdleCost(Usd.ofMicros(s.idleMicroUsd())).setTaskSeconds(s.taskSeconds()).build();
    }

    @Override
    public void exportCosts(ExportCostsRequest request, StreamObserver<ExportCostsResponse> out) {
        var scope = CallerInterceptor.caller().readScope();
        ServerCallStreamObserver<ExportCostsResponse> call = (ServerCallStreamObserver<ExportCostsResponse>) out;
        Sender sender = new Sender(call);
        call.setOnReadyHandler(sender); // only allowed before this method returns
        io.smallrye.mutiny.Uni.createFrom().deferred(() -> {
            String format = request.getFormat().isEmpty() ? "focus" : request.getFormat();
            if (!format.equals("focus")) throw InvalidRequest.of("format", "focus (FOCUS 1.2 CSV) is the only format, not '" + format + "'");
            return costs.lines(request.hasStartTime() ? instant(request.getStartTime()) : null,
                    request.hasEndTime() ? instant(request.getEndTime()) : null, request.getTenant(), scope);
        }).subscribe().with(lines -> sender.start(chunks(ledger.focus().csv(lines))), e -> sender.fail(ApiErrors.toStatus(e)));
    }

    /** The CSV's lines cut into messages of about {@link #CHUNK} bytes, each ending at a line's end. */
    static Deque<ByteString> chunks(List<String> csv) {
        Deque<ByteString> out = new ArrayDeque<>();
        StringBuilder s = new StringBuilder(CHUNK + 1024);
        for (String line : csv) {
            s.append(line);
            if (s.length() >= CHUNK) {
                out.add(ByteString.copyFrom(s.toString(), StandardCharsets.UTF_8));
                s.setLength(0);
            }
        }
        if (!s.isEmpty()) out.add(ByteString.copyFrom(s.toString(), StandardCharsets.UTF_8));
        return out;
    }

    /** Sends the chunks as the client reads them (gRPC flow control), never more than it has room for. */
    private static final class Sender implements Runnable {
        private final ServerCallStreamObserver<ExportCostsResponse> call;
        private Deque<ByteString> chunks;
        private boolean done;

        Sender(ServerCallStreamObserver<ExportCostsResponse> call) {
            this.call = call;
        }

        synchronized void start(Deque<ByteString> chunks) {
            this.chunks = chunks;
            run();
        }

        synchronized void fail(io.grpc.StatusRuntimeException e) {
            if (done) return;
            done = true;
            if (!call.isCancelled()) call.onError(e);
        }

        @Override
        public synchronized void run() {
            if (done || chunks == null) return;
            if (call.isCancelled()) {
                done = true;
                return;
            }
            while (call.isReady() && !chunks.isEmpty()) call.onNext(ExportCostsResponse.newBuilder().setChunk(chunks.poll()).build());
            if (chunks.isEmpty()) {
                done = true;
                call.onCompleted();
            }
        }
    }

    private static Instant instant(Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    }

    private static Timestamp timestamp(Instant t) {
        return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }
}
