package dev.spillway.agent;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.logging.Logger;

/**
 * One output stream of an attempt (stdout or stderr) kept in a file of at most {@code maxBytes},
 * holding the newest output: when a write would take the file past the cap, the newest half of
 * the cap is moved to the front of the file and the rest is cut off, then the write is appended.
 *
 * <p>Why a pump: the task writes into a pipe and this agent copies it into the file
 * ({@link #pump}), one thread per stream. The cheaper-looking alternative, letting the task write
 * the file itself and cutting it down now and then from the agent, is not correct: the task
 * keeps appending while the agent copies the tail to the front, so output written in between is
 * lost or overwritten, and between two cuts a fast writer takes the file far past its cap. With
 * the agent as the file's only writer the cap always holds, the newest output is never lost, and
 * readers can be told exactly what was dropped. Cost: a thread per stream blocked in a read, and
 * at most one byte copied within the file per byte written (a cut moves at most half the cap and
 * happens at most once per half cap of output). A task whose output the agent copies too slowly
 * blocks on its write, as it would on a slow disk.
 *
 * <p>Readers address output by its offset since the attempt started ({@link #read}), so a reader
 * that follows the file is not confused by a cut: it is told where the kept output begins.
 */
final class CappedLog {

    private static final Logger LOG = Logger.getLogger(CappedLog.class.getName());
    private static final int BUFFER_BYTES = 64 * 1024;

    /** What {@link #read} found: {@code count} bytes of output starting at offset {@code from} (≥ the offset asked for when output was dropped). */
    record Chunk(long from, int count) {
    }

    private final Path file;
    private final long maxBytes;
    /** Opened at the first output (or at once when the file is not empty): a silent task holds no descriptor. */
    private FileChannel channel;
    private boolean closed;
    /** Bytes in the file. */
    private long size;
    /** Bytes of output cut from the front of the file so far: the file starts at this offset of the output. */
    private long dropped;

    /** Opens {@code file} (existing, emptied) to keep at most {@code maxBytes} of output. */
    CappedLog(Path file, long maxBytes) throws IOException {
        if (maxBytes < 2) throw new IllegalArgumentException("a log cap must be at least 2 bytes: " + maxBytes);
        this.file = file;
        this.maxBytes = maxBytes;
        // Each descriptor the agent holds is closed once more in every process it starts (the JDK closes them all before the exec).
        if (Files.size(file) > 0) open();
    }

    private void open() throws IOException {
        channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
    }

    /** Copies {@code in} into the file until its end (every writer closed it); closes both. Blocks: run it on a thread of its own. */
    void pump(InputStream in) {
        byte[] buf = new byte[BUFFER_BYTES];
        try (in) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                if (n > 0) write(buf, 0, n);
            }
        } catch (IOException e) {
            LOG.warning("output to " + file + " stopped: " + e.getMessage());
        } finally {
            close();
        }
    }

    /** Stops writing (nothing was pumped: the process did not start). */
    synchronized void close() {
        closed = true;
        if (channel == null) return;
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing more is written
        }
    }

    /** Appends {@code len} bytes, cutting the oldest output first if the file would pass its cap. */
    synchronized void write(byte[] b, int off, int len) throws IOException {
        if (closed) throw new IOException("output to " + file + " is closed");
        if (channel == null) open();
        if (len >= maxBytes) {
            // This write alone fills the cap: keep its newest bytes only.
            dropped += size + (len - maxBytes);
            off += (int) (len - maxBytes);
            len = (int) maxBytes;
            channel.truncate(0);
            size = 0;
        } else if (size + len > maxBytes) {
            long keep = Math.min(size, Math.min(maxBytes / 2, maxBytes - len));
            moveToFront(size - keep, keep);
            channel.truncate(keep);
            dropped += size - keep;
            size = keep;
        }
        ByteBuffer data = ByteBuffer.wrap(b, off, len);
        long at = size;
        while (data.hasRemaining()) at += channel.write(data, at);
        size = at;
    }

    /** Copies {@code length} bytes from {@code from} to offset 0 (forwards: the source is always ahead of the target). */
    private void moveToFront(long from, long length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(BUFFER_BYTES, Math.max(1, length)));
        long done = 0;
        while (done < length) {
            buf.clear().limit((int) Math.min(buf.capacity(), length - done));
            int n = channel.read(buf, from + done);
            if (n <= 0) throw new IOException("short read moving output in " + file);
            buf.flip();
            long to = done;
            while (buf.hasRemaining()) to += channel.write(buf, to);
            done += n;
        }
    }

    /** Bytes of output cut from the front so far. */
    synchronized long dropped() {
        return dropped;
    }

    /**
     * Reads up to {@code buf.length} bytes of output from offset {@code from} (counted since the
     * attempt started); when that output was cut, from the oldest output kept instead.
     */
    synchronized Chunk read(long from, byte[] buf) throws IOException {
        long start = Math.max(from, dropped);
        long at = start - dropped;
        int n = 0;
        if (at < size) {
            try (FileChannel reader = FileChannel.open(file, StandardOpenOption.READ)) {
                ByteBuffer into = ByteBuffer.wrap(buf, 0, (int) Math.min(buf.length, size - at));
                while (into.hasRemaining()) {
                    int r = reader.read(into, at + into.position());
                    if (r <= 0) break;
                }
                n = into.position();
            }
        }
        return new Chunk(start, n);
    }
}
