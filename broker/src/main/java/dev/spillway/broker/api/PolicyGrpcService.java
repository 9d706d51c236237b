package dev.spillway.broker.api;

import com.google.protobuf.Timestamp;
import dev.spillway.api.v1.ApplyPoliciesRequest;
import dev.spillway.api.v1.ApplyPoliciesResponse;
import dev.spillway.api.v1.GetPoliciesRequest;
import dev.spillway.api.v1.GetPoliciesResponse;
import dev.spillway.api.v1.ListPolicyVersionsRequest;
import dev.spillway.api.v1.ListPolicyVersionsResponse;
import dev.spillway.api.v1.PolicyFile;
import dev.spillway.api.v1.PolicyServiceGrpc;
import dev.spillway.api.v1.PolicyVersion;
import dev.spillway.api.v1.TestPoliciesRequest;
import dev.spillway.api.v1.TestPoliciesResponse;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.NotFound;
import dev.spillway.broker.policy.Policies;
import dev.spillway.broker.security.Audit;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.broker.store.PolicyStore;
import dev.spillway.core.access.Caller;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;

/** spillway.v1.PolicyService: apply, read, list versions of and test the policy set. Roles are checked by {@link CallerInterceptor}. */
@GrpcService
public class PolicyGrpcService extends PolicyServiceGrpc.PolicyServiceImplBase {

    private static final int MAX_PAGE = 500;

    private final Policies policies;
    private final PolicyStore store;
    private final Audit audit;
    private final PolicyTrial trial;
    private final NodeStore nodes;
    private final dev.spillway.broker.jobs.DecisionQueries decisions;
    private final PolicyReplay replay;
    private final dev.spillway.broker.store.WorkloadHistory history;
    private final java.time.Clock clock;

    public PolicyGrpcService(Policies policies, PolicyStore store, Audit audit, PolicyTrial trial, NodeStore nodes,
                             dev.spillway.broker.jobs.DecisionQueries decisions, PolicyReplay replay,
                             dev.spillway.broker.store.WorkloadHistory history, java.time.Clock clock) {
        this.decisions = decisions;
        this.replay = replay;
        this.history = history;
        this.clock = clock;
        this.trial = trial;
        this.nodes = nodes;
        this.policies = policies;
        this.store = store;
        this.audit = audit;
    }

    @Override
    public void applyPolicies(ApplyPoliciesRequest request, StreamObserver<ApplyPoliciesResponse> out) {
        Caller caller = CallerInterceptor.caller();
        String remote = CallerInterceptor.remote();
        var files = request.getFilesList().stream().map(f -> new PolicyStore.File(f.getName(), f.getText())).toList();
        ApiErrors.respond(Uni.createFrom().deferred(() -> policies.apply(files, request.getComment(), caller))
                .call(applied -> applied.changed()
                        ? audit.record(caller.subject(), null, "policy.apply", "version " + applied.version().version(),
                        applied.version().summary() + (request.getComment().isEmpty() ? "" : ": " + request.getComment()), remote)
                        // The version is stored and in force: an audit row that cannot be written is logged, not a failed apply.
                        .onFailure().recoverWithNull()
                        : Uni.createFrom().voidItem())
                .map(applied -> ApplyPoliciesResponse.newBuilder().setVersion(version(applied.version())).setChanged(applied.changed()).build()),
                out);
    }

    @Override
    public void getPolicies(GetPoliciesRequest request, StreamObserver<GetPoliciesResponse> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            if (request.getVersion() < 0) throw InvalidRequest.of("version", "0 (the current version) or a version number");
            Uni<PolicyStore.Version> read = request.getVersion() == 0 ? store.current() : store.get(request.getVersion());
            return read.map(v -> {
                if (v == null && request.getVersion() != 0) throw new NotFound("no policy version " + request.getVersion());
                return files(v);
            });
        }), out);
    }

    @Override
    public void listPolicyVersions(ListPolicyVersionsRequest request, StreamObserver<ListPolicyVersionsResponse> out) {
        ApiErrors.respond(Uni.createFrom().deferred(() -> versions(store, request.getPageSize(), request.getPageToken())), out);
    }

    /** A page of versions, newest first; the token carries the last version sent. Shared with REST. */
    static Uni<ListPolicyVersionsResponse> versions(PolicyStore store, int pageSize, String pageToken) {
        int size = dev.spillway.broker.listing.Pages.size(pageSize, 50, MAX_PAGE);
        String after = dev.spillway.broker.listing.Pages.after(pageToken, "policyVersions");
        long before;
        try {
            before = after == null ? 0 : Long.parseLong(after);
        } catch (NumberFormatException e) {
            throw InvalidRequest.of("page_token", "not a page token of this listing");
        }
        return store.list(size + 1, before).map(versions -> {
            boolean more = versions.size() > size;
            var page = more ? versions.subList(0, size) : versions;
            return ListPolicyVersionsResponse.newBuilder().addAllVersions(page.stream().map(PolicyGrpcService::version).toList())
                    .setNextPageToken(more ? dev.spillway.broker.listing.Pages.token(Long.toString(page.get(page.size() - 1).version()), "policyVersions") : "")
                    .build();
        });
    }

    @Override
    public void testPolicies(TestPoliciesRequest request, StreamObserver<TestPoliciesResponse> out) {
        var files = request.getFilesList().stream().map(f -> new PolicyStore.File(f.getName(), f.getText())).toList();
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            if (!request.hasJob()) throw InvalidRequest.of("job", "required: the job to try, as it would be submitted");
            return policies.candidate(files).flatMap(set -> nodes.allocations()
                    // The trial plans over every connected node: CPU work, off the event loop.
                    .emitOn(Infrastructure.getDefaultWorkerPool())
                    .map(allocated -> trial.run(set, request.getJob(), allocated)));
        }), out);
    }

    @Override
    public void whatIf(dev.spillway.api.v1.WhatIfRequest request, StreamObserver<dev.spillway.api.v1.WhatIfResponse> out) {
        var files = request.getFilesList().stream().map(f -> new PolicyStore.File(f.getName(), f.getText())).toList();
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            if (files.isEmpty()) throw InvalidRequest.of("files", "required: the candidate policy files to compare with the set in force");
            Policies.InForce current = policies.inForce();
            if (current.set() == null && current.problem() != null) {
                throw InvalidRequest.of("files", "the set in force (version " + current.version() + ") cannot be evaluated by this broker: "
                        + current.problem() + "; apply a set it can evaluate first");
            }
            Uni<PolicyReplay.Workload> workload;
            if (request.hasTrace()) {
                workload = Uni.createFrom().item(() -> PolicyReplay.fromTrace(request.getTrace()));
            } else {
                java.time.Duration since = request.hasSince()
                        ? java.time.Duration.ofSeconds(request.getSince().getSeconds(), request.getSince().getNanos()) : java.time.Duration.ofDays(30);
                if (since.isNegative() || since.isZero() || since.compareTo(PolicyReplay.MAX_SINCE) > 0) {
                    throw InvalidRequest.of("since", "a period between 1 s and " + PolicyReplay.MAX_SINCE.toDays() + " days");
                }
                workload = history.since(clock.instant().minus(since), PolicyReplay.MAX_JOBS + 1).map(past -> PolicyReplay.fromHistory(
                        past.size() > PolicyReplay.MAX_JOBS ? past.subList(0, PolicyReplay.MAX_JOBS) : past, past.size() > PolicyReplay.MAX_JOBS));
            }
            return policies.candidate(files).flatMap(candidate -> workload
                    // Two replays: CPU work, off the event loop.
                    .emitOn(Infrastructure.getDefaultWorkerPool())
                    .map(w -> replay.run(current, candidate, w)));
        }), out);
    }

    @Override
    public void listDecisions(dev.spillway.api.v1.ListDecisionsRequest request, StreamObserver<dev.spillway.api.v1.ListDecisionsResponse> out) {
        var scope = CallerInterceptor.caller().readScope();
        ApiErrors.respond(Uni.createFrom().deferred(() -> {
            String parent = request.getParent();
            java.util.UUID job = parent.isEmpty() || parent.equals(dev.spillway.api.ResourceNames.EVERY_JOB) ? null : RequestNames.job("parent", parent);
            return decisions.list(job, request.getFilter(), request.getPageSize(), request.getPageToken(), scope).map(PolicyGrpcService::decisions);
        }), out);
    }

    static dev.spillway.api.v1.ListDecisionsResponse decisions(dev.spillway.broker.jobs.DecisionQueries.Page page) {
        var b = dev.spillway.api.v1.ListDecisionsResponse.newBuilder().setNextPageToken(page.nextPageToken());
        for (var d : page.decisions()) {
            var m = dev.spillway.api.v1.AttemptDecision.newBuilder()
                    .setAttemptName(dev.spillway.api.ResourceNames.attempt(d.jobId(), d.index(), d.attempt()))
                    .setJob(dev.spillway.api.ResourceNames.job(d.jobId())).setTaskIndex(d.index()).setAttempt(d.attempt()).setTenant(d.tenant())
                    .setNode(d.node()).setPool(d.pool()).setRegion(d.region()).setJurisdiction(d.jurisdiction()).setLocation(d.location())
                    .setPolicyVersion(d.policyVersion() == null ? 0 : d.policyVersion()).setResidency(d.residency())
                    .setDecideTime(Timestamp.newBuilder().setSeconds(d.decidedAt().getEpochSecond()).setNanos(d.decidedAt().getNano()));
            for (var r : d.rules()) {
                m.addRules(dev.spillway.api.v1.DecisionRule.newBuilder().setRule(r.rule()).setOutcome(r.outcome()).setDetail(r.detail()));
            }
            b.addDecisions(m);
        }
        return b.build();
    }

    /** A version with its files; empty when {@code v} is null (no policy was ever applied). */
    static GetPoliciesResponse files(PolicyStore.Version v) {
        GetPoliciesResponse.Builder b = GetPoliciesResponse.newBuilder();
        if (v != null) {
            b.setVersion(version(v));
            v.files().forEach(f -> b.addFiles(PolicyFile.newBuilder().setName(f.name()).setText(f.text())));
        }
        return b.build();
    }

    static PolicyVersion version(PolicyStore.Version v) {
        var s = v.summary();
        return PolicyVersion.newBuilder()
                .setName("policyVersions/" + v.version()).setVersion(v.version())
                .setDigest(v.digest())
                .setAppliedBy(v.appliedBy())
                .setApplyTime(Timestamp.newBuilder().setSeconds(v.appliedAt().toEpochSecond()).setNanos(v.appliedAt().getNano()))
                .setComment(v.comment())
                .setAdmissionRules(s.getOrDefault("admissionRules", 0))
                .setPlacementFilters(s.getOrDefault("placementFilters", 0))
                .setPlacementScorers(s.getOrDefault("placementScorers", 0))
                .setBurstRules(s.getOrDefault("burstRules", 0))
                .setTenants(s.getOrDefault("tenants", 0))
                .setDatasets(s.getOrDefault("datasets", 0))
                .build();
    }
}
