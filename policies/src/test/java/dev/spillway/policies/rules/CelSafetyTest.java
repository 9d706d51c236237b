package dev.spillway.policies.rules;

import static dev.spillway.policies.rules.Fixtures.NOW;
import static dev.spillway.policies.rules.Fixtures.compile;
import static dev.spillway.policies.rules.Fixtures.policy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.spillway.core.scheduling.Resources;
import dev.spillway.policies.document.PolicyDoc;
import java.time.Duration;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Expressions that would cost too much are refused when applied, or stopped by their budget when run. */
class CelSafetyTest {

    private final PolicyCompiler compiler = new PolicyCompiler();

    private CompileResult admission(String match) {
        return compiler.compile("p.yaml", policy("""
                  admission:
                    - name: r
                      match: '%s'
                      message: '"m"'
                      action: Deny
                """.formatted(match.replace("'", "''"))));
    }

    @Test
    void deepNestingIsRefused() {
        String deep = "(".repeat(60) + "true" + ")".repeat(60);

        CompileResult r = admission(deep);

        assertThat(r.ok()).isFalse();
        assertThat(r.problems().get(0).message()).contains("recursion limit");
        assertThat(r.problems().get(0).line()).isEqualTo(7);
    }

    @Test
    void aDeepTreeWithinTheParserLimitIsRefusedByTheDepthValidator() {
        String chain = "job.tasks" + " + 1".repeat(28) + " > 0";

        CompileResult r = admission(chain);

        assertThat(r.ok()).isFalse();
        assertThat(r.problems().get(0).message()).contains("too complex").contains("depth");
    }

    @Test
    void anOversizedExpressionIsRefused() {
        String huge = "job.name == \"" + "x".repeat(5_000) + "\"";

        CompileResult r = admission(huge);

        assertThat(r.ok()).isFalse();
        assertThat(r.problems().get(0).message()).contains("expression too long");
    }

    @Test
    void comprehensionsNestedThreeDeepAreRefused() {
        CompileResult r = admission("[1,2].all(a, [1,2].all(b, [1,2].all(c, a + b + c > 0)))");

        assertThat(r.ok()).isFalse();
        assertThat(r.problems().get(0).message()).isEqualTo("too complex: comprehensions nested 3 deep, at most 2");
    }

    @Test
    void aHugeComprehensionIsStoppedByItsBudgetAndDeniesRatherThanHangs() {
        String list = IntStream.range(0, 300).mapToObj(Integer::toString).collect(Collectors.joining(",", "[", "]"));
        PolicySet set = compile(policy("""
                  admission:
                    - name: quadratic
                      match: '%s.exists(a, %s.exists(b, a * b < 0))'
                      message: '"never"'
                      action: Deny
                """.formatted(list, list)));
        JobFacts job = JobFacts.of("j", "t", 0, 1, new Resources(1000, 1024, 0));

        AdmissionResult result = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> set.admit(job, TenantFacts.named("t"), NOW));

        assertThat(result.outcomes()).singleElement().satisfies(o -> {
            assertThat(o.evaluationError()).isTrue();
            assertThat(o.action()).isEqualTo(PolicyDoc.Action.DENY);
            assertThat(o.message()).contains("iteration budget exceeded");
        });
    }
}
