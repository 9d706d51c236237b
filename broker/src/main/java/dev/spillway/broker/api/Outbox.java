package dev.spillway.broker.api;

import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.function.ToIntFunction;

/**
 * A server stream that honours gRPC flow control: messages go to the transport only while the
 * client is ready to take them, the rest wait here, and at most {@code maxBytes} of them. A
 * client that stops reading therefore holds a bounded buffer: producers either wait for
 * {@link #whenDrained} (watch, which fetches its next batch only then) or, when they cannot wait
 * (a node streaming a log), the stream ends with RESOURCE_EXHAUSTED once the bound is reached.
 *
 * <p>Producers may call from any thread; everything that touches the call runs on the call's
 * own event loop, where the transport's readiness is exact (a write from another thread is only
 * a task queued for that loop, which readiness does not count).
 *
 * <p>Must be made while the service method runs (gRPC takes stream handlers only then). Its
 * {@code onClosed} runs once, however the call ends (completed, failed, cancelled).
 */
final class Outbox<T> {

    private final ServerCallStreamObserver<T> call;
    private final io.vertx.core.Context loop;
    private final ToIntFunction<T> size;
    private final long maxBytes;
    private final ArrayDeque<T> queue = new ArrayDeque<>();
    private final Runnable onClosed;
    private final Runnable onOverflow;
    private long queuedBytes;
    private Runnable drained;
    private boolean closed;
    private boolean flushScheduled;
    private boolean released;

    /** @param onOverflow runs when the stream is ended because the client let {@code maxBytes} pile up */
    Outbox(ServerCallStreamObserver<T> call, ToIntFunction<T> size, long maxBytes, Runnable onClosed, Runnable onOverflow) {
        this.onOverflow = onOverflow;
        this.call = call;
        this.loop = io.vertx.core.Vertx.currentContext();
        this.size = size;
        this.maxBytes = maxBytes;
        this.onClosed = onClosed;
        call.setOnReadyHandler(this::flush);
        call.setOnCancelHandler(this::cancelled);
        call.setOnCloseHandler(this::finished);
    }

    /** Queues a message; false (and the stream ends with RESOURCE_EXHAUSTED) when the client let too much pile up. */
    synchronized boolean send(T message) {
        if (closed) return false;
        queue.add(message);
        queuedBytes += size.applyAsInt(message);
        if (queuedBytes > maxBytes) {
            onOverflow.run();
            fail(ApiErrors.toStatus(new dev.spillway.broker.errors.TooManyRequests(dev.spillway.api.v1.ErrorReason.ERROR_REASON_CLIENT_NOT_READING,
                    "the client is not reading this stream: more than " + maxBytes + " bytes are waiting for it", null)));
            return false;
        }
        scheduleFlush();
        return true;
    }

    synchronized void sendAll(Collection<T> messages) {
        for (T m : messages) {
            if (!send(m)) return;
        }
    }

    /** Runs {@code next} once everything queued so far went to the transport. */
    synchronized void whenDrained(Runnable next) {
        if (closed) return;
        drained = next;
        scheduleFlush();
    }

    /** Ends the stream normally once everything queued went out. */
    synchronized void complete() {
        whenDrained(() -> {
            synchronized (this) {
                if (closed) return;
                closed = true;
            }
            call.onCompleted();
        });
    }

    /** Ends the stream with {@code status} now; what is still queued is dropped. */
    synchronized void fail(StatusRuntimeException status) {
        if (closed) return;
        closed = true;
        queue.clear();
        queuedBytes = 0;
        drained = null;
        onLoop(() -> call.onError(status));
    }

    synchronized boolean isClosed() {
        return closed || call.isCancelled();
    }

    private void scheduleFlush() {
        if (flushScheduled) return;
        flushScheduled = true;
        onLoop(this::flush);
    }

    /** On the call's event loop: hands over what the transport takes now, then runs a waiting whenDrained. */
    private void flush() {
        Runnable next = null;
        synchronized (this) {
            flushScheduled = false;
            while (!closed && !queue.isEmpty() && call.isReady()) {
                T m = queue.poll();
                queuedBytes -= size.applyAsInt(m);
                call.onNext(m);
            }
            if (!closed && queue.isEmpty() && drained != null) {
                next = drained;
                drained = null;
            }
        }
        if (next != null) next.run();
    }

    private void onLoop(Runnable r) {
        if (loop == null || io.vertx.core.Vertx.currentContext() == loop) r.run();
        else loop.runOnContext(v -> r.run());
    }

    private synchronized void cancelled() {
        closed = true;
        queue.clear();
        queuedBytes = 0;
        drained = null;
        finished();
    }

    private synchronized void finished() {
        if (released) return;
        released = true;
        onClosed.run();
    }
}
