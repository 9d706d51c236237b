package dev.spillway.broker.api.console;

import dev.spillway.api.Usd;
import dev.spillway.api.v1.PolicyFile;
import dev.spillway.api.v1.PolicyVersion;
import dev.spillway.api.v1.WhatIfResponse;
import dev.spillway.api.v1.WhatIfSide;
import dev.spillway.api.v1.WhatIfTenantSide;
import io.quarkus.qute.TemplateData;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The policies pages: versions, their files and diffs, and a what-if replay side by side. */
final class PolicyViews {

    private PolicyViews() {
    }

    /** Marks where each file starts when a set is edited as one text. */
    private static final Pattern FILE_MARK = Pattern.compile("(?m)^# --- file: (\\S+) ---$\\n?");

    @TemplateData
    record VersionRow(long version, String appliedBy, String time, String comment, String compiled, String digest) {
    }

    @TemplateData
    record DiffLine(String text, String kind) {
    }

    @TemplateData
    record FileView(String name, String text) {
    }

    @TemplateData
    record Comparison(String measure, String current, String candidate, String change) {
    }

    @TemplateData
    record TenantComparison(String tenant, String jobs, String refused, String meanWait, String p95Wait, String cloudCost) {
    }

    static VersionRow version(PolicyVersion v) {
        String compiled = v.getAdmissionRules() + " admission, " + v.getPlacementFilters() + " placement filter(s), " + v.getPlacementScorers()
                + " scorer(s), " + v.getBurstRules() + " burst rule(s), " + v.getTenants() + " tenant(s), " + v.getDatasets() + " dataset(s)";
        return new VersionRow(v.getVersion(), v.getAppliedBy(), Views.time(v.getApplyTime()), v.getComment(), compiled,
                v.getDigest().length() > 12 ? v.getDigest().substring(0, 12) : v.getDigest());
    }

    /** A unified diff as lines, each with its kind: head, hunk, add, del or same. */
    static List<DiffLine> diff(String unified) {
        List<DiffLine> out = new ArrayList<>();
        String body = unified.endsWith("\n") ? unified.substring(0, unified.length() - 1) : unified;
        if (body.isEmpty()) return out;
        for (String line : body.split("\n", -1)) {
            String kind = line.startsWith("+++") || line.startsWith("---") ? "head" : line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add"
                    : line.startsWith("-") ? "del" : "same";
            out.add(new DiffLine(line, kind));
        }
        return out;
    }

    /** A set of files as one text to edit, each file after a mark naming it. */
    static String joined(List<PolicyFile> files) {
        StringBuilder out = new StringBuilder();
        for (PolicyFile f : files) {
            out.append("# --- file: ").append(f.getName()).append(" ---\n").append(f.getText());
            if (!f.getText().endsWith("\n")) out.append('\n');
        }
        return out.toString();
    }

    /** The files of an edited text: split at the marks; without marks, one file {@code candidate.yaml}. */
    static List<PolicyFile> split(String text) {
        String normalised = text.replace("\r\n", "\n");
        Matcher m = FILE_MARK.matcher(normalised);
        List<PolicyFile> out = new ArrayList<>();
        String name = null;
        int from = 0;
        while (m.find()) {
            if (name != null) out.add(PolicyFile.newBuilder().setName(name).setText(normalised.substring(from, m.start())).build());
            else if (!normalised.substring(0, m.start()).isBlank()) out.add(PolicyFile.newBuilder().setName("candidate.yaml").setText(normalised.substring(0, m.start())).build());
            name = m.group(1);
            from = m.end();
        }
        if (name != null) out.add(PolicyFile.newBuilder().setName(name).setText(normalised.substring(from)).build());
        else if (!normalised.isBlank()) out.add(PolicyFile.newBuilder().setName("candidate.yaml").setText(normalised).build());
        return out;
    }

    static List<Comparison> sides(WhatIfResponse r) {
        WhatIfSide a = r.getCurrent();
        WhatIfSide b = r.getCandidate();
        List<Comparison> out = new ArrayList<>();
        out.add(compare("Jobs refused", a.getRefusedJobs(), b.getRefusedJobs(), "%.0f"));
        out.add(compare("Tasks run", a.getTasksRun(), b.getTasksRun(), "%.0f"));
        out.add(compare("Tasks never placed", a.getTasksNeverPlaced(), b.getTasksNeverPlaced(), "%.0f"));
        out.add(compare("Mean wait (s)", a.getMeanWaitSeconds(), b.getMeanWaitSeconds(), "%.1f"));
        out.add(compare("p95 wait (s)", a.getP95WaitSeconds(), b.getP95WaitSeconds(), "%.1f"));
        out.add(compare("Cloud cost (USD)", Usd.dollars(a.getCloudCost()), Usd.dollars(b.getCloudCost()), "%.4f"));
        out.add(compare("Cloud instances", a.getInstances(), b.getInstances(), "%.0f"));
        out.add(compare("Residency violations", a.getResidencyViolations(), b.getResidencyViolations(), "%.0f"));
        return out;
    }

    static List<TenantComparison> tenants(WhatIfResponse r) {
        return r.getTenantsList().stream().map(t -> new TenantComparison(t.getTenant(), pair(t.getCurrent().getJobs(), t.getCandidate().getJobs(), "%.0f"),
                pair(t.getCurrent().getRefused(), t.getCandidate().getRefused(), "%.0f"),
                pair(t.getCurrent().getMeanWaitSeconds(), t.getCandidate().getMeanWaitSeconds(), "%.1f"),
                pair(t.getCurrent().getP95WaitSeconds(), t.getCandidate().getP95WaitSeconds(), "%.1f"),
                pair(cost(t.getCurrent()), cost(t.getCandidate()), "%.4f"))).toList();
    }

    private static double cost(WhatIfTenantSide s) {
        return Usd.dollars(s.getCloudCost());
    }

    private static Comparison compare(String measure, double a, double b, String format) {
        String change = a == b ? "same" : (b > a ? "+" : "") + String.format(Locale.ROOT, format, b - a);
        return new Comparison(measure, String.format(Locale.ROOT, format, a), String.format(Locale.ROOT, format, b), change);
    }

    private static String pair(double a, double b, String format) {
        return String.format(Locale.ROOT, format, a) + " → " + String.format(Locale.ROOT, format, b);
    }
}
