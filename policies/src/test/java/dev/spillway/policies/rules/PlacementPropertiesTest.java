package dev.spillway.policies.rules;

import static dev.spillway.policies.rules.Fixtures.NOW;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.core.scheduling.Filters;
import dev.spillway.core.scheduling.NodeFilter;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.PendingTask;
import dev.spillway.core.scheduling.Plan;
import dev.spillway.core.scheduling.Placement;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scheduler;
import dev.spillway.core.scheduling.Scorers;
import dev.spillway.core.scheduling.Snapshot;
import dev.spillway.core.scheduling.TaskRef;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.core.scheduling.Veto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** Placement rules inside the real scheduler: what they veto never gets work, and answers do not depend on luck. */
class PlacementPropertiesTest {

    static final String POLICIES = """
            apiVersion: spillway.dev/v1
            kind: Tenant
            metadata: {name: eu-only}
            spec: {jurisdictions: [EU]}
            ---
            apiVersion: spillway.dev/v1
            kind: Tenant
            metadata: {name: anywhere}
            ---
            apiVersion: spillway.dev/v1
            kind: Policy
            metadata: {name: p}
            spec:
              filters:
                - name: no-deny-tier
                  match: node.labels.?tier.orValue("") == "deny"
                  message: '"node " + node.name + " is in the deny tier"'
                - name: keep-headroom
                  match: node.freeCpuMillis - task.cpuMillis < 1000 && job.priority < 5
                  message: '"would leave less than one core free"'
                  veto: Transient
              scorers:
                - name: prefer-gold
                  score: 'node.labels.?tier.orValue("") == "gold" ? 1.0 : 0.25'
                  weight: 3
                - name: emptier
                  score: double(node.freeCpuMillis) / double(node.cpuMillis)
            """;

    static final PolicySet SET = Fixtures.compile(POLICIES);

    record NodeSpec(String tier, String jurisdiction, boolean cloud, int cores) {
    }

    @Provide
    Arbitrary<List<NodeSpec>> nodes() {
        Arbitrary<NodeSpec> node = Combinators.combine(
                Arbitraries.of("gold", "silver", "deny", ""),
                Arbitraries.of("EU", "US", "CH", ""),
                Arbitraries.of(true, false),
                Arbitraries.integers().between(1, 16)).as(NodeSpec::new);
        return node.list().ofMinSize(1).ofMaxSize(30);
    }

    static List<NodeView> views(List<NodeSpec> specs) {
        List<NodeView> out = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            NodeSpec s = specs.get(i);
            Map<String, String> labels = new HashMap<>();
            if (!s.tier().isEmpty()) labels.put("tier", s.tier());
            if (!s.jurisdiction().isEmpty()) labels.put(TaskShape.JURISDICTION_LABEL, s.jurisdiction());
            if (s.cloud()) labels.put(Scorers.CLOUD_LABEL, "true");
            out.add(new NodeView("n" + i, s.cloud() ? "cloud" : "rack", new Resources(s.cores() * 1000L, 65_536, 0), Resources.ZERO, labels,
                    true));
        }
        return out;
    }

    record World(Scheduler scheduler, Snapshot snapshot, Map<String, NodeView> nodes) {
    }

    static World world(List<NodeSpec> specs, int tasks, String tenant, int priority) {
        List<NodeView> views = views(specs);
        TaskShape shape = new TaskShape(new Resources(1_000, 1_024, 0), Map.of(), Set.of());
        JobFacts job = JobFacts.of("job", tenant, priority, tasks, shape.request());
        PlacementRules rules = SET.placement(new PlacementContext(NOW, s -> job, TenantFacts::named, Map.of()));
        List<NodeFilter> filters = List.of(Filters.SCHEDULABLE, Filters.POOL, Filters.NODE_SELECTOR, Filters.JURISDICTION, Filters.SPOT,
                Filters.CAPACITY, rules.filter(), Filters.FREE_RESOURCES);
        List<Scheduler.WeightedScorer> scorers = new ArrayList<>(List.of(new Scheduler.WeightedScorer(Scorers.PREFER_ON_PREM, 2.0),
                new Scheduler.WeightedScorer(Scorers.BIN_PACK, 1.0)));
        scorers.addAll(rules.scorers());
        List<PendingTask> pending = new ArrayList<>();
        for (int i = 0; i < tasks; i++) pending.add(new PendingTask(new TaskRef("job", i, 0), shape, priority, 1_000 + i));
        return new World(new Scheduler(filters, scorers, 4), new Snapshot(views, pending),
                views.stream().collect(Collectors.toMap(NodeView::name, v -> v)));
    }

    @Property(tries = 300)
    void placementNeverUsesANodeADenyFilterVetoes(@ForAll("nodes") List<NodeSpec> specs, @ForAll @IntRange(min = 1, max = 60) int tasks,
                                                  @ForAll @IntRange(min = 0, max = 9) int priority) {
        World w = world(specs, tasks, "anywhere", priority);

        Plan plan = w.scheduler().plan(w.snapshot());

        Map<String, Long> coresUsed = new HashMap<>();
        for (Placement p : plan.placements()) {
            NodeView node = w.nodes().get(p.node());
            assertThat(node.labels().get("tier")).isNotEqualTo("deny");
            coresUsed.merge(p.node(), p.request().cpuMillis(), Long::sum);
        }
        if (priority < 5) {
            // keep-headroom: a low-priority task never takes a node's last core
            coresUsed.forEach((name, used) -> assertThat(w.nodes().get(name).capacity().cpuMillis() - used).isGreaterThanOrEqualTo(1_000));
        }
        for (Plan.Unplaced u : plan.unplaced()) {
            assertThat(u.why().vetoes()).allSatisfy(v -> assertThat(v.veto().filter()).isIn(
                    "policy/p/no-deny-tier", "policy/p/keep-headroom", "free-resources", "capacity"));
        }
    }

    @Property(tries = 300)
    void aNodeOutsideTheRequiredJurisdictionsIsAlwaysVetoed(@ForAll("nodes") List<NodeSpec> specs,
                                                            @ForAll @IntRange(min = 1, max = 40) int tasks) {
        World w = world(specs, tasks, "eu-only", 9);
        PlacementRules rules = SET.placement(Fixtures.context(JobFacts.of("job", "eu-only", 9, tasks, new Resources(1_000, 1_024, 0))));

        for (NodeView v : views(specs)) {
            Veto veto = rules.filter().check(Fixtures.shape(), Fixtures.slot(v));
            if (!"EU".equals(v.labels().get(TaskShape.JURISDICTION_LABEL))) {
                assertThat(veto).isNotNull();
                assertThat(veto.filter()).isEqualTo("policy/residency");
                assertThat(veto.kind()).isEqualTo(Veto.Kind.STATIC);
            }
        }
        for (Placement p : w.scheduler().plan(w.snapshot()).placements()) {
            assertThat(w.nodes().get(p.node()).labels().get(TaskShape.JURISDICTION_LABEL)).isEqualTo("EU");
        }
    }

    @Property(tries = 200)
    void sameInputsGiveTheSameOutcomes(@ForAll("nodes") List<NodeSpec> specs, @ForAll @IntRange(min = 1, max = 60) int tasks,
                                       @ForAll @Size(max = 2) List<@IntRange(min = 0, max = 9) Integer> unused) {
        Plan first = world(specs, tasks, "anywhere", 3).scheduler().plan(world(specs, tasks, "anywhere", 3).snapshot());
        World again = world(specs, tasks, "anywhere", 3);
        Plan second = again.scheduler().plan(again.snapshot());
        PolicySet recompiled = Fixtures.compile(POLICIES);
        PlacementRules a = SET.placement(Fixtures.context(JobFacts.of("job", "eu-only", 1, 1, Resources.ZERO)));
        PlacementRules b = recompiled.placement(Fixtures.context(JobFacts.of("job", "eu-only", 1, 1, Resources.ZERO)));

        assertThat(second).isEqualTo(first);
        for (NodeView v : views(specs)) {
            assertThat(b.filter().check(Fixtures.shape(), Fixtures.slot(v))).isEqualTo(a.filter().check(Fixtures.shape(), Fixtures.slot(v)));
        }
    }

    @Property(tries = 300)
    void anOfferingOutsideTheRequiredJurisdictionsNeverBursts(@ForAll("jurisdictions") String offeringIn,
                                                              @ForAll("jurisdictions") String datasetIn,
                                                              @ForAll @IntRange(min = 1, max = 20) int priceTenths) {
        PolicySet set = Fixtures.compile(POLICIES + """
                ---
                apiVersion: spillway.dev/v1
                kind: Dataset
                metadata: {name: data}
                spec: {location: "site:lyon", size: 1Gi, jurisdictions: [%s]}
                """.formatted(datasetIn));
        JobFacts job = JobFacts.of("job", "eu-only", 5, 1, new Resources(1_000, 1_024, 0)).withDatasets(List.of("data"));
        dev.spillway.core.burst.Offering offering = new dev.spillway.core.burst.Offering("o", "cloud", "r1", "r1a", offeringIn, "m6i.large",
                new Resources(2_000, 8_192, 0), false, priceTenths / 10.0);

        BurstVerdict verdict = set.burst(job, TenantFacts.named("eu-only"), offering, NOW);

        boolean lawful = offeringIn.equals("EU") && datasetIn.equals("EU");
        assertThat(verdict.allowed()).isEqualTo(lawful);
        if (!lawful) assertThat(verdict.rule()).isEqualTo("residency");
    }

    @Provide
    Arbitrary<String> jurisdictions() {
        return Arbitraries.of("EU", "US", "CH");
    }
}
