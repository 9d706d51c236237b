package dev.spillway.broker.api.console;

import com.google.protobuf.Timestamp;
import dev.spillway.api.Quantities;
import dev.spillway.api.Usd;
import dev.spillway.api.v1.AttemptDecision;
import dev.spillway.api.v1.CloudInstance;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.LeaderLease;
import dev.spillway.api.v1.Pool;
import dev.spillway.api.v1.Resources;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TenantQueue;
import io.quarkus.qute.TemplateData;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * What the console's templates show, made from the API's messages: text already formatted
 * (times in UTC, money in USD, quantities as the CLI writes them), so the templates only lay it out.
 */
final class Views {

    private Views() {
    }

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

    /** The header and menu of every page. */
    @TemplateData
    record Chrome(String title, String section, String subject, String role, String tenants, boolean finops, String csrf) {
    }

    @TemplateData
    record PoolRow(String name, String kind, int readyNodes, String capacity, String allocated, int allocatedPercent, int runningTasks,
                   int waitingTasks, String waiting, boolean cloud, String instances, String spendPerHour, String cloudStatus) {
    }

    @TemplateData
    record InstanceRow(String id, String pool, String type, boolean spot, String state, String stateClass, String price, String cost,
                       String node, String since, String reason, String decision) {
    }

    @TemplateData
    record StateCount(String state, String stateClass, int count) {
    }

    @TemplateData
    record TenantRow(String tenant, int queued, int running, String allocated, int sharePercent, int fairSharePercent, String verdict) {
    }

    @TemplateData
    record Leader(String holder, String address, long epoch, int brokers) {
    }

    @TemplateData
    record JobRow(String id, String name, String tenant, String state, String stateClass, int tasks, String done, String created,
                  String finished) {
    }

    @TemplateData
    record TaskRow(int index, String state, String stateClass, int attempt, String node, String exit, String started, String finished,
                   String reason) {
    }

    @TemplateData
    record Group(int count, String what, String examples) {
    }

    @TemplateData
    record DecisionRow(int task, int attempt, String node, String pool, String location, long policyVersion, String residency,
                       String rules, String time) {
    }

    @TemplateData
    record Label(String key, String value) {
    }

    /** What a job has cost so far (the ledger), or why it is not shown. */
    @TemplateData
    record JobCost(String cloud, String onPrem, String total, long totalMicros, String hidden) {

        static JobCost of(dev.spillway.api.v1.CostGroup total) {
            long micros = CostViews.micros(total);
            return new JobCost(CostViews.usd(total.getCloudCost()), CostViews.usd(total.getOnPremCost()), usd(micros / 1e6, 6), micros, "");
        }

        static JobCost hidden(String why) {
            return new JobCost("", "", "", 0, why);
        }
    }

    /** What the job was quoted at admission: the expected cost, and the bound or why there is none. */
    record Quoted(boolean kept, String expected, long expectedMicros, String bound, long boundMicros, String unbounded) {

        static Quoted of(Job job) {
            if (!job.hasQuote()) return new Quoted(false, "", 0, "", 0, "");
            dev.spillway.api.v1.JobQuote q = job.getQuote();
            return new Quoted(true, q.hasExpectedCost() ? CostViews.usd(q.getExpectedCost()) : "", q.hasExpectedCost() ? Usd.micros(q.getExpectedCost()) : 0,
                    q.hasNotToExceedCost() ? CostViews.usd(q.getNotToExceedCost()) : "", q.hasNotToExceedCost() ? Usd.micros(q.getNotToExceedCost()) : 0,
                    q.getUnboundedReason());
        }
    }

    static PoolRow pool(Pool p) {
        boolean cloud = p.hasCloud();
        return new PoolRow(id(p.getName()), kind(p.getKind().name()), p.getReadyNodes(), resources(p.getCapacity()), resources(p.getAllocated()),
                percent(p.getAllocated().getCpuMillis(), p.getCapacity().getCpuMillis()), p.getRunningTasks(), p.getWaitingTasks(),
                p.getWaitingTasks() == 0 ? "" : resources(p.getWaiting()),
                cloud, cloud ? p.getCloud().getInstances() + " / " + p.getCloud().getMaxNodes() : "",
                cloud ? usd(Usd.dollars(p.getCloud().getSpendPerHour()), 4) + "/h" : "", cloud ? p.getCloud().getStatus() : "");
    }

    static InstanceRow instance(CloudInstance i) {
        String state = state(i.getState().name(), "INSTANCE_STATE_");
        Timestamp since = i.hasTerminateTime() ? i.getTerminateTime() : i.hasJoinTime() ? i.getJoinTime()
                : i.hasLaunchTime() ? i.getLaunchTime() : i.getRequestTime();
        return new InstanceRow(i.getUid().length() > 8 ? i.getUid().substring(0, 8) : i.getUid(), id(i.getPool()), i.getInstanceType(), i.getSpot(),
                state, stateClass(state), usd(Usd.dollars(i.getPricePerHour()), 4) + "/h", usd(Usd.dollars(i.getCost()), 6),
                i.getNode().isEmpty() ? "-" : i.getNode(), time(since), i.getReason(), i.getDecision());
    }

    static List<StateCount> instanceCounts(List<CloudInstance> instances) {
        Map<String, Long> counts = instances.stream().collect(Collectors.groupingBy(i -> state(i.getState().name(), "INSTANCE_STATE_"),
                java.util.TreeMap::new, Collectors.counting()));
        List<StateCount> out = new ArrayList<>();
        counts.forEach((state, n) -> out.add(new StateCount(state, stateClass(state), n.intValue())));
        return out;
    }

    static TenantRow tenant(TenantQueue t) {
        int share = (int) Math.round(t.getShare() * 100);
        int fair = (int) Math.round(t.getFairShare() * 100);
        String verdict = t.getQueuedTasks() == 0 ? "nothing waiting" : share + 2 < fair ? "owed placements" : share > fair + 2 ? "above its fair share" : "at its fair share";
        return new TenantRow(t.getTenant(), t.getQueuedTasks(), t.getRunningTasks(), resources(t.getAllocated()), share, fair, verdict);
    }

    static Leader leader(LeaderLease lease, int brokers) {
        return new Leader(lease.getHolder(), lease.getAddress(), lease.getEpoch(), brokers);
    }

    static JobRow job(Job j) {
        String state = state(j.getState().name(), "JOB_STATE_");
        return new JobRow(j.getUid(), j.getSpec().getName().isEmpty() ? "-" : j.getSpec().getName(), j.getSpec().getTenant(), state,
                stateClass(state), j.getSpec().getTaskCount(), done(j) + " / " + j.getSpec().getTaskCount(), time(j.getCreateTime()),
                time(j.getFinishTime()));
    }

    static TaskRow task(Task t) {
        String state = state(t.getState().name(), "TASK_STATE_");
        return new TaskRow(t.getIndex(), state, stateClass(state), t.getAttempt(), t.getNode().isEmpty() ? "-" : t.getNode(),
                t.hasExitCode() ? Integer.toString(t.getExitCode()) : "-", time(t.getStartTime()), time(t.getFinishTime()), reason(t));
    }

    static String reason(Task t) {
        if (!t.getMessage().isEmpty()) return t.getMessage();
        return t.getReason().name().replace("REASON_", "").replace('_', ' ').toLowerCase(Locale.ROOT).replace("unspecified", "");
    }

    static DecisionRow decision(AttemptDecision d) {
        String rules = d.getRulesList().stream().map(r -> r.getRule() + ": " + r.getOutcome() + (r.getDetail().isEmpty() ? "" : " (" + r.getDetail() + ")"))
                .collect(Collectors.joining("; "));
        return new DecisionRow(d.getTaskIndex(), d.getAttempt(), d.getNode(), id(d.getPool()), d.getLocation(), d.getPolicyVersion(),
                d.getResidency(), rules.isEmpty() ? "-" : rules, time(d.getDecideTime()));
    }

    /** Tasks grouped by where they are and why, as {@code spillway explain} groups them. */
    static List<Group> groups(List<Task> tasks) {
        Map<String, List<Integer>> byWhat = new java.util.TreeMap<>();
        for (Task t : tasks) {
            String what = state(t.getState().name(), "TASK_STATE_") + " on " + (t.getNode().isEmpty() ? "no node" : t.getNode())
                    + (reason(t).isEmpty() ? "" : ": " + reason(t));
            byWhat.computeIfAbsent(what, k -> new ArrayList<>()).add(t.getIndex());
        }
        List<Group> out = new ArrayList<>();
        byWhat.forEach((what, idx) -> out.add(new Group(idx.size(), what,
                idx.subList(0, Math.min(5, idx.size())).stream().map(String::valueOf).collect(Collectors.joining(", ")) + (idx.size() > 5 ? ", …" : ""))));
        out.sort(java.util.Comparator.comparingInt(Group::count).reversed());
        return out;
    }

    static int done(Job j) {
        int finished = 0;
        for (String s : List.of("SUCCEEDED", "FAILED", "LOST", "CANCELLED")) finished += j.getTaskCountsOrDefault("TASK_STATE_" + s, 0);
        return finished;
    }

    static List<StateCount> taskCounts(Job j) {
        List<StateCount> out = new ArrayList<>();
        for (String s : List.of("QUEUED", "ASSIGNED", "RUNNING", "SUCCEEDED", "FAILED", "LOST", "CANCELLED")) {
            int n = j.getTaskCountsOrDefault("TASK_STATE_" + s, 0);
            if (n > 0) out.add(new StateCount(s.toLowerCase(Locale.ROOT), stateClass(s.toLowerCase(Locale.ROOT)), n));
        }
        return out;
    }

    static String resources(Resources r) {
        String text = Quantities.formatCpu(r.getCpuMillis()) + " CPU, " + Quantities.formatMemory(r.getMemoryMib());
        return r.getGpus() > 0 ? text + ", " + r.getGpus() + " GPU" : text;
    }

    static String usd(double dollars, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f USD", dollars);
    }

    static String time(Timestamp t) {
        if (t == null || (t.getSeconds() == 0 && t.getNanos() == 0)) return "-";
        return TIME.format(Instant.ofEpochSecond(t.getSeconds(), t.getNanos()));
    }

    /** {@code JOB_STATE_RUNNING} to {@code running}. */
    static String state(String name, String prefix) {
        return name.startsWith(prefix) ? name.substring(prefix.length()).toLowerCase(Locale.ROOT) : name.toLowerCase(Locale.ROOT);
    }

    /** The CSS class of a state's badge: good, bad, busy or idle. */
    static String stateClass(String state) {
        return switch (state) {
            case "succeeded", "joined", "ready" -> "good";
            case "failed", "lost" -> "bad";
            case "running", "assigned", "provisioning", "booting", "requested", "launching", "draining", "terminating" -> "busy";
            default -> "idle";
        };
    }

    /** The last part of a resource name ({@code pools/onprem} to {@code onprem}). */
    static String id(String name) {
        int slash = name.lastIndexOf('/');
        return slash < 0 ? name : name.substring(slash + 1);
    }

    private static String kind(String kind) {
        return state(kind, "POOL_KIND_").replace('_', '-');
    }

    private static int percent(long part, long whole) {
        return whole <= 0 ? 0 : (int) Math.min(100, Math.round(100.0 * part / whole));
    }
}
