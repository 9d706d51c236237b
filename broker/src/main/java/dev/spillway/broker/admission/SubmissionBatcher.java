package dev.spillway.broker.admission;

import dev.spillway.broker.store.JobStore;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Group commit for submissions. Each submission still returns only once its job is durably
 * committed, but submissions that arrive while earlier ones are being written go to the database
 * together, in one statement and one WAL flush. There is no added delay: a submission that finds
 * a free writer is written at once.
 *
 * <p>A batch is all or nothing, so when the database refuses one, each of its jobs is written
 * again on its own: only a job the database refuses by itself fails.
 *
 * <p>Jobs that reserve budget go in a lane of their own with one writer: their statements lock
 * the budgets' period rows until they commit, so writers of such jobs would only wait for each
 * other, each with a smaller batch; one writer takes all that waited meanwhile into one statement.
 */
@ApplicationScoped
public class SubmissionBatcher {

    private static final org.jboss.logging.Logger LOG = org.jboss.logging.Logger.getLogger(SubmissionBatcher.class);

    /** Concurrent writes (each takes one pooled connection). */
    private static final int WRITERS = 4;
    /** Bounds one statement's size. */
    private static final int MAX_JOBS = 512;
    private static final int MAX_TASKS = 200_000;

    private record Pending(JobStore.NewJob job, CompletableFuture<OffsetDateTime> done) {
    }

    private final JobStore store;
    private final Lane free = new Lane(WRITERS);
    private final Lane budgeted = new Lane(1);

    public SubmissionBatcher(JobStore store) {
        this.store = store;
    }

    /** Stores the job with others that arrive meanwhile; its {@code created_at} once it is stored. */
    public Uni<OffsetDateTime> submit(JobStore.NewJob job) {
        Pending p = new Pending(job, new CompletableFuture<>());
        Lane lane = job.reservations().isEmpty() ? free : budgeted;
        lane.queue.add(p);
        lane.drain();
        return Uni.createFrom().completionStage(p.done());
    }

    /** A queue of jobs and at most {@code writers} statements writing them at once. */
    private final class Lane {
        private final int writers;
        private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
        private final AtomicInteger writing = new AtomicInteger();

        Lane(int writers) {
            this.writers = writers;
        }

        private void drain() {
            while (!queue.isEmpty()) {
                int n = writing.get();
                if (n >= writers) return; // a finishing writer drains again
                if (!writing.compareAndSet(n, n + 1)) continue;
                List<Pending> batch = take();
                if (batch.isEmpty()) {
                    writing.decrementAndGet();
                    continue;
                }
                Uni<OffsetDateTime> write;
                try {
                    write = store.insertAll(batch.stream().map(Pending::job).toList());
                } catch (RuntimeException e) {
                    write = Uni.createFrom().failure(e); // the batch fails; the writer is freed all the same
                }
                write.subscribe().with(
                        createdAt -> finish(batch, createdAt, null),
                        failure -> {
                            if (batch.size() == 1) {
                                finish(batch, null, failure);
                            } else {
                                LOG.debugf(failure, "a batch of %d submissions was refused; writing each on its own", batch.size());
                                oneByOne(batch, 0);
                            }
                        });
            }
        }

        /** Writes the batch's jobs one at a time, in order, each completing alone; then frees the writer. */
        private void oneByOne(List<Pending> batch, int from) {
            if (from == batch.size()) {
                finish(List.of(), null, null);
                return;
            }
            Pending p = batch.get(from);
            Uni<OffsetDateTime> write;
            try {
                write = store.insertAll(List.of(p.job()));
            } catch (RuntimeException e) {
                write = Uni.createFrom().failure(e);
            }
            write.subscribe().with(
                    createdAt -> {
                        p.done().complete(createdAt);
                        oneByOne(batch, from + 1);
                    },
                    failure -> {
                        p.done().completeExceptionally(failure);
                        oneByOne(batch, from + 1);
                    });
        }

        /**
         * The next batch: jobs in arrival order until {@link #MAX_JOBS}, or until they hold {@link #MAX_TASKS} tasks (the job
         * that reaches it is the batch's last). Writers take concurrently, each polling its own jobs.
         */
        private List<Pending> take() {
            List<Pending> batch = new ArrayList<>();
            long tasks = 0;
            Pending p;
            while (batch.size() < MAX_JOBS && tasks < MAX_TASKS && (p = queue.poll()) != null) {
                batch.add(p);
                tasks += p.job().spec().getTaskCount();
            }
            return batch;
        }

        private void finish(List<Pending> batch, OffsetDateTime createdAt, Throwable failure) {
            writing.decrementAndGet();
            drain();
            for (Pending p : batch) {
                if (failure == null) p.done().complete(createdAt);
                else p.done().completeExceptionally(failure);
            }
        }
    }
}
