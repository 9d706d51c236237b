package dev.spillway.broker.api.console;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Timestamp;
import dev.spillway.api.Usd;
import dev.spillway.api.v1.Budget;
import dev.spillway.api.v1.CostGroup;
import dev.spillway.api.v1.CostPeriod;
import dev.spillway.api.v1.GetCostReportResponse;
import io.quarkus.qute.TemplateData;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The costs page's figures and the data of its charts (JSON the page's script draws with uPlot). */
final class CostViews {

    private CostViews() {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Groups drawn one by one in the spend chart; the rest are summed as "other". */
    static final int CHART_GROUPS = 8;

    @TemplateData
    record GroupRow(String key, String name, String cloud, String onPrem, String idle, String total, long totalMicros) {
    }

    @TemplateData
    record Totals(String cloud, String onPrem, String idle, String total, long cloudMicros, long onPremMicros, long idleMicros, String start,
                  String end, String window) {
    }

    @TemplateData
    record BudgetRow(String name, String tenant, String period, String limit, String spent, String reserved, String forecast, int spentPercent,
                     int committedPercent, int forecastPercent, boolean hard, boolean over, String chart, String note, List<String> events) {
    }

    static long micros(CostGroup g) {
        return Usd.micros(g.getCloudCost()) + Usd.micros(g.getOnPremCost()) + Usd.micros(g.getIdleCost());
    }

    static GroupRow group(CostGroup g, String what) {
        String key = g.getKey().isEmpty() ? (what.equals("tenant") || what.equals("job") ? "idle (no job)" : "(none)") : g.getKey();
        return new GroupRow(key, g.getName(), usd(g.getCloudCost()), usd(g.getOnPremCost()), usd(g.getIdleCost()), Views.usd(micros(g) / 1e6, 6),
                micros(g));
    }

    static Totals totals(GetCostReportResponse r) {
        CostGroup t = r.getTotal();
        return new Totals(usd(t.getCloudCost()), usd(t.getOnPremCost()), usd(t.getIdleCost()), Views.usd(micros(t) / 1e6, 6),
                Usd.micros(t.getCloudCost()), Usd.micros(t.getOnPremCost()), Usd.micros(t.getIdleCost()), iso(r.getStartTime()), iso(r.getEndTime()),
                Views.time(r.getStartTime()) + " to " + Views.time(r.getEndTime()));
    }

    /**
     * The spend chart: one stacked series per group (the largest {@link #CHART_GROUPS}, the rest as
     * "other"), cloud plus on-prem plus idle, per period.
     */
    static String spendChart(GetCostReportResponse r, String what) {
        List<String> keys = new ArrayList<>();
        for (CostGroup g : r.getGroupsList()) {
            if (keys.size() == CHART_GROUPS) break;
            keys.add(g.getKey());
        }
        boolean other = r.getGroupsCount() > CHART_GROUPS;
        Map<String, double[]> series = new LinkedHashMap<>();
        for (String k : keys) series.put(k, new double[r.getPeriodsCount()]);
        double[] rest = new double[r.getPeriodsCount()];
        long[] x = new long[r.getPeriodsCount()];
        for (int i = 0; i < r.getPeriodsCount(); i++) {
            CostPeriod p = r.getPeriods(i);
            x[i] = p.getStartTime().getSeconds();
            for (CostGroup g : p.getGroupsList()) {
                double[] s = series.get(g.getKey());
                if (s != null) s[i] = micros(g) / 1e6;
                else rest[i] += micros(g) / 1e6;
            }
        }
        List<Map<String, Object>> out = new ArrayList<>();
        series.forEach((k, v) -> out.add(Map.of("label", k.isEmpty() ? (what.equals("tenant") ? "idle" : "(none)") : k, "values", v)));
        if (other) out.add(Map.of("label", "other", "values", rest));
        return json(Map.of("x", x, "series", out, "unit", "USD"));
    }

    /** Cloud, on-prem at the rate card, and idle cloud cost per period, stacked. */
    static String kindChart(GetCostReportResponse r) {
        int n = r.getPeriodsCount();
        long[] x = new long[n];
        double[] cloud = new double[n];
        double[] onPrem = new double[n];
        double[] idle = new double[n];
        for (int i = 0; i < n; i++) {
            CostPeriod p = r.getPeriods(i);
            x[i] = p.getStartTime().getSeconds();
            cloud[i] = Usd.micros(p.getTotal().getCloudCost()) / 1e6;
            onPrem[i] = Usd.micros(p.getTotal().getOnPremCost()) / 1e6;
            idle[i] = Usd.micros(p.getTotal().getIdleCost()) / 1e6;
        }
        return json(Map.of("x", x, "series", List.of(Map.of("label", "cloud", "values", cloud), Map.of("label", "on-prem (rate card)", "values", onPrem),
                Map.of("label", "idle cloud", "values", idle)), "unit", "USD"));
    }

    /**
     * A budget's figures and, for a tenant's budget (not a cohort's), its burn-down: spending to
     * date period by period against the limit, and the forecast to the period's end.
     */
    static BudgetRow budget(Budget b, GetCostReportResponse spending) {
        long limit = Usd.micros(b.getLimit());
        long spent = Usd.micros(b.getSpent());
        long reserved = Usd.micros(b.getReserved());
        long forecast = Usd.micros(b.getForecast());
        String chart = "";
        String note = "";
        if (spending != null) {
            List<Long> x = new ArrayList<>();
            List<Double> cumulative = new ArrayList<>();
            double sum = 0;
            x.add(b.getPeriodStart().getSeconds());
            cumulative.add(0.0);
            for (CostPeriod p : spending.getPeriodsList()) {
                CostGroup t = p.getTotal();
                sum += (Usd.micros(t.getCloudCost()) + (b.getOnPrem() ? Usd.micros(t.getOnPremCost()) : 0)) / 1e6;
                x.add(p.getEndTime().getSeconds());
                cumulative.add(sum);
            }
            List<Object> spentLine = new ArrayList<>(cumulative);
            List<Object> forecastLine = new ArrayList<>();
            for (int i = 0; i < cumulative.size() - 1; i++) forecastLine.add(null);
            forecastLine.add(sum);
            if (b.getPeriodEnd().getSeconds() > x.get(x.size() - 1)) {
                x.add(b.getPeriodEnd().getSeconds());
                spentLine.add(null);
                forecastLine.add(forecast / 1e6);
            }
            List<Double> limitLine = new ArrayList<>();
            for (int i = 0; i < x.size(); i++) limitLine.add(limit / 1e6);
            chart = json(Map.of("x", x, "unit", "USD", "series", List.of(Map.of("label", "spent", "values", spentLine),
                    Map.of("label", "forecast", "values", forecastLine, "dash", true), Map.of("label", "limit", "values", limitLine, "dash", true))));
        } else {
            note = "A cohort's spending is drawn from its tenants' reports; see the figures.";
        }
        List<String> events = b.getEventsList().stream().limit(3).map(e -> Views.time(e.getTime()) + " " + e.getMessage()).toList();
        return new BudgetRow(Views.id(b.getName()), b.getTenant(), b.getPeriod().isEmpty() ? "monthly" : b.getPeriod(), usd(b.getLimit()), usd(b.getSpent()),
                usd(b.getReserved()), usd(b.getForecast()), percent(spent, limit), percent(spent + reserved, limit), percent(forecast, limit), b.getHard(),
                spent + reserved > limit, chart, note, events);
    }

    private static int percent(long part, long whole) {
        return whole <= 0 ? 0 : (int) Math.min(100, Math.round(100.0 * part / whole));
    }

    static String usd(com.google.type.Money m) {
        return Views.usd(Usd.dollars(m), 6);
    }

    private static String iso(Timestamp t) {
        return java.time.Instant.ofEpochSecond(t.getSeconds(), t.getNanos()).toString();
    }

    private static String json(Object o) {
        try {
            return JSON.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write chart data", e);
        }
    }
}
