package dev.spillway.agent;

import dev.spillway.api.agent.v1.AttemptState;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

/**
 * Taking the node out of service, on SIGTERM or a spot interruption notice: it takes no new work,
 * lets its running attempts finish for up to a timeout (or none, handing back at once), stops the
 * rest and reports them handed back (their tasks are re-queued without using a retry), waits for
 * those reports to go out, then stops. The first call drains; later ones wait for it to be done,
 * so a spot notice and the SIGTERM that follows drain once.
 */
final class Drain {

    enum Mode {
        /** Wait for running attempts up to the drain timeout, then hand back the rest. */
        FINISH,
        /** Stop running attempts at once and hand their tasks back. */
        HAND_BACK
    }

    private static final Logger LOG = Logger.getLogger(Drain.class.getName());
    private static final long KILL_GRACE_MILLIS = 5000;
    /** Longest wait for the ends of stopped attempts to be reported before the node stops anyway. */
    private static final Duration REPORT_WAIT = Duration.ofSeconds(10);

    private final Collection<Attempt> attempts;
    private final Runnable takeNoNewWork;
    private final Runnable stop;
    private final AtomicBoolean started = new AtomicBoolean();
    private final CompletableFuture<Void> done = new CompletableFuture<>();

    /**
     * @param attempts      the node's attempts, a live view
     * @param takeNoNewWork turns new assignments away and tells the broker the node drains
     * @param stop          closes the broker stream and stops the agent's threads
     */
    Drain(Collection<Attempt> attempts, Runnable takeNoNewWork, Runnable stop) {
        this.attempts = attempts;
        this.takeNoNewWork = takeNoNewWork;
        this.stop = stop;
    }

    /**
     * Drains per {@code mode}, finishing for at most {@code timeout}; {@code why} is logged.
     * Returns when the node has stopped, whichever call drained it.
     */
    void run(Mode mode, Duration timeout, String why) {
        if (!started.compareAndSet(false, true)) {
            done.join();
            return;
        }
        try {
            drain(mode, timeout, why);
        } finally {
            done.complete(null);
        }
    }

    private void drain(Mode mode, Duration timeout, String why) {
        LOG.info(() -> "draining: " + why + " (" + mode.name().toLowerCase(Locale.ROOT).replace('_', '-') + ", up to "
                + timeout.toSeconds() + " s)");
        takeNoNewWork.run();
        waitForRunning(mode == Mode.FINISH ? timeout : Duration.ZERO, 100);
        List<Attempt> left = attempts.stream().filter(a -> !a.finished()).toList();
        left.forEach(a -> a.stop(AttemptState.ATTEMPT_STATE_HANDED_BACK, "node drained; task handed back", KILL_GRACE_MILLIS));
        // The ends are reported from the processes' exit callbacks; let them go out before closing.
        waitForRunning(REPORT_WAIT, 50);
        stop.run();
        LOG.info(() -> "stopped; " + left.size() + " attempt(s) handed back");
    }

    /** Waits until every attempt ended and its end was reported, for at most {@code limit}. */
    private void waitForRunning(Duration limit, long pollMillis) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (running() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(pollMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private long running() {
        return attempts.stream().filter(a -> !a.endReported()).count();
    }
}
