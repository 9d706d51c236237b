package dev.spillway.core.cost;

import dev.spillway.core.scheduling.Resources;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * The ledger's rule: what the cloud instances and the on-prem attempts cost in each hour, by job.
 *
 * <p>A cloud instance's charge ({@link InstanceCharge}) is cut into UTC hours: each hour is
 * charged the seconds the instance ran in it, counted from launch in started seconds, and the
 * hour the instance ended in also takes what the billing minimum adds. The cuts telescope, so the
 * hours of an instance add up to its whole charge to the millionth of a dollar, whichever hours
 * are read together. Each hour's part is then split among the jobs whose attempts ran on the
 * instance in that hour ({@link Allocation}), and what they do not account for is the instance's
 * idle cost in that hour.
 *
 * <p>An on-prem attempt costs what its request is priced at by its pool's rate card × the
 * seconds it held the node in the hour. On-prem nodes have no idle entry: the ledger does not know
 * how long a node was up, only how long work held it.
 *
 * <p>Pure: the caller gathers instances and attempts (a database reading) and says when "now" is.
 */
public final class Ledger {

    /** The ledger's period: a UTC hour. */
    public static final Duration PERIOD = Duration.ofHours(1);
    private static final long PERIOD_SECONDS = PERIOD.toSeconds();

    private Ledger() {
    }

    /**
     * A cloud instance as recorded: {@code ended} is null while it runs.
     *
     * @param node the node name its agent joined as, which attempts name
     */
    public record Instance(String id, String node, String pool, Resources capacity, Instant launched, Instant ended, double usdPerHour) {
        public Instance {
            Objects.requireNonNull(launched, "launched");
            if (ended != null && ended.isBefore(launched)) throw new IllegalArgumentException("instance " + id + " ends before its launch");
            if (!(usdPerHour >= 0) || Double.isInfinite(usdPerHour)) throw new IllegalArgumentException("instance " + id + ": price " + usdPerHour);
        }
    }

    /** An attempt that held a node from {@code start} to {@code end} (null while it holds it). */
    public record Attempt(String jobId, String tenant, String node, String pool, Resources request, Instant start, Instant end) {
        public Attempt {
            Objects.requireNonNull(start, "start");
            if (end != null && end.isBefore(start)) throw new IllegalArgumentException("an attempt of job " + jobId + " ends before it starts");
        }
    }

    /** An on-prem pool's prices, in USD per hour of a core, of a GiB of memory, of a GPU. */
    public record Rates(double usdPerCpuHour, double usdPerGibHour, double usdPerGpuHour) {
        public static final Rates FREE = new Rates(0, 0, 0);

        public Rates {
            for (double r : new double[] {usdPerCpuHour, usdPerGibHour, usdPerGpuHour}) {
                if (!(r >= 0) || Double.isInfinite(r)) throw new IllegalArgumentException("a rate is 0 or more, not " + r);
            }
        }

        /** What holding {@code request} for an hour costs. */
        public double usdPerHour(Resources request) {
            return request.cpuMillis() / 1000.0 * usdPerCpuHour + request.memoryMib() / 1024.0 * usdPerGibHour + request.gpus() * usdPerGpuHour;
        }
    }

    public enum Kind { CLOUD, ON_PREM }

    /**
     * One line of the ledger: in the hour from {@code periodStart}, a job's part of an instance
     * (or of on-prem work on a node), or an instance's idle rest ({@code jobId} and {@code tenant}
     * null).
     *
     * @param instanceId null for on-prem
     * @param seconds    for a job, the seconds its attempts held the node (summed over attempts);
     *                   for an idle line, the instance's billed seconds in the hour
     * @param microUsd   millionths of a dollar
     */
    public record Entry(Instant periodStart, Kind kind, String pool, String node, String instanceId, String jobId, String tenant,
                        double seconds, long microUsd) {

        public boolean idle() {
            return jobId == null;
        }
    }

    /** The start of the ledger period that holds {@code t}. */
    public static Instant periodOf(Instant t) {
        return Instant.ofEpochSecond(Math.floorDiv(t.getEpochSecond(), PERIOD_SECONDS) * PERIOD_SECONDS);
    }

    /**
     * The entries of every period from {@code from} (a period start) until {@code to}, nothing
     * after {@code now}: a period that {@code now} falls in is read as it stands, with its running
     * instances charged up to {@code now} (at least their billing minimum) and its running
     * attempts held until {@code now}. {@code instances} and {@code attempts} may include any
     * that do not touch the window; they add nothing.
     *
     * @param rates an on-prem pool's rate card; pools it gives null for cost nothing
     */
    public static List<Entry> entries(Instant from, Instant to, Instant now, List<Instance> instances, List<Attempt> attempts,
                                      Function<String, Rates> rates, Allocation.Weights weights, Billing billing) {
        if (!periodOf(from).equals(from)) throw new IllegalArgumentException("a ledger window starts at a period start, not " + from);
        Instant end = to.isBefore(now) ? to : now;
        List<Entry> out = new ArrayList<>();
        if (!end.isAfter(from)) return out;
        Map<String, List<Attempt>> byNode = new HashMap<>();
        for (Attempt a : attempts) byNode.computeIfAbsent(a.node(), k -> new ArrayList<>()).add(a);
        java.util.Set<String> cloudNodes = new java.util.HashSet<>();
        List<Instance> sorted = new ArrayList<>(instances);
        sorted.sort(Comparator.comparing(Instance::launched).thenComparing(Instance::id));
        for (Instance i : sorted) {
            cloudNodes.add(i.node());
            cloud(i, from, end, now, byNode.getOrDefault(i.node(), List.of()), weights, billing, out);
        }
        List<Attempt> onPrem = new ArrayList<>();
        for (Attempt a : attempts) if (!cloudNodes.contains(a.node())) onPrem.add(a);
        onPrem(onPrem, from, end, now, rates, out);
        out.sort(Comparator.comparing(Entry::periodStart).thenComparing(Entry::kind).thenComparing(Entry::node)
                .thenComparing(e -> e.jobId() == null ? "\uffff" : e.jobId()));
        return List.copyOf(out);
    }

    private static void cloud(Instance i, Instant from, Instant windowEnd, Instant now, List<Attempt> attempts, Allocation.Weights weights,
                              Billing billing, List<Entry> out) {
        Instant last = i.ended() != null ? i.ended() : now; // the end of the instance's billed life, as far as it is known
        if (last.isBefore(i.launched())) return; // launched after the reading
        // The hour that takes the end (and the minimum): an end exactly on an hour belongs to the hour it closes.
        Instant lastHour = last.isAfter(i.launched()) && periodOf(last).equals(last) ? last.minus(PERIOD) : periodOf(last);
        Instant firstHour = periodOf(i.launched()).isAfter(from) ? periodOf(i.launched()) : from;
        for (Instant h0 = firstHour; !h0.isAfter(lastHour) && h0.isBefore(windowEnd); h0 = h0.plus(PERIOD)) {
            Instant cut = min(h0.plus(PERIOD), windowEnd);
            boolean endsHere = h0.equals(lastHour) && !last.isAfter(cut);
            Instant e = endsHere ? last : cut;
            Instant s = h0.isAfter(i.launched()) ? h0 : i.launched();
            long before = startedSeconds(i.launched(), s);
            long upTo = endsHere ? billing.billedSeconds(i.launched(), last) : startedSeconds(i.launched(), e);
            long micro = micro(upTo, i.usdPerHour()) - micro(before, i.usdPerHour());
            InstanceCharge slice = new InstanceCharge(i.id(), i.pool(), s, e, i.usdPerHour(), upTo - before, micro);
            List<Allocation.Use> uses = new ArrayList<>();
            Map<String, String> tenants = new LinkedHashMap<>();
            Map<String, Double> seconds = new LinkedHashMap<>();
            for (Attempt a : attempts) {
                Instant as = a.start();
                Instant ae = a.end() == null ? e : a.end();
                Instant os = as.isAfter(s) ? as : s;
                Instant oe = ae.isBefore(e) ? ae : e;
                if (!oe.isAfter(os)) continue;
                uses.add(new Allocation.Use(a.jobId(), a.tenant(), a.request(), os, oe));
                tenants.putIfAbsent(a.jobId(), a.tenant());
                seconds.merge(a.jobId(), seconds(os, oe), Double::sum);
            }
            Allocation.Result parts = Allocation.allocate(slice, i.capacity(), uses, weights);
            for (Map.Entry<String, Long> p : parts.byAttempt().entrySet()) {
                out.add(new Entry(h0, Kind.CLOUD, i.pool(), i.node(), i.id(), p.getKey(), tenants.get(p.getKey()), seconds.get(p.getKey()), p.getValue()));
            }
            out.add(new Entry(h0, Kind.CLOUD, i.pool(), i.node(), i.id(), null, null, upTo - before, parts.idleMicroUsd()));
        }
    }

    private static void onPrem(List<Attempt> attempts, Instant from, Instant windowEnd, Instant now, Function<String, Rates> rates, List<Entry> out) {
        record Key(Instant period, String node, String job) {
        }
        Map<Key, double[]> sums = new LinkedHashMap<>(); // seconds, micro-USD (unrounded)
        Map<Key, Attempt> first = new HashMap<>();
        for (Attempt a : attempts) {
            Rates r = rates.apply(a.pool());
            double usdPerHour = r == null ? 0 : r.usdPerHour(a.request());
            Instant end = a.end() == null ? now : a.end();
            Instant s0 = a.start().isAfter(from) ? a.start() : from;
            Instant e0 = end.isBefore(windowEnd) ? end : windowEnd;
            for (Instant h0 = periodOf(s0); h0.isBefore(e0); h0 = h0.plus(PERIOD)) {
                Instant os = s0.isAfter(h0) ? s0 : h0;
                Instant h1 = h0.plus(PERIOD);
                Instant oe = e0.isBefore(h1) ? e0 : h1;
                if (!oe.isAfter(os)) continue;
                Key k = new Key(h0, a.node(), a.jobId());
                double secs = seconds(os, oe);
                double[] sum = sums.computeIfAbsent(k, x -> new double[2]);
                sum[0] += secs;
                sum[1] += secs * usdPerHour * 1_000_000 / 3600;
                first.putIfAbsent(k, a);
            }
        }
        for (Map.Entry<Key, double[]> e : sums.entrySet()) {
            Attempt a = first.get(e.getKey());
            out.add(new Entry(e.getKey().period(), Kind.ON_PREM, a.pool(), a.node(), null, a.jobId(), a.tenant(), e.getValue()[0],
                    Math.round(e.getValue()[1])));
        }
    }

    /** Seconds from {@code launched} to {@code t}, a started second counting whole (what a bill up to {@code t} would charge, before any minimum). */
    static long startedSeconds(Instant launched, Instant t) {
        if (!t.isAfter(launched)) return 0;
        Duration d = Duration.between(launched, t);
        return d.getSeconds() + (d.getNano() > 0 ? 1 : 0);
    }

    private static long micro(long seconds, double usdPerHour) {
        return Math.round(seconds * usdPerHour * 1_000_000 / 3600);
    }

    private static double seconds(Instant from, Instant to) {
        Duration d = Duration.between(from, to);
        return d.getSeconds() + d.getNano() / 1e9;
    }

    private static Instant min(Instant a, Instant b) {
        return a.isBefore(b) ? a : b;
    }
}
