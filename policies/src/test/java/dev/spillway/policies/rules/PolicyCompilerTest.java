package dev.spillway.policies.rules;

import static dev.spillway.policies.rules.Fixtures.compile;
import static dev.spillway.policies.rules.Fixtures.policy;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.policies.document.Problem;
import dev.spillway.policies.document.SourceFile;
import java.util.List;
import org.junit.jupiter.api.Test;

class PolicyCompilerTest {

    private final PolicyCompiler compiler = new PolicyCompiler();

    @Test
    void aTypeErrorIsRefusedAtApplyTimeWithItsPlaceInTheFile() {
        CompileResult r = compiler.compile("finops.yaml", policy("""
                  admission:
                    - name: urgent
                      match: job.priority > "high"
                      message: '"urgent"'
                      action: Warn
                """));

        assertThat(r.ok()).isFalse();
        assertThat(r.policySet()).isNull();
        // line 7 is "      match: job.priority > ..."; the expression starts at column 14, '>' is 13 further
        assertThat(r.problems()).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo("finops.yaml");
            assertThat(p.line()).isEqualTo(7);
            assertThat(p.column()).isEqualTo(27);
            assertThat(p.message()).contains("no matching overload for '_>_' applied to '(int, string)'");
        });
    }

    @Test
    void unknownFieldsVariablesOutOfScopeAndWrongResultTypesAreAllReported() {
        CompileResult r = compiler.compile("p.yaml", policy("""
                  admission:
                    - name: a
                      match: job.lables["team"] == "x"
                      message: '"x"'
                      action: Deny
                    - name: b
                      match: node.cloud
                      message: job.priority
                      action: Audit
                  scorers:
                    - name: c
                      score: node.labels["disk"] == "nvme"
                """));

        assertThat(r.problems()).extracting(Problem::toString).containsExactly(
                "p.yaml:7:17: undefined field 'lables'",
                "p.yaml:11:14: undeclared reference to 'node' (in container '')",
                "p.yaml:12:19: expected type 'string' but found 'int'",
                "p.yaml:16:14: expected an expression of type int or double, found bool");
    }

    @Test
    void aMultiLineExpressionPointsAtTheRightLineOfTheBlock() {
        CompileResult r = compiler.compile("p.yaml", policy("""
                  filters:
                    - name: gpu
                      match: |
                        node.gpus > 0 &&
                          task.gpuz == 0
                      message: '"no"'
                """));

        assertThat(r.problems()).extracting(Problem::toString).containsExactly("p.yaml:9:15: undefined field 'gpuz'");
    }

    @Test
    void nothingIsAcceptedUnlessEveryDocumentIsValid() {
        String good = policy("""
                  admission:
                    - {name: ok, match: "true", message: '"fine"', action: Audit}
                """);
        String bad = policy("""
                  admission:
                    - {name: broken, match: "job.tasks +", message: '"x"', action: Deny}
                """).replace("name: p}", "name: q}");

        CompileResult r = compiler.compile(List.of(new SourceFile("good.yaml", good), new SourceFile("bad.yaml", bad)));

        assertThat(r.ok()).isFalse();
        assertThat(r.problems()).singleElement().satisfies(p -> assertThat(p.file()).isEqualTo("bad.yaml"));
    }

    @Test
    void theCacheReusesACompiledSetForTheSameFiles() {
        PolicySetCache cache = new PolicySetCache(compiler, 2);
        List<SourceFile> files = List.of(new SourceFile("a.yaml", policy("""
                  admission:
                    - {name: ok, match: "true", message: '"fine"', action: Audit}
                """)));

        PolicySet first = cache.compile(files).policySet();
        PolicySet again = cache.compile(List.of(new SourceFile("a.yaml", files.get(0).text()))).policySet();
        PolicySet other = cache.compile(List.of(new SourceFile("b.yaml", files.get(0).text()))).policySet();

        assertThat(again).isSameAs(first);
        assertThat(other).isNotSameAs(first);
        assertThat(other.version()).isNotEqualTo(first.version());
        assertThat(cache.size()).isEqualTo(2);
    }

    @Test
    void filtersReadingFreeResourcesAreNotRemembered() {
        PolicySet set = compile(policy("""
                  filters:
                    - {name: fixed, match: 'node.labels["a"] == "b"', message: '"x"'}
                    - {name: live, match: 'node.freeCpuMillis < 2000', message: '"busy"', veto: Transient}
                """));

        assertThat(set.filters).extracting(PolicySet.Filter::cacheable).containsExactly(true, false);
    }
}
