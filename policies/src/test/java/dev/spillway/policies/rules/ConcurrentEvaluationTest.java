package dev.spillway.policies.rules;

import static dev.spillway.policies.rules.Fixtures.NOW;
import static dev.spillway.policies.rules.Fixtures.compile;
import static dev.spillway.policies.rules.Fixtures.policy;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Veto;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** One compiled set, many threads: each evaluation sees only its own facts. */
class ConcurrentEvaluationTest {

    @Test
    void admissionFromManyThreadsGivesEachJobItsOwnAnswer() throws Exception {
        PolicySet set = compile(policy("""
                  admission:
                    - name: odd
                      match: job.priority % 2 == 1
                      message: '"odd priority " + string(job.priority)'
                      action: Deny
                """));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                Callable<Boolean> work = () -> {
                    for (int p = 0; p < 2_000; p++) {
                        AdmissionResult r = set.admit(JobFacts.of("j" + p, "t", p, 1, Resources.ZERO), TenantFacts.named("t"), NOW);
                        boolean expected = p % 2 == 1;
                        if (r.denied() != expected) return false;
                        if (expected && !r.outcomes().get(0).message().equals("odd priority " + p)) return false;
                    }
                    return true;
                };
                results.add(pool.submit(work));
            }
            for (Future<Boolean> f : results) assertThat(f.get()).isTrue();
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aShapeWithNoJobFactsIsVetoedNotAnException() {
        PolicySet set = compile(policy("""
                  filters:
                    - {name: any, match: 'node.name == "x"', message: '"x"'}
                """));
        PlacementRules rules = set.placement(new PlacementContext(NOW, s -> null, TenantFacts::named, Map.of()));

        Veto v = rules.filter().check(Fixtures.shape(), Fixtures.slot(Fixtures.node("n1", "rack", Map.of())));

        assertThat(v.kind()).isEqualTo(Veto.Kind.STATIC);
        assertThat(v.reason()).contains("no job facts");
    }
}
