package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.api.agent.v1.Assign;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AttemptIdTest {

    private static final String JOB = "4F0C2A4E-5B7D-4C1E-9A3F-2D6B8E1F0A93";

    @Test
    void aUuidJobIdAndNonNegativeNumbersAreAcceptedAndTheIdIsKeptInLowerCase() {
        AttemptId id = AttemptId.verify(JOB, 0, 0);
        assertThat(id.jobId()).isEqualTo("4f0c2a4e-5b7d-4c1e-9a3f-2d6b8e1f0a93");
        assertThat(id.dirUnder(Path.of("/var/lib/agent/attempts")))
                .isEqualTo(Path.of("/var/lib/agent/attempts/4f0c2a4e-5b7d-4c1e-9a3f-2d6b8e1f0a93/0/0"));
        assertThat(id.key()).isEqualTo("4f0c2a4e-5b7d-4c1e-9a3f-2d6b8e1f0a93/0#0");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "job", "..", "../../etc", "/etc/passwd", "4f0c2a4e-5b7d-4c1e-9a3f-2d6b8e1f0a93/../..",
            "../4f0c2a4e-5b7d-4c1e-9a3f-2d6b8e1f0a9", "4f0c2a4e-5b7d-4c1e-9a3f-2d6b8e1f0a93\n", "4f0c2a4e-5b7d-4c1e-9a3f-2d6b8e1f0a9\u0000",
            "1-1-1-1-1", "4f0c2a4e5b7d4c1e9a3f2d6b8e1f0a93", "4f0c2a4e-5b7d-4c1e-9a3f-2d6b8e1f0a9g"})
    void aJobIdThatIsNotAUuidIsRefused(String jobId) {
        assertThatThrownBy(() -> AttemptId.verify(jobId, 0, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not a UUID");
    }

    @Test
    void negativeNumbersAreRefused() {
        assertThatThrownBy(() -> AttemptId.verify(JOB, -1, 0)).hasMessage("task index -1 is negative");
        assertThatThrownBy(() -> AttemptId.verify(JOB, 0, -2)).hasMessage("attempt -2 is negative");
    }

    @Test
    void anAssignmentNeedsACommand() {
        assertThatThrownBy(() -> AttemptId.verify(Assign.newBuilder().setJobId(JOB).build())).hasMessage("the assignment has no command");
        assertThatThrownBy(() -> AttemptId.verify(Assign.newBuilder().setJobId(JOB).addCommand("").build()))
                .hasMessage("the assignment has no command");
    }

    @Test
    void whatTheBrokerSentIsQuotedShortAndWithoutControlCharacters() {
        assertThatThrownBy(() -> AttemptId.verify("a\nforged log line" + "x".repeat(100), 0, 0))
                .hasMessage("job id 'a?forged log line" + "x".repeat(47) + "…' is not a UUID");
    }
}
