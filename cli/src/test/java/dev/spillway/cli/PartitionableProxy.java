package dev.spillway.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP proxy on loopback that forwards bytes both ways (TLS passes through untouched) and can be
 * partitioned: while partitioned it moves nothing and closes nothing, on connections old and new, as
 * a network that drops every packet. Bytes are not read while partitioned, so they wait in the
 * kernel's buffers (and the sender's) and flow again after {@link #heal}, as TCP's retransmissions
 * would deliver them; a close or reset from either side during the partition is passed on only after
 * the heal.
 */
final class PartitionableProxy implements AutoCloseable {

    private final ServerSocket listener;
    private final InetSocketAddress target;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private boolean partitioned;
    private volatile boolean closed;

    PartitionableProxy(String targetHost, int targetPort) throws IOException {
        this.target = new InetSocketAddress(targetHost, targetPort);
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        daemon("proxy-accept-" + port(), this::acceptLoop).start();
    }

    int port() {
        return listener.getLocalPort();
    }

    /** host:port to give a client instead of the target's. */
    String address() {
        return "127.0.0.1:" + port();
    }

    /** From now on nothing moves in either direction, and no connection is closed. */
    synchronized void partition() {
        partitioned = true;
    }

    /** Everything held flows again. */
    synchronized void heal() {
        partitioned = false;
        notifyAll();
    }

    private synchronized void awaitFlowing() throws InterruptedException {
        while (partitioned && !closed) wait();
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                if (closed) return;
                throw new UncheckedIOException(e);
            }
            sockets.add(client);
            daemon("proxy-connect-" + client.getPort(), () -> connect(client)).start();
        }
    }

    private void connect(Socket client) {
        Socket upstream = new Socket();
        sockets.add(upstream);
        try {
            awaitFlowing(); // a partitioned network carries no SYN either
            upstream.connect(target, 10_000);
            upstream.setTcpNoDelay(true);
            client.setTcpNoDelay(true);
        } catch (IOException | InterruptedException e) {
            closeQuietly(client);
            closeQuietly(upstream);
            return;
        }
        daemon("proxy-up-" + client.getPort(), () -> pump(client, upstream)).start();
        daemon("proxy-down-" + client.getPort(), () -> pump(upstream, client)).start();
    }

    private void pump(Socket from, Socket to) {
        byte[] buffer = new byte[16 * 1024];
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            while (true) {
                awaitFlowing();
                int n = in.read(buffer);
                awaitFlowing(); // what was read just as the partition began is held until the heal
                if (n < 0) {
                    to.shutdownOutput();
                    return;
                }
                out.write(buffer, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            try {
                awaitFlowing();
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
            closeQuietly(from);
            closeQuietly(to);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            notifyAll();
        }
        closeQuietly(listener);
        sockets.forEach(PartitionableProxy::closeQuietly);
    }

    private static Thread daemon(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // closing anyway
        }
    }
}
