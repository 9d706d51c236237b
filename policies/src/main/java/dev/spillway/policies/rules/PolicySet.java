package dev.spillway.policies.rules;

import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.policies.cel.CompiledExpression;
import dev.spillway.policies.cel.EvalError;
import dev.spillway.policies.document.DatasetDoc;
import dev.spillway.policies.document.PolicyDoc;
import dev.spillway.policies.document.QueueDoc;
import dev.spillway.policies.document.TenantDoc;
import dev.spillway.policies.quota.QuotaLimits;
import dev.spillway.policies.quota.QuotaResource;
import dev.spillway.policies.quota.ReclaimPolicy;
import dev.spillway.policies.quota.TenantQuota;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A complete, compiled set of policy documents: immutable, safe to share between threads, and
 * evaluated many times. Built only by {@link PolicyCompiler}, and only when every document and
 * every expression in it is valid.
 *
 * <p>Evaluation never throws for bad facts: an expression that cannot be evaluated (a missing
 * label, its iteration budget spent) gives a safe outcome and says so: an admission rule keeps its
 * action (a Deny rule that cannot be evaluated denies), a placement filter vetoes the node
 * statically, a scorer scores 0, a burst rule refuses the offering.
 */
public final class PolicySet {

    record Admission(String policy, PolicyDoc.AdmissionRule doc, CompiledExpression match, CompiledExpression message) {
    }

    /**
     * @param cacheable       whether the result depends only on facts that do not change within a cycle
     * @param constantMessage the message, rendered once, when it names no variable ({@code '"node in maintenance"'}); else null
     */
    record Filter(String policy, PolicyDoc.FilterRule doc, CompiledExpression match, CompiledExpression message, boolean cacheable,
                  String constantMessage) {
        Filter(String policy, PolicyDoc.FilterRule doc, CompiledExpression match, CompiledExpression message, boolean cacheable) {
            this(policy, doc, match, message, cacheable,
                    message.constant() ? render(message, new Bindings(null, null, null, null, null, null), doc.name()) : null);
        }

        String filterName() {
            return "policy/" + policy + "/" + doc.name();
        }

        /** The human reason for a match in {@code b}. */
        String reason(Bindings b) {
            return constantMessage != null ? constantMessage : render(message, b, doc.name());
        }
    }

    record Scorer(String policy, PolicyDoc.ScorerRule doc, CompiledExpression score, boolean cacheable) {
        String scorerName() {
            return "policy/" + policy + "/" + doc.name();
        }
    }

    record Burst(String policy, PolicyDoc.BurstRule doc, CompiledExpression match, CompiledExpression deny, CompiledExpression message) {
        String ruleName() {
            return policy + "/" + doc.name();
        }
    }

    private final String version;
    private final Map<String, TenantDoc> tenants;
    private final Map<String, QueueDoc> queues;
    private final Map<String, DatasetDoc> datasets;
    private final EgressCost egress;
    final List<Admission> admission;
    final List<Filter> filters;
    final List<Scorer> scorers;
    final List<Burst> burst;
    private final List<TenantQuota> tenantQuotas;
    private final Map<String, List<String>> flavorOrder;

    PolicySet(String version, Map<String, TenantDoc> tenants, Map<String, QueueDoc> queues, Map<String, DatasetDoc> datasets,
              EgressCost egress, List<Admission> admission, List<Filter> filters, List<Scorer> scorers, List<Burst> burst) {
        this.version = version;
        this.tenants = Map.copyOf(tenants);
        this.queues = Map.copyOf(queues);
        this.datasets = Map.copyOf(datasets);
        this.egress = egress;
        this.admission = List.copyOf(admission);
        this.filters = List.copyOf(filters);
        this.scorers = List.copyOf(scorers);
        this.burst = List.copyOf(burst);
        List<TenantQuota> quotas = new ArrayList<>();
        Map<String, List<String>> order = new LinkedHashMap<>();
        for (TenantDoc t : new java.util.TreeMap<>(tenants).values()) {
            if (t.quotas().isEmpty()) continue;
            quotas.add(quotaOf(t));
            order.put(t.name(), t.quotas().stream().map(q -> q.flavor()).toList());
        }
        this.tenantQuotas = List.copyOf(quotas);
        this.flavorOrder = Map.copyOf(order);
    }

    /** A digest of the files the set was compiled from: equal texts, equal versions. */
    public String version() {
        return version;
    }

    public Map<String, TenantDoc> tenants() {
        return tenants;
    }

    public Map<String, QueueDoc> queues() {
        return queues;
    }

    public Map<String, DatasetDoc> datasets() {
        return datasets;
    }

    public EgressCost egress() {
        return egress;
    }

    // ---- residency ------------------------------------------------------------------------------

    /** The legal areas the job may run in: its tenant's, its datasets' and its own requirements together. */
    public Residency residency(JobFacts job) {
        Set<String> allowed = null;
        List<String> because = new ArrayList<>();
        TenantDoc tenant = tenants.get(job.tenant());
        if (tenant != null && !tenant.jurisdictions().isEmpty()) {
            allowed = new TreeSet<>(tenant.jurisdictions());
            because.add("tenant " + tenant.name() + " " + new TreeSet<>(tenant.jurisdictions()));
        }
        for (String name : job.datasets()) {
            DatasetDoc d = datasets.get(name);
            if (d == null || d.jurisdictions().isEmpty()) continue;
            if (allowed == null) allowed = new TreeSet<>(d.jurisdictions());
            else allowed.retainAll(d.jurisdictions());
            because.add("dataset " + d.name() + " " + new TreeSet<>(d.jurisdictions()));
        }
        if (!job.jurisdictions().isEmpty()) {
            if (allowed == null) allowed = new TreeSet<>(job.jurisdictions());
            else allowed.retainAll(job.jurisdictions());
            because.add("job " + new TreeSet<>(job.jurisdictions()));
        }
        return allowed == null ? Residency.ANYWHERE : new Residency(false, allowed, String.join(", ", because));
    }

    // ---- admission ------------------------------------------------------------------------------

    /** Runs every admission rule on a job; the job is admitted unless the result {@link AdmissionResult#denied() denies} it. */
    public AdmissionResult admit(JobFacts job, TenantFacts tenant, Instant now) {
        List<AdmissionOutcome> out = new ArrayList<>();
        Residency residency = residency(job);
        if (residency.impossible()) {
            out.add(new AdmissionOutcome("residency", "jurisdictions", PolicyDoc.Action.DENY,
                    "no jurisdiction satisfies every requirement: " + residency.because(), false));
        }
        for (String name : job.datasets()) {
            if (!datasets.containsKey(name)) {
                out.add(new AdmissionOutcome("datasets", name, PolicyDoc.Action.DENY, "dataset " + name
                        + " is not described by any Dataset document in force (known: " + new TreeSet<>(datasets.keySet()) + ")", false));
            }
        }
        Bindings b = new Bindings(Variables.JOB.view(job), Variables.TENANT.view(tenant), null, null, null, now);
        for (Admission a : admission) {
            Object matched = a.match().evaluate(b);
            if (matched instanceof EvalError e) {
                out.add(new AdmissionOutcome(a.policy(), a.doc().name(), a.doc().action(), "rule could not be evaluated: " + e, true));
            } else if (Boolean.TRUE.equals(matched)) {
                out.add(new AdmissionOutcome(a.policy(), a.doc().name(), a.doc().action(), render(a.message(), b, a.doc().name()), false));
            }
        }
        return new AdmissionResult(out);
    }

    static String render(CompiledExpression message, Bindings b, String rule) {
        Object text = message.evaluate(b);
        if (text instanceof String s) return s;
        return "rule " + rule + " matched (its message could not be evaluated: " + text + ")";
    }

    // ---- quotas ---------------------------------------------------------------------------------

    /** The quotas of the tenants whose documents give them some, for {@link dev.spillway.policies.quota.CycleQuota}. */
    public List<TenantQuota> tenantQuotas() {
        return tenantQuotas;
    }

    /**
     * Whether quota usage must be counted per node: some tenant's quota limits cloud spend
     * ({@code spendUsdPerHour}: a task holds its share of its node's price), or some flavor tells
     * spot capacity from on-demand.
     */
    public boolean countsByNode() {
        return tenantQuotas.stream().anyMatch(t -> t.flavors().values().stream().anyMatch(l -> l.containsKey(QuotaResource.SPEND)))
                || dev.spillway.policies.quota.Flavors.bySpot(flavorNames());
    }

    /** Per tenant with a quota, its flavor names in its document's order (the order its tasks' pools are counted in). */
    public Map<String, List<String>> flavorOrder() {
        return flavorOrder;
    }

    /** Every flavor name the Tenant documents use. */
    public Set<String> flavorNames() {
        Set<String> names = new TreeSet<>();
        flavorOrder.values().forEach(names::addAll);
        return names;
    }

    private static TenantQuota quotaOf(TenantDoc doc) {
        Map<String, Map<QuotaResource, QuotaLimits>> flavors = new LinkedHashMap<>();
        for (var fq : doc.quotas()) {
            Map<QuotaResource, QuotaLimits> limits = new java.util.EnumMap<>(QuotaResource.class);
            fq.resources().forEach((resource, q) -> limits.put(switch (resource) {
                case CPU -> QuotaResource.CPU;
                case MEMORY -> QuotaResource.MEMORY;
                case GPU -> QuotaResource.GPUS;
                case SPEND -> QuotaResource.SPEND;
            }, new QuotaLimits(q.nominal(), q.borrowingLimit(), q.lendingLimit())));
            flavors.put(fq.flavor(), limits);
        }
        return new TenantQuota(doc.name(), doc.cohort(), Math.round(doc.weight() * 1000), ReclaimPolicy.byKey(doc.reclaimWithinCohort().spelling()),
                flavors);
    }

    // ---- tenants --------------------------------------------------------------------------------

    /**
     * What rules see of a tenant: its cohort and nominal quota (summed over flavors) from its
     * {@code Tenant} document, with the usage the caller measured. A tenant no document names
     * has neither.
     */
    public TenantFacts tenantFacts(String tenant, Map<String, Long> usage) {
        TenantDoc doc = tenants.get(tenant);
        if (doc == null) return new TenantFacts(tenant, "", usage, Map.of(), 0, 0, "ok");
        Map<String, Long> quota = new java.util.TreeMap<>();
        for (var flavor : doc.quotas()) {
            flavor.resources().forEach((resource, q) -> quota.merge(resource.key(), q.nominal(), Long::sum));
        }
        return new TenantFacts(tenant, doc.cohort(), usage, quota, 0, 0, "ok");
    }

    // ---- data gravity -----------------------------------------------------------------------------

    /**
     * What running the job at {@code location} costs in moving its datasets there.
     *
     * @param usd         the egress, USD, over every dataset the job reads
     * @param description for people, e.g. {@code 0.43 USD egress for 4.8 GB of genomes-2026}; empty when nothing moves
     */
    public record DataMove(double usd, String description) {
        public static final DataMove NONE = new DataMove(0, "");
    }

    /** The job's datasets moved to {@code location} (datasets no document describes move nothing). */
    public DataMove dataMove(JobFacts job, String location) {
        double usd = 0;
        List<String> parts = new ArrayList<>();
        for (String name : job.datasets()) {
            DatasetDoc d = datasets.get(name);
            if (d == null) continue;
            double cost = egress.usd(d.sizeBytes(), d.location(), location);
            usd += cost;
            if (cost > 0) {
                parts.add(String.format(java.util.Locale.ROOT, "%.2f USD egress for %.1f GB of %s from %s", cost, d.sizeBytes() / 1e9, d.name(),
                        d.location()));
            }
        }
        return usd == 0 ? DataMove.NONE : new DataMove(usd, String.join(", ", parts));
    }

    // ---- placement ------------------------------------------------------------------------------

    /**
     * Whether placement depends on the job a task belongs to: some filter or scorer rule exists,
     * some burst rule (which also decides who may run on cloud nodes), some tenant has a quota, or
     * some tenant or dataset requires jurisdictions. When false, {@link #placement} adds nothing
     * a cycle needs to evaluate.
     */
    public boolean placesByJob() {
        return !filters.isEmpty() || !scorers.isEmpty() || !datasets.isEmpty() || !burst.isEmpty() || !tenantQuotas.isEmpty()
                || tenants.values().stream().anyMatch(t -> !t.jurisdictions().isEmpty());
    }

    /**
     * The placement rules for one scheduling cycle: a filter (residency, then every filter rule)
     * and one scorer per scorer rule, to add to the scheduler's pipeline. Remembers results per
     * (shape, node) for the cycle, so use a new one each cycle; not thread-safe (a cycle is).
     */
    public PlacementRules placement(PlacementContext context) {
        return new PlacementRules(this, context);
    }

    // ---- burst ----------------------------------------------------------------------------------

    /** Whether bursting depends on the job: some burst rule exists, some dataset is described (data gravity), or some tenant requires jurisdictions. */
    public boolean burstsByJob() {
        return !burst.isEmpty() || !datasets.isEmpty() || tenants.values().stream().anyMatch(t -> !t.jurisdictions().isEmpty());
    }

    /**
     * Every offering this job may not burst onto, with the rule and why ({@code rule: reason}): the
     * burst rules' refusals ({@link #burst}), then data gravity's among the rest ({@link #gravityRefusals}).
     */
    public Map<String, String> burstRefusals(JobFacts job, TenantFacts tenant, List<Offering> offerings, Instant now,
                                             java.util.function.Function<Offering, String> location, Set<String> poolsWithRoom) {
        Map<String, String> refused = new HashMap<>();
        List<Offering> allowed = new ArrayList<>();
        for (Offering o : offerings) {
            BurstVerdict v = burst(job, tenant, o, now);
            if (!v.allowed()) refused.put(o.id(), v.rule() + ": " + v.reason());
            else allowed.add(o);
        }
        refused.putAll(gravityRefusals(job, job.perTask(), allowed, location, poolsWithRoom));
        return refused;
    }

    /**
     * Data gravity in bursting: where a job that reads datasets should not be given new capacity.
     * Each place with an offering a task fits on costs its first hour: the cheapest such offering's
     * price plus moving the job's datasets there. Offerings in a place whose first hour costs more
     * than in the cheapest place with room are refused, with the figures; a place without room
     * (its pool at its limits) refuses nothing, so the job may still burst there when the best
     * place is full. A job reading no dataset, or one whose data moves nowhere it may go, is refused
     * nothing.
     *
     * @param offerings    the offerings the job may otherwise burst onto
     * @param location     each offering's place ({@code aws:eu-central-1})
     * @param poolsWithRoom pools that may launch another instance now
     * @return the refused offering ids with the rule and reason, {@code data-gravity: ...}
     */
    public Map<String, String> gravityRefusals(JobFacts job, Resources perTask, List<Offering> offerings,
                                               java.util.function.Function<Offering, String> location, Set<String> poolsWithRoom) {
        if (job.datasets().isEmpty()) return Map.of();
        Map<String, Double> firstHour = new TreeMap<>();
        Map<String, DataMove> moves = new HashMap<>();
        Map<String, Boolean> room = new HashMap<>();
        for (Offering o : offerings) {
            if (!o.shape().covers(perTask)) continue;
            String place = location.apply(o);
            DataMove move = moves.computeIfAbsent(place, l -> dataMove(job, l));
            firstHour.merge(place, o.priceUsdPerHour() + move.usd(), Math::min);
            room.merge(place, poolsWithRoom.contains(o.pool()), Boolean::logicalOr);
        }
        String best = null;
        for (Map.Entry<String, Double> e : firstHour.entrySet()) {
            if (room.get(e.getKey()) && (best == null || e.getValue() < firstHour.get(best))) best = e.getKey();
        }
        if (best == null) return Map.of();
        Map<String, String> refused = new HashMap<>();
        for (Offering o : offerings) {
            String place = location.apply(o);
            Double cost = firstHour.get(place);
            DataMove move = moves.get(place);
            if (cost == null || move.usd() == 0 || cost <= firstHour.get(best) + 1e-9) continue;
            refused.put(o.id(), String.format(java.util.Locale.ROOT,
                    "data-gravity: %s; a first hour in %s costs %.2f USD with it, against %.2f USD in %s", move.description(), place, cost,
                    firstHour.get(best), best));
        }
        return refused;
    }

    /**
     * Whether the job may burst onto this offering: residency first, then every burst rule that
     * matches the job (in policy order), each limit in turn. The first refusal is the answer.
     */
    public BurstVerdict burst(JobFacts job, TenantFacts tenant, Offering offering, Instant now) {
        Residency residency = residency(job);
        if (!residency.allows(offering.jurisdiction())) {
            return BurstVerdict.refused("residency", "offering in " + offering.jurisdiction() + ", outside the jurisdictions required by "
                    + residency.because());
        }
        Bindings b = new Bindings(Variables.JOB.view(job), Variables.TENANT.view(tenant), null, null, null, now);
        Bindings withOffering = null;
        ZonedDateTime utc = now.atZone(ZoneOffset.UTC);
        for (Burst r : burst) {
            if (r.match() != null) {
                Object m = r.match().evaluate(b);
                if (m instanceof EvalError e) return BurstVerdict.refused(r.ruleName(), "rule could not be evaluated: " + e);
                if (!Boolean.TRUE.equals(m)) continue;
            }
            PolicyDoc.BurstRule d = r.doc();
            if (!d.windows().isEmpty() && d.windows().stream().noneMatch(w -> w.contains(utc.getDayOfWeek(), utc.toLocalTime()))) {
                return BurstVerdict.refused(r.ruleName(), "outside the rule's burst windows (UTC)");
            }
            if (!d.pools().isEmpty() && !d.pools().contains(offering.pool())) {
                return BurstVerdict.refused(r.ruleName(), "pool " + offering.pool() + " not among " + new TreeSet<>(d.pools()));
            }
            if (!d.regions().isEmpty() && !d.regions().contains(offering.region())) {
                return BurstVerdict.refused(r.ruleName(), "region " + offering.region() + " not among " + new TreeSet<>(d.regions()));
            }
            String family = Variables.instanceFamily(offering.instanceType());
            if (!d.instanceFamilies().isEmpty() && !d.instanceFamilies().contains(family)) {
                return BurstVerdict.refused(r.ruleName(), "instance family " + family + " not among " + new TreeSet<>(d.instanceFamilies()));
            }
            if (d.spotOnly() && !offering.spot()) return BurstVerdict.refused(r.ruleName(), "on-demand offering; the rule allows spot only");
            if (d.maxUsdPerHour() != null && offering.priceUsdPerHour() > d.maxUsdPerHour()) {
                return BurstVerdict.refused(r.ruleName(), String.format(java.util.Locale.ROOT, "%.4f USD/hour is above the rule's cap of %.4f",
                        offering.priceUsdPerHour(), d.maxUsdPerHour()));
            }
            if (r.deny() != null) {
                if (withOffering == null) withOffering = b.withOffering(Variables.OFFERING.view(offering));
                Object denied = r.deny().evaluate(withOffering);
                if (denied instanceof EvalError e) return BurstVerdict.refused(r.ruleName(), "rule could not be evaluated: " + e);
                if (Boolean.TRUE.equals(denied)) {
                    String why = r.message() == null ? "denied by the rule's condition" : render(r.message(), withOffering, d.name());
                    return BurstVerdict.refused(r.ruleName(), why);
                }
            }
        }
        return BurstVerdict.ALLOWED;
    }

    /**
     * How long a task of this job that waiting could help must wait before it may burst: the
     * {@code burstAfter} of the first burst rule that matches the job and sets one; empty leaves
     * the pool's own. A rule whose match cannot be evaluated is skipped here (the offering check
     * refuses for it).
     */
    public Optional<Duration> burstAfter(JobFacts job, TenantFacts tenant, Instant now) {
        Bindings b = new Bindings(Variables.JOB.view(job), Variables.TENANT.view(tenant), null, null, null, now);
        for (Burst r : burst) {
            if (r.doc().burstAfter() == null) continue;
            if (r.match() == null || Boolean.TRUE.equals(r.match().evaluate(b))) return Optional.of(r.doc().burstAfter());
        }
        return Optional.empty();
    }

    /** How many of each thing the set holds, by kind: admissionRules, placementFilters, placementScorers, burstRules, tenants, queues, datasets. */
    public Map<String, Integer> summary() {
        Map<String, Integer> counts = new LinkedHashMap<>();
        counts.put("admissionRules", admission.size());
        counts.put("placementFilters", filters.size());
        counts.put("placementScorers", scorers.size());
        counts.put("burstRules", burst.size());
        counts.put("tenants", tenants.size());
        counts.put("queues", queues.size());
        counts.put("datasets", datasets.size());
        return counts;
    }

    /** Names of the rules, {@code policy/rule}, by kind; for listings and tests. */
    public Set<String> ruleNames() {
        Set<String> names = new LinkedHashSet<>();
        admission.forEach(a -> names.add(a.policy() + "/" + a.doc().name()));
        filters.forEach(f -> names.add(f.policy() + "/" + f.doc().name()));
        scorers.forEach(s -> names.add(s.policy() + "/" + s.doc().name()));
        burst.forEach(r -> names.add(r.ruleName()));
        return names;
    }
}
