package dev.spillway.broker.api;

import static dev.spillway.broker.api.Conformance.pages;
import static dev.spillway.broker.api.Conformance.violatedField;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.api.v1.AccessServiceGrpc;
import dev.spillway.api.v1.ApiKey;
import dev.spillway.api.v1.AttemptDecision;
import dev.spillway.api.v1.AuditEvent;
import dev.spillway.api.v1.Budget;
import dev.spillway.api.v1.BudgetServiceGrpc;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.ListApiKeysRequest;
import dev.spillway.api.v1.ListApiKeysResponse;
import dev.spillway.api.v1.ListAuditEventsRequest;
import dev.spillway.api.v1.ListAuditEventsResponse;
import dev.spillway.api.v1.ListBudgetsRequest;
import dev.spillway.api.v1.ListBudgetsResponse;
import dev.spillway.api.v1.ListDecisionsRequest;
import dev.spillway.api.v1.ListDecisionsResponse;
import dev.spillway.api.v1.ListPolicyVersionsRequest;
import dev.spillway.api.v1.PolicyServiceGrpc;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import java.net.URL;
import java.util.List;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The other Lists as the API rules say they behave (AIP-158, 160): audit events, API keys, budgets and decisions,
 * 250 of each written as the broker would, are listed each exactly once at page sizes 1, 7, 100 and above the
 * maximum; a token reused with another filter (or parent) is refused on `page_token`; a filter naming a field the
 * list does not have is refused on `filter`.
 */
@QuarkusTest
class ListingsConformanceTest {

    private static final int[] SIZES = {1, 7, 100, 1_000_000};

    @TestHTTPResource
    URL url;

    @Inject
    dev.spillway.broker.security.ApiKeys keys;

    @Inject
    io.vertx.mutiny.sqlclient.Pool db;

    private ManagedChannel channel;
    private final String run = "l" + UUID.randomUUID().toString().substring(0, 8);

    @BeforeEach
    void connect() {
        channel = TestCallers.channel(url, TestCallers.key(keys, "default", Role.ADMIN));
    }

    @AfterEach
    void disconnect() {
        db.preparedQuery("DELETE FROM budget WHERE tenant = $1").execute(Tuple.of(run)).await().indefinitely();
        channel.shutdownNow();
    }

    private void insert250(String sql, Function<Integer, Tuple> row) {
        for (int i = 0; i < 250; i++) db.preparedQuery(sql).execute(row.apply(i)).await().indefinitely();
    }

    /** Every page size lists the 250 each once; a token is refused with another filter; an unknown field is refused. */
    private static <R, T> void conforms(IntFunction<Function<String, R>> listing, Function<String, R> otherFilter, Function<R, List<T>> items,
                                        Function<R, String> next, Function<T, String> key, Runnable unknownField) {
        for (int size : SIZES) {
            List<String> seen = pages(listing.apply(size), items, next).stream().map(key).toList();
            assertThat(seen).as("page size %d", size).hasSize(250).doesNotHaveDuplicates();
        }
        String token = next.apply(listing.apply(7).apply(""));
        assertThat(token).isNotEmpty();
        assertThat(violatedField(() -> otherFilter.apply(token))).isEqualTo("page_token");
        assertThat(violatedField(unknownField)).isEqualTo("filter");
    }

    @Test
    void auditEvents() {
        insert250("INSERT INTO audit_event (actor, tenant, action, target) VALUES ('apikey:conformance', $1, 'job.submit', $2)",
                i -> Tuple.of(run, "t" + i));
        var access = AccessServiceGrpc.newBlockingStub(channel);
        String mine = "tenant = " + run;
        conforms(size -> t -> access.listAuditEvents(ListAuditEventsRequest.newBuilder().setFilter(mine).setPageSize(size).setPageToken(t).build()),
                t -> access.listAuditEvents(ListAuditEventsRequest.newBuilder().setFilter(mine + " action = job.cancel").setPageSize(7).setPageToken(t).build()),
                ListAuditEventsResponse::getEventsList, ListAuditEventsResponse::getNextPageToken, AuditEvent::getTarget,
                () -> access.listAuditEvents(ListAuditEventsRequest.newBuilder().setFilter("who = me").build()));
        assertThat(pages(t -> access.listAuditEvents(ListAuditEventsRequest.newBuilder().setFilter(mine + " AND (target = t1 OR target = t2)")
                .setPageToken(t).build()), ListAuditEventsResponse::getEventsList, ListAuditEventsResponse::getNextPageToken))
                .extracting(AuditEvent::getTarget).containsExactly("t2", "t1");
    }

    @Test
    void apiKeys() {
        insert250("INSERT INTO api_key (id, secret_hash, prefix, tenant, role, created_by, revoked_at) VALUES ($1, $2, 'spw_conf', $3, 'viewer', 'conformance', "
                + "CASE WHEN $4 THEN now() END)", i -> Tuple.of(UUID.randomUUID(), run + "-" + i, run, i % 2 == 0));
        var access = AccessServiceGrpc.newBlockingStub(channel);
        String mine = "tenant = " + run;
        conforms(size -> t -> access.listApiKeys(ListApiKeysRequest.newBuilder().setFilter(mine).setPageSize(size).setPageToken(t).build()),
                t -> access.listApiKeys(ListApiKeysRequest.newBuilder().setFilter(mine + " role = admin").setPageSize(7).setPageToken(t).build()),
                ListApiKeysResponse::getKeysList, ListApiKeysResponse::getNextPageToken, ApiKey::getName,
                () -> access.listApiKeys(ListApiKeysRequest.newBuilder().setFilter("secret = x").build()));
        assertThat(pages(t -> access.listApiKeys(ListApiKeysRequest.newBuilder().setFilter(mine + " -revoke_time:*").setPageSize(50).setPageToken(t).build()),
                ListApiKeysResponse::getKeysList, ListApiKeysResponse::getNextPageToken)).hasSize(125).allSatisfy(k -> assertThat(k.hasRevokeTime()).isFalse());
    }

    @Test
    void budgets() {
        insert250("INSERT INTO budget (name, tenant, period, limit_micro_usd, hard, created_by) VALUES ($1, $2, 'monthly', 1000000, false, 'conformance')",
                i -> Tuple.of(run + "-" + i, run));
        var budgets = BudgetServiceGrpc.newBlockingStub(channel);
        String mine = "tenant = " + run;
        conforms(size -> t -> budgets.listBudgets(ListBudgetsRequest.newBuilder().setFilter(mine).setPageSize(size).setPageToken(t).build()),
                t -> budgets.listBudgets(ListBudgetsRequest.newBuilder().setFilter(mine + " hard = true").setPageSize(7).setPageToken(t).build()),
                ListBudgetsResponse::getBudgetsList, ListBudgetsResponse::getNextPageToken, Budget::getName,
                () -> budgets.listBudgets(ListBudgetsRequest.newBuilder().setFilter("owner = x").build()));
        assertThat(budgets.listBudgets(ListBudgetsRequest.newBuilder().setFilter(mine).setPageSize(1).build()).getBudgets(0).getName())
                .isEqualTo("budgets/" + run + "-0");
    }

    @Test
    void decisionsUnderTheirJob() {
        Job job = JobServiceGrpc.newBlockingStub(channel).submitJob(SubmitJobRequest.newBuilder()
                .setSpec(JobApiTest.valid().toBuilder().setTaskCount(250)).build());
        try {
            insert250("""
                    INSERT INTO attempt_decision (job_id, idx, attempt, tenant, node, pool, region, jurisdiction, location, residency, rules)
                    VALUES ($1, $2, 1, 'default', 'n', $3, 'r', '', 'site:r', 'none required', '[]')""",
                    i -> Tuple.of(UUID.fromString(job.getUid()), i, i % 2 == 0 ? "even" : "odd"));
            var policies = PolicyServiceGrpc.newBlockingStub(channel);
            conforms(size -> t -> policies.listDecisions(ListDecisionsRequest.newBuilder().setParent(job.getName()).setPageSize(size).setPageToken(t).build()),
                    t -> policies.listDecisions(ListDecisionsRequest.newBuilder().setParent("jobs/-").setPageSize(7).setPageToken(t).build()),
                    ListDecisionsResponse::getDecisionsList, ListDecisionsResponse::getNextPageToken, AttemptDecision::getAttemptName,
                    () -> policies.listDecisions(ListDecisionsRequest.newBuilder().setFilter("score > 1").build()));
            assertThat(pages(t -> policies.listDecisions(ListDecisionsRequest.newBuilder().setParent(job.getUid()).setFilter("pool = even AND task < 10")
                    .setPageToken(t).build()), ListDecisionsResponse::getDecisionsList, ListDecisionsResponse::getNextPageToken))
                    .extracting(AttemptDecision::getTaskIndex).containsExactlyInAnyOrder(0, 2, 4, 6, 8);
        } finally {
            JobServiceGrpc.newBlockingStub(channel).cancelJob(CancelJobRequest.newBuilder().setName(job.getName()).build());
        }
    }

    @Test
    void policyVersionsAreNamedAndPaged() {
        var policies = PolicyServiceGrpc.newBlockingStub(channel);
        var all = pages(t -> policies.listPolicyVersions(ListPolicyVersionsRequest.newBuilder().setPageSize(1_000_000).setPageToken(t).build()),
                r -> r.getVersionsList(), r -> r.getNextPageToken());
        var one = pages(t -> policies.listPolicyVersions(ListPolicyVersionsRequest.newBuilder().setPageSize(1).setPageToken(t).build()),
                r -> r.getVersionsList(), r -> r.getNextPageToken());
        assertThat(one).isEqualTo(all);
        assertThat(all).allSatisfy(v -> assertThat(v.getName()).isEqualTo("policyVersions/" + v.getVersion()));
        assertThat(violatedField(() -> policies.listPolicyVersions(ListPolicyVersionsRequest.newBuilder().setPageToken("bm90IGEgdG9rZW4").build())))
                .isEqualTo("page_token");
    }
}
