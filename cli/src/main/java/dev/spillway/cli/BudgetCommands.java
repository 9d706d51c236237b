package dev.spillway.cli;

import dev.spillway.api.v1.Budget;
import dev.spillway.api.v1.BudgetServiceGrpc;
import dev.spillway.api.v1.DeleteBudgetRequest;
import dev.spillway.api.v1.GetBudgetRequest;
import dev.spillway.api.v1.ListBudgetsRequest;
import dev.spillway.api.v1.ListBudgetsResponse;
import dev.spillway.api.v1.SetBudgetRequest;
import dev.spillway.client.FilterText;
import io.grpc.ManagedChannel;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Budgets: {@code spillway budget set|get|list|delete} and {@code spillway budgets}. */
final class BudgetCommands {

    private BudgetCommands() {}

    @Command(name = "budget", description = {"A tenant's limit in US dollars per period (finops or admin set them; tenants read their own).",
            "Hard budgets refuse a job whose not-to-exceed cost does not fit what is left; soft ones alert."},
            subcommands = {Set.class, Get.class, ListAll.class, Delete.class})
    static final class BudgetCommand {
    }

    @Command(name = "set", description = "Create or replace a budget.")
    static final class Set extends ClusterCommands.Base {
        @Parameters(paramLabel = "NAME", description = "Lowercase letters, digits and dashes.")
        String name;

        @Option(names = "--tenant", required = true, description = "Whose spending it limits.")
        String tenant;

        @Option(names = "--limit", required = true, paramLabel = "USD", description = "US dollars per period.")
        BigDecimal limit;

        @Option(names = "--period", defaultValue = "monthly", description = "monthly, monthly:DAY (1-28), weekly, weekly:DAY, fixed:FROM/TO "
                + "(default ${DEFAULT-VALUE}); UTC.")
        String period;

        @Option(names = "--soft", description = "Alert only; by default a budget is hard: enforced when jobs are admitted.")
        boolean soft;

        @Option(names = "--alerts", split = ",", defaultValue = "50,80,100", description = "Percentages of the limit to alert at (default ${DEFAULT-VALUE}).")
        List<Integer> alerts;

        @Option(names = "--on-prem", description = "Count on-prem work at the rate card too (default: cloud cost only).")
        boolean onPrem;

        @Override
        Integer run(ManagedChannel channel) {
            long micro;
            try {
                micro = limit.movePointRight(6).longValueExact();
            } catch (ArithmeticException e) {
                throw new Spillway.CliException(Spillway.INVALID, "--limit: at most six decimal places, not " + limit.toPlainString());
            }
            Budget b = BudgetServiceGrpc.newBlockingStub(channel).setBudget(SetBudgetRequest.newBuilder().setBudget(Budget.newBuilder().setName(name)
                    .setTenant(tenant).setLimit(dev.spillway.api.Usd.ofMicros(micro)).setPeriod(period).setHard(!soft).addAllAlerts(alerts).setOnPrem(onPrem)).build());
            if (Output.structured(root().output, b, out())) return Spillway.OK;
            print(List.of(b), out());
            return Spillway.OK;
        }
    }

    @Command(name = "get", description = "One budget: its current period, spent, reserved, forecast, and its latest alerts.")
    static final class Get extends ClusterCommands.Base {
        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        Integer run(ManagedChannel channel) {
            Budget b = BudgetServiceGrpc.newBlockingStub(channel).getBudget(GetBudgetRequest.newBuilder().setName(name).build());
            if (Output.structured(root().output, b, out())) return Spillway.OK;
            print(List.of(b), out());
            for (var e : b.getEventsList()) out().println("  " + Output.time(e.getTime()) + "  " + Output.state(e.getKind(), "BUDGET_EVENT_KIND_")
                    + (e.getThresholdPercent() > 0 ? " " + e.getThresholdPercent() + "%" : "") + "  " + e.getMessage());
            out().flush();
            return Spillway.OK;
        }
    }

    @Command(name = "list", description = "Budgets: used / reserved / forecast / limit of the current period.")
    static class ListAll extends ClusterCommands.Base {
        @Option(names = "--tenant", description = "Only this tenant's.")
        String tenant;

        @Option(names = "--filter", description = {"Only budgets this filter (AIP-160) holds for, e.g. 'hard = true'.", "Fields: tenant, period, hard, on_prem."})
        String filter;

        @Override
        Integer run(ManagedChannel channel) {
            var stub = BudgetServiceGrpc.newBlockingStub(channel);
            String written = new FilterText().equal("tenant", tenant).written(filter).text();
            ListBudgetsResponse.Builder all = ListBudgetsResponse.newBuilder();
            String token = "";
            do {
                ListBudgetsResponse page = stub.listBudgets(ListBudgetsRequest.newBuilder().setFilter(written).setPageSize(1000).setPageToken(token).build());
                all.addAllBudgets(page.getBudgetsList());
                token = page.getNextPageToken();
            } while (!token.isEmpty());
            ListBudgetsResponse r = all.build();
            if (Output.structured(root().output, r, out())) return Spillway.OK;
            if (r.getBudgetsCount() == 0) {
                out().println("No budgets.");
                out().flush();
                return Spillway.OK;
            }
            print(r.getBudgetsList(), out());
            return Spillway.OK;
        }
    }

    @Command(name = "budgets", description = "Budgets: used / reserved / forecast / limit of the current period (as 'budget list').")
    static final class Budgets extends ListAll {
    }

    @Command(name = "delete", description = "Delete a budget with its periods and reservations.")
    static final class Delete extends ClusterCommands.Base {
        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        Integer run(ManagedChannel channel) {
            BudgetServiceGrpc.newBlockingStub(channel).deleteBudget(DeleteBudgetRequest.newBuilder().setName(name).build());
            out().println("deleted budget " + name);
            out().flush();
            return Spillway.OK;
        }
    }

    static void print(List<Budget> budgets, PrintWriter out) {
        Output.Table t = new Output.Table("BUDGET", "TENANT", "KIND", "PERIOD", "SPENT", "RESERVED", "FORECAST", "LIMIT", "USED", "UNTIL");
        for (Budget b : budgets) {
            long limit = dev.spillway.api.Usd.micros(b.getLimit());
            String used = String.format(java.util.Locale.ROOT, "%.0f%%", limit == 0 ? 0 : 100.0 * dev.spillway.api.Usd.micros(b.getSpent()) / limit);
            t.row(b.getName(), b.getTenant(), (b.getHard() ? "hard" : "soft") + (b.getOnPrem() ? "+on-prem" : ""), b.getPeriod(),
                    usd(b.getSpent()), usd(b.getReserved()), usd(b.getForecast()), usd(b.getLimit()), used,
                    b.hasPeriodEnd() ? Output.time(b.getPeriodEnd()) : "-");
        }
        t.print(out);
    }

    private static String usd(com.google.type.Money amount) {
        return usd(dev.spillway.api.Usd.micros(amount));
    }

    private static String usd(long micro) {
        return BigDecimal.valueOf(micro, 6).setScale(2, java.math.RoundingMode.HALF_UP).toPlainString();
    }
}
