package dev.spillway.broker.admission;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.store.JobStore;
import io.smallrye.mutiny.Uni;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Group commit under submissions from many threads at once (admission hands jobs over from worker threads when it quotes
 * them for budgets): every job is written exactly once and every submission completes, also when the store refuses some
 * batches and when it throws before it returns.
 */
class SubmissionBatcherTest {

    /** A store that completes writes later on other threads, refuses batches holding a job marked "refuse", and throws for "throw". */
    static final class SlowStore extends JobStore {
        final Set<UUID> written = ConcurrentHashMap.newKeySet();
        final AtomicInteger duplicates = new AtomicInteger();
        final ExecutorService completer = Executors.newFixedThreadPool(4);

        SlowStore() {
            super(null);
        }

        @Override
        public Uni<java.time.OffsetDateTime> insertAll(List<NewJob> jobs) {
            if (jobs.stream().anyMatch(j -> j.spec().getName().equals("throw"))) throw new IllegalStateException("cannot build the statement");
            boolean refuse = jobs.stream().anyMatch(j -> j.spec().getName().equals("refuse"));
            CompletableFuture<java.time.OffsetDateTime> done = new CompletableFuture<>();
            // The write lands 0-2 ms later, on another thread, as a database's answer would.
            CompletableFuture.delayedExecutor(ThreadLocalRandom.current().nextInt(3), TimeUnit.MILLISECONDS, completer).execute(() -> {
                if (refuse) {
                    done.completeExceptionally(new IllegalStateException("refused"));
                } else {
                    for (NewJob j : jobs) if (!written.add(j.id())) duplicates.incrementAndGet();
                    done.complete(java.time.OffsetDateTime.now(java.time.ZoneOffset.UTC));
                }
            });
            return Uni.createFrom().completionStage(done);
        }
    }

    @Test
    void everySubmissionFromManyThreadsCompletesAndEachJobIsWrittenOnce() throws Exception {
        SlowStore store = new SlowStore();
        SubmissionBatcher batcher = new SubmissionBatcher(store);
        // Context propagation (SmallRye, on this test's class path outside Quarkus) sets itself up on first use, once, and
        // fails when sixteen threads race to: one submission on this thread first.
        batcher.submit(new JobStore.NewJob(UUID.randomUUID(), JobSpec.newBuilder().setName("first").setTaskCount(1).build(), "t", null))
                .await().atMost(java.time.Duration.ofSeconds(10));
        java.util.Queue<Throwable> submitterErrors = new java.util.concurrent.ConcurrentLinkedQueue<>();
        ExecutorService submitters = Executors.newFixedThreadPool(16, r -> {
            Thread t = new Thread(r);
            t.setUncaughtExceptionHandler((th, e) -> submitterErrors.add(e));
            return t;
        });
        Set<UUID> ok = ConcurrentHashMap.newKeySet();
        AtomicInteger failed = new AtomicInteger();
        List<CompletableFuture<Void>> all = new java.util.ArrayList<>();
        for (int i = 0; i < 8000; i++) {
            String name = i % 997 == 0 ? "refuse" : i % 1009 == 0 ? "throw" : "job";
            UUID id = UUID.randomUUID();
            CompletableFuture<Void> f = new CompletableFuture<>();
            all.add(f);
            submitters.execute(() -> batcher.submit(new JobStore.NewJob(id, JobSpec.newBuilder().setName(name).setTaskCount(1).build(), "t", null))
                    .subscribe().with(v -> {
                        ok.add(id);
                        f.complete(null);
                    }, e -> {
                        failed.incrementAndGet();
                        f.complete(null);
                    }));
        }
        try {
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            long open = all.stream().filter(f -> !f.isDone()).count();
            throw new AssertionError(open + " submissions never completed; written " + store.written.size() + ", ok " + ok.size() + ", failed "
                    + failed.get() + ", submitter errors " + submitterErrors, e);
        }
        submitters.shutdown();
        store.completer.shutdown();
        assertThat(ok.size() + failed.get()).isEqualTo(8000);
        assertThat(failed.get()).as("only the refused and throwing jobs fail").isEqualTo(9 + 7);
        assertThat(store.written).containsAll(ok);
        assertThat(store.duplicates).hasValue(0);
    }
}
