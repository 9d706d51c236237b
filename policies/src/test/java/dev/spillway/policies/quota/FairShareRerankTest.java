package dev.spillway.policies.quota;

import static dev.spillway.policies.quota.QuotaAdmissionTest.ONE_CPU;
import static dev.spillway.policies.quota.QuotaAdmissionTest.lab;
import static dev.spillway.policies.quota.QuotaAdmissionTest.using;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.scheduling.PendingTask;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.scheduling.TaskShape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Fair share in a cycle's queue: among quota tenants, the one furthest below its share picks first; others keep their turns. */
class FairShareRerankTest {

    private static final TaskShape SHAPE = new TaskShape(new Resources(1000, 1024, 0), Map.of(), Set.of());

    private static PendingTask task(String job, int index, int priority, int rank) {
        return new PendingTask(new TaskRef(job, index, 0), SHAPE, priority, 0, rank);
    }

    private static final Map<String, Workload> JOBS = Map.of(
            "r1", new Workload("r1", "research", 0, 100, 2, List.of(new Workload.FlavorRequest("onprem", ONE_CPU)), false),
            "m1", new Workload("m1", "ml", 0, 200, 2, List.of(new Workload.FlavorRequest("onprem", ONE_CPU)), false),
            "urgent", new Workload("urgent", "research", 500, 300, 1, List.of(new Workload.FlavorRequest("onprem", ONE_CPU)), false));

    @Test
    void theTenantBorrowingLessGoesFirstWithinAPriorityLevelAndOthersKeepTheirPlaces() {
        // research borrows 32 cores of what ml lends (64 used on a nominal 32); ml uses 16 of its 64: ml is below its share.
        QuotaState state = QuotaState.of(lab(), using(64, 16));
        List<PendingTask> queue = List.of(
                task("urgent", 0, 500, 7),     // a higher priority level: first whatever the shares
                task("r1", 0, 0, 0), task("r1", 1, 0, 1),
                task("x1", 0, 0, 2),           // a tenant without a quota keeps its place
                task("m1", 0, 0, 3), task("m1", 1, 0, 4));

        List<PendingTask> ranked = FairShare.rerank(queue, state, JOBS::get);

        List<PendingTask> sorted = new ArrayList<>(ranked);
        sorted.sort(Scheduler.QUEUE_ORDER);
        assertThat(sorted).extracting(t -> t.ref().jobId() + "/" + t.ref().index())
                .containsExactly("urgent/0", "m1/0", "m1/1", "x1/0", "r1/0", "r1/1");
        assertThat(ranked.get(3).rank()).as("x1 untouched").isEqualTo(2);
    }

    @Test
    void withoutQuotaTenantsTheQueueIsUnchanged() {
        List<PendingTask> queue = List.of(task("x1", 0, 0, 0), task("x2", 0, 0, 1));
        assertThat(FairShare.rerank(queue, QuotaState.of(lab(), using(0, 0)), id -> null)).isSameAs(queue);
    }
}
