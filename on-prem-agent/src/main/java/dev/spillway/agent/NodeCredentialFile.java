package dev.spillway.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

/**
 * Where a node keeps the credential the broker gave it when it joined with a one-time token
 * ({@code <work dir>/node-credential}). The join token is spent by then, so this file is how the
 * node gets back in after a restart.
 *
 * <p>Only the agent's user can read it (mode 0600, from the moment it exists). It is replaced
 * atomically: written in full to a temporary file in the same directory, forced to disk, then
 * renamed over the old one (and the directory synced), so a reader (or a crash) sees the old credential or the new one,
 * never a part.
 */
final class NodeCredentialFile {

    private final Path file;

    NodeCredentialFile(Path file) {
        this.file = file;
    }

    /** The file in an agent's work directory. */
    static NodeCredentialFile in(Path workDir) {
        return new NodeCredentialFile(workDir.resolve("node-credential"));
    }

    Path path() {
        return file;
    }

    /** The credential kept here; empty if there is none, or it cannot be read (the node then uses its start token). */
    Optional<String> read() {
        try {
            if (!Files.exists(file)) return Optional.empty();
            String credential = Files.readString(file).trim();
            return credential.isEmpty() ? Optional.empty() : Optional.of(credential);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Keeps {@code credential}, replacing any earlier one. */
    void write(String credential) throws IOException {
        Path tmp = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ByteBuffer bytes = StandardCharsets.UTF_8.encode(credential + "\n");
                while (bytes.hasRemaining()) out.write(bytes);
                out.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        syncDirectory();
    }

    /** Makes the rename itself durable. Best effort: not every file system lets a directory be synced. */
    private void syncDirectory() {
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // the credential is in place; only its durability across a power loss is less certain
        }
    }
}
