package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeCredentialFileTest {

    @TempDir
    Path dir;

    @Test
    void aKeptCredentialIsReadBackAndOnlyItsOwnerCanReadIt() throws Exception {
        NodeCredentialFile file = NodeCredentialFile.in(dir);
        file.write("node.abc123");

        assertThat(file.path()).isEqualTo(dir.resolve("node-credential"));
        assertThat(file.read()).contains("node.abc123");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file.path()))).isEqualTo("rw-------");
    }

    @Test
    void aNewCredentialReplacesTheOldOneAndItsLooserModeAndLeavesNothingBehind() throws Exception {
        NodeCredentialFile file = NodeCredentialFile.in(dir);
        Files.writeString(file.path(), "node.old\n");
        Files.setPosixFilePermissions(file.path(), PosixFilePermissions.fromString("rw-r--r--"));

        file.write("node.new");

        assertThat(file.read()).contains("node.new");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file.path()))).isEqualTo("rw-------");
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactly("node-credential");
        }
    }

    @Test
    void noCredentialWhenThereIsNoFileOrOnlyBlanks() throws Exception {
        NodeCredentialFile file = NodeCredentialFile.in(dir);
        assertThat(file.read()).isEmpty();
        Files.writeString(file.path(), " \n");
        assertThat(file.read()).isEmpty();
    }

    /** A reader (the agent restarting) sees the old credential or the new one, never a part of either. */
    @Test
    void readersNeverSeeAHalfWrittenCredential() throws Exception {
        NodeCredentialFile file = NodeCredentialFile.in(dir);
        // Long enough that a write in place would be seen half done.
        List<String> credentials = List.of("a".repeat(256 * 1024), "b".repeat(256 * 1024));
        file.write(credentials.get(0));
        Set<String> seen = ConcurrentHashMap.newKeySet();
        AtomicBoolean writing = new AtomicBoolean(true);
        Thread reader = new Thread(() -> {
            do {
                Optional<String> c = file.read();
                seen.add(c.map(s -> credentials.contains(s) ? s.substring(0, 1) : "partial, " + s.length() + " chars").orElse("none"));
            } while (writing.get());
        });
        reader.start();
        while (seen.isEmpty()) Thread.onSpinWait();
        for (int i = 0; i < 200; i++) file.write(credentials.get(i % 2));
        writing.set(false);
        reader.join();

        assertThat(seen).isSubsetOf("a", "b").isNotEmpty();
    }
}
