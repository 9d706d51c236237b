package dev.spillway.broker.admission;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.TaskTemplate;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.Violation;
import io.smallrye.mutiny.Uni;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Admission is a chain: validation first, then each check in turn; the first refusal stops it. */
class AdmissionTest {

    static final BrokerConfig.Limits LIMITS = new BrokerConfig.Limits() {
        @Override
        public int maxTasksPerJob() {
            return 100;
        }

        @Override
        public int maxEnvBytes() {
            return 1024;
        }

        @Override
        public int maxCommandBytes() {
            return 1024;
        }

        @Override
        public int maxSpecBytes() {
            return 262144;
        }

        @Override
        public int maxPools() {
            return 64;
        }

        @Override
        public int maxJurisdictions() {
            return 64;
        }

        @Override
        public int maxNodeSelectorEntries() {
            return 64;
        }

        @Override
        public int maxEnvEntries() {
            return 512;
        }

        @Override
        public int streamsPerCaller() {
            return 32;
        }

        @Override
        public long streamBufferBytes() {
            return 1 << 20;
        }

        @Override
        public double submitRate() {
            return 1000;
        }

        @Override
        public double submitBurst() {
            return 1000;
        }
    };

    private final List<String> asked = new ArrayList<>();

    private AdmissionCheck check(String name, List<Violation> answer) {
        return new AdmissionCheck() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public Uni<java.util.Optional<dev.spillway.broker.errors.InvalidRequest>> check(JobSpec spec) {
                asked.add(name);
                return Uni.createFrom().item(answer.isEmpty() ? java.util.Optional.empty() : java.util.Optional.of(new dev.spillway.broker.errors.InvalidRequest(answer)));
            }
        };
    }

    private static JobSpec valid() {
        return JobSpec.newBuilder().setTaskCount(2).setTask(TaskTemplate.newBuilder().addCommand("true")
                .setResources(Resources.newBuilder().setCpuMillis(500).setMemoryMib(256))).build();
    }

    @Test
    void everyCheckAdmitsAndTheSpecComesBackWithDefaults() {
        Admission admission = new Admission(new JobSpecValidator(LIMITS), List.of(check("a", List.of()), check("b", List.of())));
        JobSpec admitted = admission.admit(valid()).await().indefinitely();
        assertThat(asked).containsExactly("a", "b");
        assertThat(admitted.getTenant()).isEqualTo("default");
        assertThat(admitted.getRetry().getMaxBackoff().getSeconds()).isEqualTo(300);
    }

    @Test
    void theFirstRefusalStopsTheChainWithItsViolations() {
        Admission admission = new Admission(new JobSpecValidator(LIMITS), List.of(check("a", List.of()),
                check("quota", List.of(new Violation("spec.task_count", "over the tenant's quota"))), check("c", List.of())));
        InvalidRequest e = catchThrowableOfType(InvalidRequest.class, () -> admission.admit(valid()).await().indefinitely());
        assertThat(e.violations()).containsExactly(new Violation("spec.task_count", "over the tenant's quota"));
        assertThat(asked).containsExactly("a", "quota");
    }

    @Test
    void anInvalidSpecIsRefusedBeforeAnyCheckRuns() {
        Admission admission = new Admission(new JobSpecValidator(LIMITS), List.of(check("a", List.of())));
        InvalidRequest e = catchThrowableOfType(InvalidRequest.class,
                () -> admission.admit(valid().toBuilder().setTaskCount(0).build()).await().indefinitely());
        assertThat(e.violations()).extracting(Violation::field).containsExactly("spec.task_count");
        assertThat(asked).isEmpty();
    }
}
