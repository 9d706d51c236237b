package dev.spillway.broker.scheduling;

import dev.spillway.broker.store.DecisionLog;
import dev.spillway.core.scheduling.NodeView;
import dev.spillway.core.scheduling.Placement;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.policies.quota.CycleQuota;
import dev.spillway.policies.rules.PlacementProof;
import dev.spillway.policies.rules.PlacementRules;
import dev.spillway.policies.rules.PoolFacts;
import dev.spillway.policies.rules.Residency;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;

/**
 * The decision log's entries for one cycle's placements: for each (job, node) pair, where the
 * node is and what the rules said of the job there ({@link PlacementRules#proof} when the
 * policies place by job, else the job's own jurisdictions), with the quota flavor charged.
 */
final class DecisionEntries {

    private DecisionEntries() {
    }

    /**
     * @param version the policy version in force (0: none)
     * @param rules   this cycle's placement rules; null when placement does not depend on the job
     * @param quota   this cycle's quota; null without tenant quotas
     * @param shapeOf the shape a job's tasks were planned as
     * @param tenantOf each job's tenant
     */
    static DecisionLog.Entries of(List<Placement> placements, List<NodeView> nodes, Map<String, PoolFacts> pools, long version,
                                  PlacementRules rules, CycleQuota quota, Function<UUID, TaskShape> shapeOf, Function<UUID, String> tenantOf) {
        Map<String, NodeView> byName = new HashMap<>();
        for (NodeView n : nodes) byName.put(n.name(), n);
        Map<DecisionLog.JobNode, DecisionLog.Entry> out = new HashMap<>();
        for (Placement p : placements) {
            UUID job = UUID.fromString(p.task().jobId());
            DecisionLog.JobNode key = new DecisionLog.JobNode(job, p.node());
            if (out.containsKey(key)) continue;
            NodeView node = byName.get(p.node());
            PoolFacts pool = pools.getOrDefault(node.pool(), new PoolFacts(node.pool(), "", "", null, 0));
            TaskShape shape = shapeOf.apply(job);
            List<DecisionLog.Rule> said = new ArrayList<>();
            String jurisdiction;
            String location;
            String residency;
            if (rules != null) {
                PlacementProof proof = rules.proof(shape, node);
                for (PlacementProof.RuleOutcome r : proof.rules()) said.add(new DecisionLog.Rule(r.rule(), r.outcome(), r.detail()));
                jurisdiction = proof.jurisdiction();
                location = proof.location();
                residency = proof.residency();
            } else {
                String label = node.labels().get(TaskShape.JURISDICTION_LABEL);
                jurisdiction = pool.jurisdiction() != null ? pool.jurisdiction() : label == null ? "" : label;
                location = pool.location(node.labels().get(PoolFacts.SITE_LABEL));
                Residency own = shape.jurisdictions().isEmpty() ? Residency.ANYWHERE
                        : new Residency(false, shape.jurisdictions(), "job " + new java.util.TreeSet<>(shape.jurisdictions()));
                residency = PlacementProof.residency(own, jurisdiction);
                if (!own.unrestricted()) said.add(new DecisionLog.Rule("jurisdictions", "allowed", residency));
            }
            if (quota != null) {
                String tenant = tenantOf.apply(job);
                var flavor = quota.flavorOf(tenant, node);
                if (flavor != null) said.add(new DecisionLog.Rule(CycleQuota.FILTER, "charged", "flavor " + flavor.name() + " of tenant " + tenant));
            }
            out.put(key, new DecisionLog.Entry(node.pool(), pool.region(), jurisdiction, location, residency, said));
        }
        return new DecisionLog.Entries(version == 0 ? null : version, out);
    }
}
