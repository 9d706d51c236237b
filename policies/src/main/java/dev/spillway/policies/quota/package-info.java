/**
 * Tenant quotas in cohorts and weighted fair share, pure (snapshots in, decisions with reasons out).
 *
 * <p>The meaning is Kueue's (kueue.sigs.k8s.io, concepts "Cluster Queue", "Cohort",
 * "Preemption"/"Fair Sharing", KEP-1224 "lendingLimit"; the arithmetic of
 * {@code pkg/cache/resource_node.go} and {@code fair_sharing.go}), with Spillway's names:
 * <ul>
 *   <li>a <b>tenant</b> ({@link dev.spillway.policies.quota.TenantQuota}) is a ClusterQueue: per
 *       {@linkplain dev.spillway.policies.quota.Flavor flavor} (a pool or group of pools) and
 *       {@linkplain dev.spillway.policies.quota.QuotaResource resource} (cpu, memory, gpus, cloud
 *       spend per hour) it has {@linkplain dev.spillway.policies.quota.QuotaLimits nominal,
 *       borrowingLimit and lendingLimit};</li>
 *   <li>tenants of a <b>cohort</b> lend each other their unused nominal quota, within one flavor;
 *       cohorts are flat (no cohort of cohorts, no quota held by a cohort itself);</li>
 *   <li><b>admission</b> ({@link dev.spillway.policies.quota.QuotaAdmission}) reserves quota in the
 *       first flavor, in the workload's order, that takes its tasks; unlike Kueue, a workload's
 *       independent tasks may be admitted in part, and across flavors;</li>
 *   <li><b>fair share</b> ({@link dev.spillway.policies.quota.FairShare}) orders waiting work by
 *       the weighted dominant resource share of its tenant;</li>
 *   <li><b>reclaim</b> ({@link dev.spillway.policies.quota.Reclaim}) picks borrowed work to preempt
 *       when a tenant needs its nominal quota back, per {@code reclaimWithinCohort}.</li>
 * </ul>
 * Preemption within a tenant (Kueue's {@code withinClusterQueue}), preemption to borrow
 * ({@code borrowWithinCohort}) and fair-sharing preemption strategies are not implemented.
 */
package dev.spillway.policies.quota;
