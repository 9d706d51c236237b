package dev.spillway.cli;

import com.google.protobuf.Timestamp;
import dev.spillway.api.v1.CostGroup;
import dev.spillway.api.v1.CostServiceGrpc;
import dev.spillway.api.v1.ExportCostsRequest;
import dev.spillway.api.v1.GetCostReportRequest;
import dev.spillway.api.v1.GetCostReportResponse;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobQuote;
import dev.spillway.api.v1.JobServiceGrpc;
import io.grpc.ManagedChannel;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The cost ledger: {@code spillway cost} and {@code spillway cost export}. */
final class CostCommands {

    private CostCommands() {}

    @Command(name = "cost", description = {"What work cost, from the ledger: cloud instances (billed per second, at least a minute, at the price "
            + "captured at launch) split among the jobs that ran on them, the rest idle; on-prem work at the rate card.",
            "finops and admin see every tenant and idle cost; others their own tenants. -o table (default), json, yaml or csv."},
            subcommands = Export.class)
    static final class Cost extends ClusterCommands.Base {
        @Option(names = "--by", defaultValue = "tenant", description = "tenant (default), pool, job or label:KEY.")
        String by;

        @Option(names = "--since", description = "From this long ago (30m, 12h, 7d) or an RFC 3339 time (default: 30d, or the job's creation with --job).")
        String since;

        @Option(names = "--to", description = "Until this RFC 3339 time or date (default: now).")
        String to;

        @Option(names = "--tenant", description = "Only this tenant's cost.")
        String tenant;

        @Option(names = "--job", paramLabel = "JOB", description = "Only this job's cost, beside what it was quoted when it was admitted.")
        String job;

        @Override
        Integer run(ManagedChannel channel) {
            GetCostReportRequest.Builder req = GetCostReportRequest.newBuilder().setGroupBy(by);
            Job quoted = null;
            if (job != null) {
                if (!by.equals("tenant") && !by.equals("job")) throw new Spillway.CliException(Spillway.INVALID, "--job reports one job: leave out --by " + by);
                quoted = JobServiceGrpc.newBlockingStub(channel).getJob(GetJobRequest.newBuilder().setName(job).build());
                req.setJob(quoted.getName()).setGroupBy("job");
            }
            req.setStartTime(since != null ? PolicyCommands.Decisions.since(since, Instant.now())
                    : quoted != null ? quoted.getCreateTime() : PolicyCommands.Decisions.since("30d", Instant.now()));
            if (to != null) req.setEndTime(time("--to", to));
            if (tenant != null) req.setTenant(tenant);
            GetCostReportResponse r = CostServiceGrpc.newBlockingStub(channel).getCostReport(req.build());
            if (root().output == Output.Format.CSV) {
                csv(r, out());
                return Spillway.OK;
            }
            if (quoted != null && Output.structured(root().output, Map.of("job", quoted, "cost", r), out())) return Spillway.OK;
            if (Output.structured(root().output, r, out())) return Spillway.OK;
            print(r, req.getGroupBy(), out());
            if (quoted != null) printQuote(quoted, out());
            return Spillway.OK;
        }

        /** The job's quote at admission, below what it has cost, and how the two are counted. */
        static void printQuote(Job job, PrintWriter out) {
            if (!job.hasQuote()) {
                out.println("No quote was kept for this job (it was stored before quotes were kept).");
                return;
            }
            JobQuote q = job.getQuote();
            out.println("Quoted at admission: expected " + (q.hasExpectedCost() ? usd(q.getExpectedCost()) + " USD" : "unknown")
                    + ", not to exceed " + (q.hasNotToExceedCost() ? usd(q.getNotToExceedCost()) + " USD" : "unbounded (" + q.getUnboundedReason() + ")"));
            out.println("(The quote prices the instances bought for the job for their whole billed life: boot, billing minimum, scale-down delay.");
            out.println(" The ledger charges the job its tasks' share of the instances they ran on and books the rest as the pools' idle cost.)");
        }

        static void print(GetCostReportResponse r, String by, PrintWriter out) {
            String what = by.startsWith("label:") ? by.substring(6).toUpperCase(java.util.Locale.ROOT) : by.toUpperCase(java.util.Locale.ROOT);
            Output.Table t = by.equals("job")
                    ? new Output.Table("JOB", "NAME", "CLOUD USD", "ON-PREM USD", "IDLE USD", "TOTAL USD", "TASK HOURS")
                    : new Output.Table(what, "CLOUD USD", "ON-PREM USD", "IDLE USD", "TOTAL USD", "TASK HOURS");
            for (CostGroup g : r.getGroupsList()) row(t, by, g.getKey().isEmpty() ? idleName(by) : g.getKey(), g);
            row(t, by, "TOTAL", r.getTotal());
            out.printf("Costs from %s to %s (closed until %s; later hours priced now)%n", Output.time(r.getStartTime()), Output.time(r.getEndTime()),
                    Output.time(r.getClosedUntil()));
            t.print(out);
        }

        private static void row(Output.Table t, String by, String key, CostGroup g) {
            long total = dev.spillway.api.Usd.micros(g.getCloudCost()) + dev.spillway.api.Usd.micros(g.getOnPremCost()) + dev.spillway.api.Usd.micros(g.getIdleCost());
            String hours = String.format(java.util.Locale.ROOT, "%.2f", g.getTaskSeconds() / 3600);
            if (by.equals("job")) {
                t.row(key, g.getName().isEmpty() ? "-" : g.getName(), usd(dev.spillway.api.Usd.micros(g.getCloudCost())), usd(dev.spillway.api.Usd.micros(g.getOnPremCost())), usd(dev.spillway.api.Usd.micros(g.getIdleCost())),
                        usd(total), hours);
            } else {
                t.row(key, usd(dev.spillway.api.Usd.micros(g.getCloudCost())), usd(dev.spillway.api.Usd.micros(g.getOnPremCost())), usd(dev.spillway.api.Usd.micros(g.getIdleCost())), usd(total), hours);
            }
        }

        private static String idleName(String by) {
            return by.startsWith("label:") ? "(idle or unlabelled)" : "(idle)";
        }

        static void csv(GetCostReportResponse r, PrintWriter out) {
            out.print("key,name,cloud_usd,on_prem_usd,idle_usd,total_usd,task_hours\r\n");
            for (CostGroup g : r.getGroupsList()) {
                long total = dev.spillway.api.Usd.micros(g.getCloudCost()) + dev.spillway.api.Usd.micros(g.getOnPremCost()) + dev.spillway.api.Usd.micros(g.getIdleCost());
                out.print(field(g.getKey()) + "," + field(g.getName()) + "," + usd(dev.spillway.api.Usd.micros(g.getCloudCost())) + "," + usd(dev.spillway.api.Usd.micros(g.getOnPremCost())) + ","
                        + usd(dev.spillway.api.Usd.micros(g.getIdleCost())) + "," + usd(total) + "," + BigDecimal.valueOf(g.getTaskSeconds() / 3600).toPlainString() + "\r\n");
            }
            out.flush();
        }

        private static String field(String v) {
            return v.indexOf(',') < 0 && v.indexOf('"') < 0 && v.indexOf('\n') < 0 ? v : '"' + v.replace("\"", "\"\"") + '"';
        }

        /** Millionths of a dollar, all six places. */
        static String usd(long micro) {
            return BigDecimal.valueOf(micro, 6).toPlainString();
        }

        static String usd(com.google.type.Money amount) {
            return usd(dev.spillway.api.Usd.micros(amount));
        }
    }

    @Command(name = "export", description = {"The ledger's lines as a FinOps Open Cost and Usage Specification (FOCUS) 1.2 CSV, on standard output:",
            "one row per hour × instance (or on-prem node) × job, and one per instance-hour for its idle rest."})
    static final class Export extends ClusterCommands.Base {
        @Option(names = "--format", defaultValue = "focus", description = "focus (FOCUS 1.2 CSV).")
        String format;

        @Option(names = "--from", required = true, description = "From this date (2026-11-01) or RFC 3339 time, UTC.")
        String from;

        @Option(names = "--to", description = "Until this date or time, exclusive (default: now).")
        String to;

        @Option(names = "--tenant", description = "Only this tenant's rows.")
        String tenant;

        @Override
        Integer run(ManagedChannel channel) {
            ExportCostsRequest.Builder req = ExportCostsRequest.newBuilder().setFormat(format).setStartTime(time("--from", from));
            if (to != null) req.setEndTime(time("--to", to));
            if (tenant != null) req.setTenant(tenant);
            PrintWriter out = out();
            var chunks = CostServiceGrpc.newBlockingStub(channel).exportCosts(req.build());
            while (chunks.hasNext()) out.print(chunks.next().getChunk().toString(StandardCharsets.UTF_8));
            out.flush();
            return Spillway.OK;
        }
    }

    /** A date (midnight UTC) or an RFC 3339 time. */
    static Timestamp time(String option, String text) {
        Instant at;
        try {
            at = text.length() == 10 ? LocalDate.parse(text).atStartOfDay(ZoneOffset.UTC).toInstant() : OffsetDateTime.parse(text).toInstant();
        } catch (RuntimeException e) {
            throw new Spillway.CliException(Spillway.INVALID, option + ": a date (2026-11-01) or an RFC 3339 time, not '" + text + "'");
        }
        return Timestamp.newBuilder().setSeconds(at.getEpochSecond()).setNanos(at.getNano()).build();
    }
}
