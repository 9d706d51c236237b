package dev.spillway.core.scheduling;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

class FairQueuePropertiesTest {

    private static final TaskShape SHAPE = new TaskShape(new Resources(1000, 1024, 0), Map.of(), Set.of(), Set.of(), false);

    @Property(tries = 500)
    void anAllocationStaysWithinTheBudgetAndEachJobsQueue(@ForAll("queues") List<FairQueue.Job> jobs,
                                                          @ForAll @IntRange(min = 0, max = 5000) int budget) {
        Map<String, Integer> take = FairQueue.allocate(jobs, budget, FairQueue.Job::queued);
        assertThat(take.values().stream().mapToLong(Integer::longValue).sum()).isLessThanOrEqualTo(budget);
        for (FairQueue.Job j : jobs) assertThat(take.getOrDefault(j.id(), 0)).isBetween(0, j.queued());
    }

    @Property(tries = 500)
    void aBudgetThatCoversEveryoneServesEveryone(@ForAll("queues") List<FairQueue.Job> jobs) {
        int demand = jobs.stream().mapToInt(FairQueue.Job::queued).sum();
        Map<String, Integer> take = FairQueue.allocate(jobs, demand, FairQueue.Job::queued);
        for (FairQueue.Job j : jobs) assertThat(take.getOrDefault(j.id(), 0)).isEqualTo(j.queued());
    }

    @Property(tries = 500)
    void noBudgetIsLeftUnusedWhileWorkIsLeftUnread(@ForAll("queues") List<FairQueue.Job> jobs,
                                                    @ForAll @IntRange(min = 0, max = 5000) int budget) {
        int demand = jobs.stream().mapToInt(FairQueue.Job::queued).sum();
        Map<String, Integer> take = FairQueue.allocate(jobs, budget, FairQueue.Job::queued);
        assertThat(take.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(Math.min(budget, demand));
    }

    @Property(tries = 500)
    void aLowerPriorityIsReadOnlyOnceEveryHigherOneIsReadInFull(@ForAll("queues") List<FairQueue.Job> jobs,
                                                                 @ForAll @IntRange(min = 0, max = 5000) int budget) {
        Map<String, Integer> take = FairQueue.allocate(jobs, budget, FairQueue.Job::queued);
        for (FairQueue.Job low : jobs) {
            if (take.getOrDefault(low.id(), 0) == 0) continue;
            for (FairQueue.Job high : jobs) {
                if (high.priority() > low.priority()) assertThat(take.getOrDefault(high.id(), 0)).isEqualTo(high.queued());
            }
        }
    }

    @Property(tries = 500)
    void withinALevelEveryTenantGetsItsFairShare(@ForAll("queues") List<FairQueue.Job> jobs,
                                                 @ForAll @IntRange(min = 0, max = 5000) int budget) {
        List<FairQueue.Job> level = jobs.stream().filter(j -> j.priority() == 0).toList(); // one level
        Map<String, Integer> take = FairQueue.allocate(level, budget, FairQueue.Job::queued);
        Map<String, Integer> demand = new HashMap<>();
        Map<String, Integer> got = new HashMap<>();
        for (FairQueue.Job j : level) {
            demand.merge(j.tenant(), j.queued(), Integer::sum);
            got.merge(j.tenant(), take.getOrDefault(j.id(), 0), Integer::sum);
        }
        if (demand.isEmpty()) return;
        int fair = budget / demand.size();
        demand.forEach((tenant, d) -> assertThat(got.get(tenant)).as("tenant %s", tenant).isGreaterThanOrEqualTo(Math.min(d, fair)));
    }

    @Example
    void aSmallTenantsJobIsReadBesideAHugeOne() {
        List<FairQueue.Job> jobs = new ArrayList<>();
        for (int i = 0; i < 10; i++) jobs.add(new FairQueue.Job("big-" + i, "a", 0, i, 100_000));
        jobs.add(new FairQueue.Job("small", "b", 0, 1_000, 40));
        Map<String, Integer> take = FairQueue.allocate(jobs, 50_000, FairQueue.Job::queued);
        assertThat(take.get("small")).isEqualTo(40);
        assertThat(take.get("big-0")).isEqualTo(49_960); // tenant a's share goes to its oldest job first
        assertThat(take).doesNotContainKey("big-1");
    }

    @Example
    void theTenantHoldingLessOfTheClusterGoesFirstAndTenantsAlternate() {
        List<FairQueue.Job> jobs = List.of(new FairQueue.Job("a1", "a", 0, 1, 3), new FairQueue.Job("b1", "b", 0, 2, 3));
        Map<String, List<PendingTask>> read = Map.of("a1", tasks("a1", 3, 10), "b1", tasks("b1", 3, 20));
        List<PendingTask> ranked = new ArrayList<>(FairQueue.rank(jobs, read, Map.of("a", 1L)));
        ranked.sort(Scheduler.QUEUE_ORDER);
        assertThat(ranked.stream().map(t -> t.ref().jobId()).toList()).containsExactly("b1", "a1", "b1", "a1", "b1", "a1");
    }

    @Example
    void priorityStillComesFirst() {
        List<FairQueue.Job> jobs = List.of(new FairQueue.Job("low", "a", 0, 1, 2), new FairQueue.Job("high", "b", 1000, 2, 1));
        Map<String, List<PendingTask>> read = Map.of("low", tasks("low", 2, 10), "high", tasksAt("high", 1, 20, 1000));
        List<PendingTask> ranked = new ArrayList<>(FairQueue.rank(jobs, read, Map.of("b", 50L)));
        ranked.sort(Scheduler.QUEUE_ORDER);
        assertThat(ranked.get(0).ref().jobId()).isEqualTo("high");
    }

    private static List<PendingTask> tasks(String job, int n, long queuedAt) {
        return tasksAt(job, n, queuedAt, 0);
    }

    private static List<PendingTask> tasksAt(String job, int n, long queuedAt, int priority) {
        List<PendingTask> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(new PendingTask(new TaskRef(job, i, 0), SHAPE, priority, queuedAt + i));
        return out;
    }

    /** Jobs of the group "even" or "odd" (by their index, standing in for a shape), each group worth {@code allowance} tasks per tenant. */
    private static String group(FairQueue.Job j) {
        return Integer.parseInt(j.id().substring(4)) % 2 == 0 ? "even" : "odd";
    }

    @Property(tries = 500)
    void sharedCapsGiveEachTenantAndShapeItsAllowanceInFullOrEveryTaskItHas(@ForAll("queues") List<FairQueue.Job> jobs,
                                                                              @ForAll @IntRange(min = 0, max = 4000) int allowance) {
        Map<String, Integer> caps = FairQueue.sharedCaps(jobs, FairQueuePropertiesTest::group, g -> allowance);
        assertThat(caps.keySet()).containsExactlyInAnyOrderElementsOf(jobs.stream().map(FairQueue.Job::id).toList());
        Map<String, Long> given = new HashMap<>();
        Map<String, Long> queued = new HashMap<>();
        for (FairQueue.Job j : jobs) {
            assertThat(caps.get(j.id())).isBetween(0, j.queued());
            given.merge(j.tenant() + "/" + group(j), (long) caps.get(j.id()), Long::sum);
            queued.merge(j.tenant() + "/" + group(j), (long) j.queued(), Long::sum);
        }
        given.forEach((key, n) -> assertThat(n).as(key).isEqualTo(Math.min(allowance, queued.get(key))));
    }

    @Property(tries = 500)
    void underSharedCapsAnOlderOrHigherJobOfTheSameTenantAndShapeIsServedFirst(@ForAll("queues") List<FairQueue.Job> jobs,
                                                                              @ForAll @IntRange(min = 0, max = 4000) int allowance) {
        Map<String, Integer> caps = FairQueue.sharedCaps(jobs, FairQueuePropertiesTest::group, g -> allowance);
        for (FairQueue.Job later : jobs) {
            if (caps.get(later.id()) == 0) continue;
            for (FairQueue.Job first : jobs) {
                boolean ahead = first.priority() > later.priority()
                        || first.priority() == later.priority() && FairQueue.AGE.compare(first, later) < 0;
                if (ahead && first.tenant().equals(later.tenant()) && group(first).equals(group(later))) {
                    assertThat(caps.get(first.id())).as("%s before %s", first, later).isEqualTo(first.queued());
                }
            }
        }
    }

    @Example
    void twoThousandSingleTaskJobsAndThreeFreeSlotsReadAFewTasksNotTwoThousand() {
        List<FairQueue.Job> jobs = new ArrayList<>();
        for (int i = 0; i < 2000; i++) jobs.add(new FairQueue.Job("job-" + i, i % 2 == 0 ? "a" : "b", 0, i, 1));
        Map<String, Integer> caps = FairQueue.sharedCaps(jobs, j -> SHAPE, shape -> 3 + 16);
        Map<String, Integer> take = FairQueue.allocate(jobs, 50_000, j -> caps.get(j.id()));
        assertThat(take.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(2 * 19);
        assertThat(take).containsKeys("job-0", "job-1", "job-36", "job-37").doesNotContainKeys("job-38", "job-39");
    }

    @Provide
    Arbitrary<List<FairQueue.Job>> queues() {
        Arbitrary<FairQueue.Job> job = Combinators.combine(
                Arbitraries.of("a", "b", "c", "d"),
                Arbitraries.of(0, 0, 0, 10, -5),
                Arbitraries.longs().between(0, 100),
                Arbitraries.integers().between(1, 3000)).as((tenant, priority, created, queued) ->
                new FairQueue.Job("", tenant, priority, created, queued));
        return job.list().ofMaxSize(12).map(list -> {
            List<FairQueue.Job> named = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) {
                FairQueue.Job j = list.get(i);
                named.add(new FairQueue.Job("job-" + i, j.tenant(), j.priority(), j.createdMillis(), j.queued()));
            }
            return named;
        });
    }
}
