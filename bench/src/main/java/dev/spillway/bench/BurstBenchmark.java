package dev.spillway.bench;

import dev.spillway.core.burst.BurstPlanner;
import dev.spillway.core.burst.Demand;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.burst.PoolLimits;
import dev.spillway.core.burst.ProvisionPlan;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.TaskRef;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The burst planner alone, one thread, over a seeded corpus: each case is a burst of task arrays
 * (cpu, memory, some gpus, some EU-only, some spot-tolerant) against offerings across two clouds
 * and eight regions. Reports plan time, cost against first-fit decreasing, and the gap to two
 * proven lower bounds: the LP relaxation, and a looser per-dimension one.
 */
@Command(name = "burst", description = "The burst planner: plan time, and cost against first-fit decreasing and a lower bound.")
final class BurstBenchmark implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--cases", defaultValue = "200", description = "Seeded cases (default ${DEFAULT-VALUE}).")
    int cases;

    @Option(names = "--tasks", defaultValue = "10000", description = "Pending tasks per case (default ${DEFAULT-VALUE}).")
    int tasks;

    @Option(names = "--offerings", defaultValue = "500", description = "Offerings per case (default ${DEFAULT-VALUE}).")
    int offerings;

    private static final String[] REGIONS = {"eu-central-1", "eu-west-1", "us-east-1", "us-west-2", "westeurope", "northeurope", "eastus", "westus2"};

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.printf("burst planner: %d cases of %d tasks x %d offerings (two clouds, %d regions), seeds 1..%d%n", cases, tasks, offerings,
                REGIONS.length, cases);
        BurstPlanner planner = new BurstPlanner();
        Histogram planMicros = new Histogram(60_000_000L, 3);
        double[] vsFfd = new double[cases];
        double[] vsBound = new double[cases];
        double[] vsLp = new double[cases];
        int worseThanFfd = 0;
        for (int c = 0; c < cases + 3; c++) {
            boolean warmUp = c < 3;
            Random random = new Random(warmUp ? 1000 + c : c - 2);
            List<Offering> offers = offerings(random, offerings);
            List<Demand> demand = demand(random, tasks);
            List<PoolLimits> limits = List.of(PoolLimits.unlimited("aws"), PoolLimits.unlimited("azure"));
            long start = System.nanoTime();
            ProvisionPlan plan = planner.plan(demand, offers, limits);
            long took = System.nanoTime() - start;
            if (warmUp) continue;
            int i = c - 3;
            planMicros.recordValue(took / 1000);
            ProvisionPlan ffd = planner.firstFitDecreasing(demand, offers, limits);
            if (plan.coveredTasks() < ffd.coveredTasks() || plan.costUsdPerHour() > ffd.costUsdPerHour() + 1e-9) worseThanFfd++;
            vsFfd[i] = plan.costUsdPerHour() / ffd.costUsdPerHour();
            vsBound[i] = plan.costUsdPerHour() / lowerBound(demand, offers) - 1;
            vsLp[i] = plan.costUsdPerHour() / lpBound(demand, offers) - 1;
        }
        Arrays.sort(vsFfd);
        Arrays.sort(vsBound);
        Arrays.sort(vsLp);
        out.println(String.format(Locale.ROOT,
                "RESULT burst cases=%d tasks=%d offerings=%d plan_p50_ms=%.1f plan_p99_ms=%.1f cost_vs_ffd_median=%.3f worse_than_ffd=%d gap_to_lp_median_pct=%.2f gap_to_lp_p95_pct=%.2f gap_to_dimension_bound_median_pct=%.1f",
                cases, tasks, offerings, planMicros.getValueAtPercentile(50) / 1000.0, planMicros.getValueAtPercentile(99) / 1000.0,
                vsFfd[cases / 2], worseThanFfd, 100 * vsLp[cases / 2], 100 * vsLp[(int) Math.ceil(cases * 0.95) - 1],
                100 * vsBound[cases / 2]));
        out.flush();
        return 0;
    }

    static List<Offering> offerings(Random r, int n) {
        List<Offering> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long cpu = 2000L << r.nextInt(5);
            long mem = cpu * (2 + 2 * r.nextInt(3));
            int gpu = r.nextInt(10) == 0 ? 1 + r.nextInt(4) : 0;
            boolean spot = r.nextBoolean();
            double price = (cpu / 1000.0 * 0.04 + mem / 1024.0 * 0.005 + gpu * 0.9) * (spot ? 0.35 : 1) * (0.9 + 0.2 * r.nextDouble());
            String region = REGIONS[r.nextInt(REGIONS.length)];
            boolean eu = region.startsWith("eu") || region.contains("europe");
            out.add(new Offering("o" + i, i % 2 == 0 ? "aws" : "azure", region, region + "-a", eu ? "EU" : "US", "type-" + i,
                    new Resources(cpu, mem, gpu), spot, Math.round(price * 10000) / 10000.0));
        }
        return out;
    }

    static List<Demand> demand(Random r, int n) {
        List<Demand> out = new ArrayList<>();
        long[] cpus = {500, 1000, 2000, 4000};
        long[] mems = {512, 1024, 4096, 8192};
        for (int job = 0; out.size() < n; job++) {
            Resources req = new Resources(cpus[r.nextInt(cpus.length)], mems[r.nextInt(mems.length)], r.nextInt(20) == 0 ? 1 : 0);
            Set<String> where = r.nextInt(3) == 0 ? Set.of("EU") : Set.of();
            boolean spot = r.nextBoolean();
            for (int t = 0; t < 100 && out.size() < n; t++) out.add(new Demand(new TaskRef("job-" + job, t, 0), req, where, spot));
        }
        return out;
    }

    /**
     * The LP relaxation of the covering problem, a proven lower bound: fractional instances x_o of
     * each offering and fractional assignments y_co of each task class, every class covered, every
     * offering's cpu, memory and gpu load within x_o times its shape; minimise the price of the x_o.
     * Offerings dominated by a no-dearer one that is at least as large and usable by at least the
     * same tasks are left out first (that does not change the optimum).
     */
    static double lpBound(List<Demand> demand, List<Offering> offers) {
        java.util.Map<List<Object>, Integer> counts = new java.util.LinkedHashMap<>();
        java.util.Map<List<Object>, Demand> sample = new java.util.HashMap<>();
        for (Demand d : demand) {
            List<Object> key = List.of(d.request(), d.jurisdictions(), d.spotTolerant());
            counts.merge(key, 1, Integer::sum);
            sample.putIfAbsent(key, d);
        }
        List<Offering> kept = new ArrayList<>();
        for (Offering o : offers) {
            boolean dominated = false;
            for (Offering q : offers) {
                if (q == o || !q.jurisdiction().equals(o.jurisdiction()) || (q.spot() && !o.spot())) continue;
                boolean noDearer = q.priceUsdPerHour() < o.priceUsdPerHour()
                        || (q.priceUsdPerHour() == o.priceUsdPerHour() && q.id().compareTo(o.id()) < 0);
                if (noDearer && q.shape().covers(o.shape())) {
                    dominated = true;
                    break;
                }
            }
            if (!dominated) kept.add(o);
        }
        var model = new org.ojalgo.optimisation.ExpressionsBasedModel();
        List<org.ojalgo.optimisation.Variable> x = new ArrayList<>();
        List<org.ojalgo.optimisation.Expression[]> caps = new ArrayList<>();
        for (int i = 0; i < kept.size(); i++) {
            Offering o = kept.get(i);
            var xi = model.addVariable("x" + i).lower(0).weight(o.priceUsdPerHour());
            x.add(xi);
            var cpu = model.addExpression("cpu" + i).upper(0);
            var mem = model.addExpression("mem" + i).upper(0);
            var gpu = model.addExpression("gpu" + i).upper(0);
            cpu.set(xi, -o.shape().cpuMillis());
            mem.set(xi, -o.shape().memoryMib());
            gpu.set(xi, -o.shape().gpus());
            caps.add(new org.ojalgo.optimisation.Expression[] {cpu, mem, gpu});
        }
        int c = 0;
        for (var e : counts.entrySet()) {
            Demand d = sample.get(e.getKey());
            var cover = model.addExpression("cover" + c).level(e.getValue());
            for (int i = 0; i < kept.size(); i++) {
                Offering o = kept.get(i);
                if (!o.shape().covers(d.request()) || (!d.jurisdictions().isEmpty() && !d.jurisdictions().contains(o.jurisdiction()))
                        || (!d.spotTolerant() && o.spot())) continue;
                var y = model.addVariable("y" + c + "_" + i).lower(0);
                cover.set(y, 1);
                caps.get(i)[0].set(y, d.request().cpuMillis());
                caps.get(i)[1].set(y, d.request().memoryMib());
                caps.get(i)[2].set(y, d.request().gpus());
            }
            c++;
        }
        var result = model.minimise();
        if (!result.getState().isOptimal()) throw new IllegalStateException("LP bound not found: " + result.getState());
        return result.getValue();
    }

    /** No plan can cost less: per dimension, each task's amount at the cheapest unit price among offerings it may use. */
    static double lowerBound(List<Demand> demand, List<Offering> offers) {
        double[] bound = new double[3];
        for (Demand d : demand) {
            double cpu = Double.POSITIVE_INFINITY;
            double mem = Double.POSITIVE_INFINITY;
            double gpu = Double.POSITIVE_INFINITY;
            for (Offering o : offers) {
                if (!o.shape().covers(d.request()) || (!d.jurisdictions().isEmpty() && !d.jurisdictions().contains(o.jurisdiction()))
                        || (!d.spotTolerant() && o.spot())) continue;
                cpu = Math.min(cpu, o.priceUsdPerHour() / o.shape().cpuMillis());
                mem = Math.min(mem, o.priceUsdPerHour() / o.shape().memoryMib());
                if (o.shape().gpus() > 0) gpu = Math.min(gpu, o.priceUsdPerHour() / o.shape().gpus());
            }
            bound[0] += d.request().cpuMillis() * cpu;
            bound[1] += d.request().memoryMib() * mem;
            if (d.request().gpus() > 0) bound[2] += d.request().gpus() * gpu;
        }
        return Math.max(bound[0], Math.max(bound[1], bound[2]));
    }
}
