package dev.spillway.agent;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.spillway.api.agent.v1.AttemptStatus;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * An ended attempt's final {@link AttemptStatus}, kept in its directory so the end survives an
 * agent restart until the broker has acknowledged it ({@code AttemptEndsRecorded}).
 *
 * <p>{@code end.pb} (binary protobuf, 0600) is written before the end is first reported: to a
 * temporary file, then moved over the name, so a crash leaves either no file or a whole one. Once
 * the broker acknowledges the end, the file is renamed to {@code end.recorded.pb}: it is not
 * re-sent any more, and its end time still tells housekeeping when the directory may go.
 */
final class AttemptEndFile {

    private static final Logger LOG = Logger.getLogger(AttemptEndFile.class.getName());
    static final String UNRECORDED = "end.pb";
    static final String RECORDED = "end.recorded.pb";

    /** An attempt directory found on disk and what it says about the attempt's end. */
    record Found(AttemptId id, Path dir, Optional<AttemptStatus> end, boolean recorded) {
    }

    private static final java.util.Set<java.nio.file.OpenOption> NEW_FILE = java.util.Set.of(java.nio.file.StandardOpenOption.CREATE_NEW,
            java.nio.file.StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
    private static final java.nio.file.attribute.FileAttribute<?> OWNER_ONLY =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

    private AttemptEndFile() {}

    /** Writes {@code end} into {@code dir} atomically (temp file + move); the end is not yet recorded by the broker. */
    static void write(Path dir, AttemptStatus end) throws IOException {
        Path tmp = dir.resolve(UNRECORDED + ".tmp");
        try (java.nio.channels.FileChannel channel = openNew(tmp)) {
            java.nio.ByteBuffer bytes = java.nio.ByteBuffer.wrap(end.toByteArray());
            while (bytes.hasRemaining()) channel.write(bytes);
            channel.force(true);
        }
        try {
            Files.move(tmp, dir.resolve(UNRECORDED), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, dir.resolve(UNRECORDED), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** One open: a new file (never through a link); one a crash left behind goes first. */
    private static java.nio.channels.FileChannel openNew(Path file) throws IOException {
        try {
            return java.nio.channels.FileChannel.open(file, NEW_FILE, OWNER_ONLY);
        } catch (java.nio.file.FileAlreadyExistsException leftOver) {
            Files.delete(file);
            return java.nio.channels.FileChannel.open(file, NEW_FILE, OWNER_ONLY);
        }
    }

    /** Marks the end in {@code dir} as recorded by the broker; idempotent. */
    static void markRecorded(Path dir) throws IOException {
        try {
            Files.move(dir.resolve(UNRECORDED), dir.resolve(RECORDED), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (NoSuchFileException alreadyMarked) {
            // marked before, or never written (the write failed and was logged)
        }
    }

    /**
     * Every attempt directory under {@code root} ({@code <job>/<task>/<attempt>}) whose names form
     * a valid {@link AttemptId}, with its end file if it has one. Anything else there is ignored.
     */
    static List<Found> scan(Path root) throws IOException {
        List<Found> found = new ArrayList<>();
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) return found;
        for (Path job : list(root)) {
            for (Path task : list(job)) {
                for (Path attempt : list(task)) {
                    AttemptId id;
                    try {
                        id = AttemptId.verify(job.getFileName().toString(), Integer.parseInt(task.getFileName().toString()),
                                Integer.parseInt(attempt.getFileName().toString()));
                    } catch (IllegalArgumentException notAnAttempt) {
                        continue;
                    }
                    if (!id.dirUnder(root).equals(attempt)) continue; // e.g. "01" for task 1: not a directory this agent made
                    Optional<AttemptStatus> unrecorded = read(attempt.resolve(UNRECORDED));
                    if (unrecorded.isPresent()) {
                        found.add(new Found(id, attempt, unrecorded, false));
                    } else {
                        Optional<AttemptStatus> recorded = read(attempt.resolve(RECORDED));
                        found.add(new Found(id, attempt, recorded, recorded.isPresent()));
                    }
                }
            }
        }
        return found;
    }

    /** When the attempt ended, if its end says so. */
    static Optional<Instant> endTime(AttemptStatus end) {
        if (!end.hasEndTime()) return Optional.empty();
        return Optional.of(Instant.ofEpochSecond(end.getEndTime().getSeconds(), end.getEndTime().getNanos()));
    }

    private static Optional<AttemptStatus> read(Path file) {
        try {
            return Optional.of(AttemptStatus.parseFrom(Files.readAllBytes(file)));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (InvalidProtocolBufferException e) {
            LOG.warning("ignoring " + file + ": not an attempt status (" + e.getMessage() + ")");
            return Optional.empty();
        } catch (IOException e) {
            LOG.warning("cannot read " + file + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    private static List<Path> list(Path dir) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)).toList();
        }
    }
}
