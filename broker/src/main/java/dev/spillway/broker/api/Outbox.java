package dev.spillway.broker.api;

import io.grpc.Status;
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
 * <p>Must be made while the service method runs (gRPC takes stream handlers only then). Its
 * {@code onClosed} runs once, however the call ends (completed, failed, cancelled).
 */
final class Outbox<T> {

    private final ServerCallStreamObserver<T> call;
    private final ToIntFunction<T> size;
    private final long maxBytes;
    private final ArrayDeque<T> queue = new ArrayDeque<>();
    private long queuedBytes;
    private Runnable drained;
    private boolean closed;
    private final Runnable onClosed;

    Outbox(ServerCallStreamObserver<T> call, ToIntFunction<T> size, long maxBytes, Runnable onClosed) {
        this.call = call;
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
        if (queuedBytes > maxBytes && !call.isReady()) {
            fail(Status.RESOURCE_EXHAUSTED.withDescription("the client is not reading this stream: more than " + maxBytes
                    + " bytes are waiting for it"));
            return false;
        }
        flush();
        return !closed;
    }

    synchronized void sendAll(Collection<T> messages) {
        for (T m : messages) {
            if (!send(m)) return;
        }
    }

    /** Runs {@code next} once everything queued so far went to the transport (at once if nothing waits). */
    synchronized void whenDrained(Runnable next) {
        if (closed) return;
        if (queue.isEmpty()) {
            next.run();
        } else {
            drained = next;
        }
    }

    synchronized void complete() {
        whenDrained(() -> {
            if (closed) return;
            closed = true;
            call.onCompleted();
        });
    }

    synchronized void fail(Status status) {
        if (closed) return;
        closed = true;
        queue.clear();
        queuedBytes = 0;
        call.onError(status.asRuntimeException());
    }

    synchronized boolean isClosed() {
        return closed || call.isCancelled();
    }

    private synchronized void flush() {
        while (!closed && !queue.isEmpty() && call.isReady()) {
            T m = queue.poll();
            queuedBytes -= size.applyAsInt(m);
            call.onNext(m);
        }
        if (queue.isEmpty() && drained != null) {
            Runnable next = drained;
            drained = null;
            next.run();
        }
    }

    private synchronized void cancelled() {
        closed = true;
        queue.clear();
        queuedBytes = 0;
        finished();
    }

    private boolean released;

    private synchronized void finished() {
        if (released) return;
        released = true;
        onClosed.run();
    }
}
