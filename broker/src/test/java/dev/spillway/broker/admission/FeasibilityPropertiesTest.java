package dev.spillway.broker.admission;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.broker.errors.Violation;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskShape;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Builders;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.From;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * Admission refuses a task exactly when no single place meets every static rule at once, checked against the rules
 * written out plainly; and a refusal names one rule's field.
 */
class FeasibilityPropertiesTest {

    private static final List<String> POOLS = List.of("onprem", "gpu", "aws-eu");
    private static final List<String> JURISDICTIONS = List.of("EU", "US");

    @Provide
    Arbitrary<Feasibility.Place> place() {
        Arbitrary<Map<String, String>> labels = Arbitraries.maps(Arbitraries.of("disk", "arch", TaskShape.SPOT_LABEL, TaskShape.JURISDICTION_LABEL),
                Arbitraries.of("ssd", "hdd", "true", "false", "EU", "US")).ofMaxSize(3);
        Arbitrary<Resources> capacity = Arbitraries.integers().between(1, 3).map(n -> new Resources(n * 2000L, n * 4096L, n - 1)).injectNull(0.2);
        return Builders.withBuilder(() -> new Object[5])
                .use(Arbitraries.of(true, false)).in((b, v) -> { b[0] = v; return b; })
                .use(Arbitraries.of(POOLS)).in((b, v) -> { b[1] = v; return b; })
                .use(capacity).in((b, v) -> { b[2] = v; return b; })
                .use(labels).in((b, v) -> { b[3] = v; return b; })
                .use(Arbitraries.subsetOf("disk", TaskShape.SPOT_LABEL)).in((b, v) -> { b[4] = v; return b; })
                .build(b -> new Feasibility.Place((Boolean) b[0], (String) b[1], (Resources) b[2], asMap(b[3]), asSet(b[4])));
    }

    @Provide
    Arbitrary<TaskShape> task() {
        return Builders.withBuilder(() -> new Object[5])
                .use(Arbitraries.integers().between(1, 3)).in((b, n) -> { b[0] = new Resources(n * 2000L, n * 4096L, n == 3 ? 1 : 0); return b; })
                .use(Arbitraries.maps(Arbitraries.of("disk", "arch", TaskShape.SPOT_LABEL), Arbitraries.of("ssd", "hdd", "true")).ofMaxSize(2))
                .in((b, v) -> { b[1] = v; return b; })
                .use(Arbitraries.subsetOf(POOLS)).in((b, v) -> { b[2] = v; return b; })
                .use(Arbitraries.subsetOf(JURISDICTIONS)).in((b, v) -> { b[3] = v; return b; })
                .use(Arbitraries.of(true, false)).in((b, v) -> { b[4] = v; return b; })
                .build(b -> new TaskShape((Resources) b[0], asMap(b[1]), asSet(b[2]), asSet(b[3]), (Boolean) b[4]));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, String> asMap(Object o) {
        return (Map<String, String>) o;
    }

    @SuppressWarnings("unchecked")
    private static Set<String> asSet(Object o) {
        return (Set<String>) o;
    }

    /** The scheduler's static filters, written out once more. */
    private static boolean meetsAll(TaskShape t, Feasibility.Place p) {
        boolean pool = t.pools().isEmpty() || t.pools().contains(p.pool());
        String where = p.labels().get(TaskShape.JURISDICTION_LABEL);
        boolean jurisdiction = t.jurisdictions().isEmpty() || where != null && t.jurisdictions().contains(where);
        boolean selector = t.nodeSelector().entrySet().stream()
                .allMatch(e -> p.openLabels().contains(e.getKey()) || e.getValue().equals(p.labels().get(e.getKey())));
        boolean spot = t.spotTolerant() || p.openLabels().contains(TaskShape.SPOT_LABEL) || !"true".equals(p.labels().get(TaskShape.SPOT_LABEL));
        boolean size = p.capacity() == null || p.capacity().covers(t.request());
        return pool && jurisdiction && selector && spot && size;
    }

    @Property(tries = 3000)
    void refusedExactlyWhenNoSinglePlaceMeetsEveryRule(@ForAll("task") TaskShape task, @ForAll @Size(max = 6) List<Feasibility.@From("place") Place> places) {
        List<Violation> v = Feasibility.check(task, places);
        boolean runnable = places.isEmpty() || places.stream().anyMatch(p -> meetsAll(task, p));
        assertThat(v.isEmpty()).isEqualTo(runnable);
        if (!runnable) {
            assertThat(v).singleElement().extracting(Violation::field).isIn("spec.task.pools", "spec.task.jurisdictions",
                    "spec.task.node_selector", "spec.task.spot_tolerant", "spec.task.resources");
        }
    }

    @Example
    void aCloudPoolWhoseOfferingsAreUnknownAdmitsAnyInstanceTypeAndSize() {
        Feasibility.Place unknown = new Feasibility.Place(true, "aws-eu", null,
                Map.of("spillway.dev/cloud", "true", TaskShape.JURISDICTION_LABEL, "EU"), Set.of("spillway.dev/instance-type", TaskShape.SPOT_LABEL));
        TaskShape big = new TaskShape(new Resources(512_000, 1 << 20, 8), Map.of("spillway.dev/instance-type", "p5.48xlarge"), Set.of(),
                Set.of("EU"), false);
        assertThat(Feasibility.check(big, List.of(unknown))).isEmpty();
        assertThat(Feasibility.check(new TaskShape(big.request(), Map.of(), Set.of(), Set.of("US"), false), List.of(unknown)))
                .singleElement().satisfies(v -> {
                    assertThat(v.field()).isEqualTo("spec.task.jurisdictions");
                    assertThat(v.description()).isEqualTo("no node or cloud pool is in jurisdictions [US]; jurisdictions there: EU");
                });
    }

    @Example
    void theRefusalSaysWhichEarlierRuleKeepsOutThePlacesThatWouldDo() {
        var ssdOnprem = Feasibility.Place.node("onprem", new Resources(4000, 8192, 0), Map.of("disk", "ssd"));
        var hddGpu = Feasibility.Place.node("gpu", new Resources(4000, 8192, 1), Map.of("disk", "hdd"));
        var task = new TaskShape(new Resources(1000, 1024, 0), new HashMap<>(Map.of("disk", "ssd")), Set.of("gpu"), Set.of(), false);
        assertThat(Feasibility.check(task, List.of(ssdOnprem, hddGpu))).singleElement().extracting(Violation::description)
                .isEqualTo("no node or cloud pool in pools [gpu] carries disk=ssd; values of disk there: hdd "
                        + "(other places would, but pools excludes them)");
    }
}
