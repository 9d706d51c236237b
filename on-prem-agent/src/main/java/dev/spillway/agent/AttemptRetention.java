package dev.spillway.agent;

import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * How long attempt directories (output, end, the task's working directory) stay on the node:
 * {@code --keep-attempts} after the attempt ended and the broker acknowledged its end. An end not
 * yet acknowledged is never deleted (it is still being re-sent). A directory without an end is an
 * attempt this agent runs now, or one an earlier run of it was running when it stopped: that one
 * goes {@code --keep-attempts} after its files last changed.
 */
final class AttemptRetention {

    private static final Logger LOG = Logger.getLogger(AttemptRetention.class.getName());

    private AttemptRetention() {}

    /**
     * Which of {@code found} have expired, without I/O.
     *
     * @param live         keys of the attempts this agent runs now (never expired)
     * @param lastModified when a directory's files last changed, if known
     */
    static List<Path> expired(List<AttemptEndFile.Found> found, Set<String> live, Function<Path, Optional<Instant>> lastModified,
                              Instant now, Duration keep) {
        Instant cutoff = now.minus(keep);
        List<Path> expired = new ArrayList<>();
        for (AttemptEndFile.Found f : found) {
            if (live.contains(f.id().key())) continue;
            Optional<Instant> since;
            if (f.recorded()) since = f.end().flatMap(AttemptEndFile::endTime).or(() -> lastModified.apply(f.dir()));
            else if (f.end().isPresent()) continue; // not acknowledged yet: kept and re-sent
            else since = lastModified.apply(f.dir());
            if (since.isPresent() && since.get().isBefore(cutoff)) expired.add(f.dir());
        }
        return expired;
    }

    /** The newest modification time of {@code dir} and the files right in it (its logs, its end). */
    static Optional<Instant> lastModified(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return Stream.concat(Stream.of(dir), files).map(AttemptRetention::modified).flatMap(Optional::stream).max(Comparator.naturalOrder());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static Optional<Instant> modified(Path p) {
        try {
            return Optional.of(((FileTime) Files.getAttribute(p, "lastModifiedTime", LinkOption.NOFOLLOW_LINKS)).toInstant());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * Deletes the expired attempt directories under {@code root} (links are deleted, never
     * followed), and the task and job directories left empty. Returns how many were deleted.
     */
    static int deleteExpired(Path root, Set<String> live, Instant now, Duration keep) {
        List<Path> expired;
        try {
            expired = expired(AttemptEndFile.scan(root), live, AttemptRetention::lastModified, now, keep);
        } catch (IOException e) {
            LOG.warning("cannot look for old attempts in " + root + ": " + e.getMessage());
            return 0;
        }
        int deleted = 0;
        for (Path dir : expired) {
            try {
                deleteTree(dir);
                deleted++;
                for (Path up = dir.getParent(); up != null && !up.equals(root) && up.startsWith(root); up = up.getParent()) {
                    try {
                        Files.deleteIfExists(up);
                    } catch (DirectoryNotEmptyException notEmpty) {
                        break;
                    }
                }
            } catch (IOException e) {
                LOG.warning("cannot delete the old attempt directory " + dir + ": " + e);
            }
        }
        return deleted;
    }

    private static void deleteTree(Path dir) throws IOException {
        List<Path> all;
        try (Stream<Path> walk = Files.walk(dir)) {
            all = walk.sorted(Comparator.reverseOrder()).toList();
        }
        for (Path p : all) {
            try {
                Files.delete(p);
            } catch (NoSuchFileException gone) {
                // deleted meanwhile
            }
        }
    }
}
