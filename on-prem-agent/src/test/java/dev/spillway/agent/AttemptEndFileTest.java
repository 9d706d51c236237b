package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.api.agent.v1.AttemptState;
import dev.spillway.api.agent.v1.AttemptStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AttemptEndFileTest {

    @TempDir
    Path root;

    private Path attemptDir(String job) throws Exception {
        return Files.createDirectories(root.resolve(job).resolve("0").resolve("1"));
    }

    @Test
    void anEndIsKeptOwnerOnlyAndFoundAgainUntilRecorded() throws Exception {
        String job = UUID.randomUUID().toString();
        Path dir = attemptDir(job);
        AttemptStatus end = AttemptStatus.newBuilder().setJobId(job).setTaskIndex(0).setAttempt(1)
                .setState(AttemptState.ATTEMPT_STATE_EXITED).setExitCode(3).setMessage("exited with code 3").build();
        AttemptEndFile.write(dir, end);

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(AttemptEndFile.UNRECORDED)))).isEqualTo("rw-------");
        assertThat(dir.resolve(AttemptEndFile.UNRECORDED + ".tmp")).doesNotExist();
        assertThat(AttemptEndFile.scan(root)).singleElement().satisfies(f -> {
            assertThat(f.recorded()).isFalse();
            assertThat(f.end()).contains(end);
        });

        AttemptEndFile.markRecorded(dir);
        assertThat(AttemptEndFile.scan(root)).singleElement().satisfies(f -> assertThat(f.recorded()).isTrue());
    }

    @Test
    void aHalfWrittenFileACrashLeftBehindIsReplacedAndALinkIsNeverFollowed() throws Exception {
        String job = UUID.randomUUID().toString();
        Path dir = attemptDir(job);
        Path elsewhere = Files.writeString(root.resolve("elsewhere"), "not the agent's");
        Files.createSymbolicLink(dir.resolve(AttemptEndFile.UNRECORDED + ".tmp"), elsewhere);
        AttemptStatus end = AttemptStatus.newBuilder().setJobId(job).setTaskIndex(0).setAttempt(1)
                .setState(AttemptState.ATTEMPT_STATE_EXITED).build();

        AttemptEndFile.write(dir, end);

        assertThat(elsewhere).hasContent("not the agent's");
        assertThat(AttemptEndFile.scan(root)).singleElement().satisfies(f -> assertThat(f.end()).contains(end));
    }
}
