package dev.spillway.core.scheduling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

class FairSharesPropertiesTest {

    private static final Resources CAPACITY = new Resources(64_000, 256 * 1024, 0);

    @Property(tries = 500)
    void fairSharesSplitNoMoreThanTheClusterAndNoTenantMoreThanItWants(@ForAll("demands") List<FairShares.Demand> demands) {
        Map<String, FairShares.Share> shares = FairShares.of(CAPACITY, demands);

        assertThat(shares.keySet()).containsExactlyInAnyOrderElementsOf(demands.stream().map(FairShares.Demand::tenant).toList());
        assertThat(shares.values().stream().mapToDouble(FairShares.Share::fairShare).sum()).isLessThanOrEqualTo(1.0 + 1e-9);
        for (FairShares.Demand d : demands) {
            double wants = dominant(d.allocated().plus(d.queued()));
            assertThat(shares.get(d.tenant()).fairShare()).isBetween(0.0, wants + 1e-9);
            assertThat(shares.get(d.tenant()).share()).isBetween(0.0, 1.0);
        }
    }

    @Property(tries = 500)
    void aTenantGetsLessThanItWantsOnlyWhenNoOtherTenantGetsMoreThanIt(@ForAll("demands") List<FairShares.Demand> demands) {
        Map<String, FairShares.Share> shares = FairShares.of(CAPACITY, demands);

        // Max-min fairness: whoever is cut short holds at least as much as anyone else.
        for (FairShares.Demand d : demands) {
            double fair = shares.get(d.tenant()).fairShare();
            if (fair < dominant(d.allocated().plus(d.queued())) - 1e-9) {
                shares.values().forEach(other -> assertThat(other.fairShare()).isLessThanOrEqualTo(fair + 1e-9));
            }
        }
    }

    @Property(tries = 300)
    void withRoomToSpareEveryTenantsFairShareIsItsWholeDemand(@ForAll("demands") List<FairShares.Demand> demands) {
        Resources huge = new Resources(CAPACITY.cpuMillis() * 1000, CAPACITY.memoryMib() * 1000, 0);
        Map<String, FairShares.Share> shares = FairShares.of(huge, demands);
        for (FairShares.Demand d : demands) {
            Resources wants = d.allocated().plus(d.queued());
            double dominant = Math.max((double) wants.cpuMillis() / huge.cpuMillis(), (double) wants.memoryMib() / huge.memoryMib());
            assertThat(shares.get(d.tenant()).fairShare()).isCloseTo(dominant, within(1e-9));
        }
    }

    @Example
    void twoTenantsWantingTheWholeClusterSplitItAndALightOneGetsAllItAsks() {
        var heavy = new FairShares.Demand("heavy", new Resources(48_000, 1024, 0), new Resources(64_000, 1024, 0));
        var other = new FairShares.Demand("other", new Resources(16_000, 1024, 0), new Resources(64_000, 1024, 0));
        var light = new FairShares.Demand("light", Resources.ZERO, new Resources(6_400, 1024, 0));

        Map<String, FairShares.Share> shares = FairShares.of(CAPACITY, List.of(heavy, other, light));

        assertThat(shares.get("light").fairShare()).isCloseTo(0.1, within(1e-9));
        assertThat(shares.get("heavy").fairShare()).isCloseTo(0.45, within(1e-9));
        assertThat(shares.get("other").fairShare()).isCloseTo(0.45, within(1e-9));
        assertThat(shares.get("heavy").share()).isCloseTo(0.75, within(1e-9));
        assertThat(shares.get("other").share()).isCloseTo(0.25, within(1e-9));
    }

    @Provide
    Arbitrary<List<FairShares.Demand>> demands() {
        Arbitrary<Resources> r = Combinators.combine(Arbitraries.longs().between(0, 80_000), Arbitraries.longs().between(0, 300 * 1024))
                .as((cpu, mem) -> new Resources(cpu, mem, 0));
        return Combinators.combine(r, r).as((a, q) -> new Object[] {a, q}).list().ofMaxSize(12).map(pairs -> {
            List<FairShares.Demand> out = new ArrayList<>();
            for (int i = 0; i < pairs.size(); i++) out.add(new FairShares.Demand("t" + i, (Resources) pairs.get(i)[0], (Resources) pairs.get(i)[1]));
            return out;
        });
    }

    private static double dominant(Resources r) {
        return Math.max((double) r.cpuMillis() / CAPACITY.cpuMillis(), (double) r.memoryMib() / CAPACITY.memoryMib());
    }
}
