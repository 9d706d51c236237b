package dev.spillway.policies.rules;

import static dev.spillway.policies.rules.Fixtures.NOW;
import static dev.spillway.policies.rules.Fixtures.compile;
import static dev.spillway.policies.rules.Fixtures.node;
import static dev.spillway.policies.rules.Fixtures.policy;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.scheduling.NodeFilter;
import dev.spillway.core.scheduling.NodeSlot;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.core.scheduling.Veto;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A rule {@code jobPart && nodePart} is judged, for the jobs its job part holds for, by its node
 * part alone, so that those jobs share its answers per node. What it says must not change: the
 * same vetoes, each job's own message, and an evaluation error located where the whole rule
 * would locate it.
 */
class ConjunctSplitTest {

    private final PolicySet set = compile(policy("""
              filters:
                - name: zone-d-closed
                  match: job.tenant.startsWith("t-1") && node.labels["zone"] == "d"
                  message: '"zone d is closed to " + job.tenant'
            """));

    private final Map<String, JobFacts> jobs = Map.of(
            "j10", JobFacts.of("j10", "t-10", 0, 1, Fixtures.shape().request()),
            "j11", JobFacts.of("j11", "t-11", 0, 1, Fixtures.shape().request()),
            "j2", JobFacts.of("j2", "t-2", 0, 1, Fixtures.shape().request()));

    private final NodeView zoneD = node("d-1", "dc", Map.of("zone", "d"));
    private final NodeView zoneA = node("a-1", "dc", Map.of("zone", "a"));
    private final NodeView noZone = node("x-1", "dc", Map.of());

    @Test
    void aConjunctionIsSplitAroundTheNodeAndOtherConditionsAreNot() {
        assertThat(set.filters.get(0).match().splitAround("node")).isPresent();
        PolicySet other = compile(policy("""
                  filters:
                    - {name: either, match: 'job.priority > 0 || node.gpus > 0', message: '"x"'}
                    - {name: node-only, match: 'node.gpus > 0 && node.cpuMillis < 1000', message: '"x"'}
                """));
        assertThat(other.filters).allSatisfy(f -> assertThat(f.match().splitAround("node")).isEmpty());
    }

    @Test
    void jobsJudgedByTheNodePartGetTheirOwnMessagesAndTheWholeRulesAnswers() {
        PlacementRules rules = rules();
        NodeFilter filter = rules.filter();

        assertThat(check(filter, "j10", zoneD).reason()).isEqualTo("zone d is closed to t-10");
        assertThat(check(filter, "j11", zoneD).reason()).isEqualTo("zone d is closed to t-11");
        assertThat(check(filter, "j2", zoneD)).isNull();
        for (String job : jobs.keySet()) assertThat(check(filter, job, zoneA)).isNull();
    }

    @Test
    void anErrorInTheNodePartIsLocatedWhereTheWholeRuleLocatesIt() {
        PlacementRules rules = rules();

        Veto split = check(rules.filter(), "j10", noZone);
        String whole = rules.proof(shape("j10"), noZone).rules().stream()
                .filter(r -> r.rule().equals("policy/p/zone-d-closed")).findFirst().orElseThrow().detail();

        assertThat(split.reason()).startsWith("rule could not be evaluated: ").contains("policy.yaml:7:").isEqualTo(whole);
        assertThat(check(rules.filter(), "j2", noZone)).as("the job part is false: the node is never looked at").isNull();
    }

    private PlacementRules rules() {
        return set.placement(new PlacementContext(NOW, s -> jobs.get(s.facts()), t -> null, Map.of()));
    }

    private static TaskShape shape(String job) {
        return Fixtures.shape().withFacts(job);
    }

    private static Veto check(NodeFilter filter, String job, NodeView node) {
        return filter.check(shape(job), NodeSlot.of(node));
    }
}
