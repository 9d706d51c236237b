package dev.spillway.broker.cost;

import dev.spillway.broker.store.LedgerStore;
import dev.spillway.core.cost.Ledger;
import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The ledger as a FOCUS 1.2 cost and usage dataset (CSV): one row per ledger line, that is per
 * hour × instance (or on-prem node) × job, and one per instance-hour for its idle rest.
 *
 * <ul>
 * <li>Amounts are the ledger's, exact to the millionth of a dollar: BilledCost, EffectiveCost,
 *     ContractedCost and ListCost are equal (Spillway pays the price it captured at launch; it
 *     knows no list price beside it, and no discounts).</li>
 * <li>PricingQuantity is the instance-hours (or, on-prem, the request-hours at the rate card)
 *     the row pays for, so that PricingQuantity × ListUnitPrice = ListCost; PricingUnit is Hours.
 *     ConsumedQuantity is the hours tasks held the node (the instance's billed hours for an idle
 *     row).</li>
 * <li>A cloud pool is the billing account (the cloud bills its account, Spillway knows the pool);
 *     on-prem rows are issued by the configured internal provider.</li>
 * <li>SubAccountId is the tenant; idle rows have none and carry their cost in x_IdleCost.</li>
 * </ul>
 */
public final class FocusExport {

    /** The FOCUS columns, in the spec's (alphabetical) order, then Spillway's x_ columns. */
    public static final List<String> COLUMNS = List.of(
            "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingAccountType", "BillingCurrency",
            "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
            "ChargePeriodEnd", "ChargePeriodStart", "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice",
            "EffectiveCost", "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
            "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory",
            "ServiceName", "ServiceSubcategory", "SkuId", "SubAccountId", "SubAccountName", "SubAccountType", "Tags",
            "x_Tenant", "x_JobId", "x_JobName", "x_Pool", "x_Node", "x_PolicyVersion", "x_IdleCost");

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

    /** Who provides and issues a pool's charges, by the pool's kind. */
    public record Provider(String providerName, String serviceName, String resourceType) {
        /** A cloud line's provider by its pool's kind (a pool no longer configured: the local cloud's); on-prem, the internal one. */
        static Provider of(boolean cloud, String kind, String internal) {
            if (!cloud) return new Provider(internal, "On-premises compute", "Server");
            return switch (kind) {
                case "aws" -> new Provider("AWS", "Amazon Elastic Compute Cloud", "Instance");
                case "azure" -> new Provider("Microsoft", "Virtual Machines", "Virtual machine");
                default -> new Provider(internal, "Spillway local cloud", "Instance");
            };
        }
    }

    private final Function<String, String> poolKind;
    private final String internalProvider;

    /**
     * @param poolKind         a pool's kind ({@code on-prem}, {@code local}, {@code aws}, {@code azure})
     * @param internalProvider the name on-prem (and local-cloud) rows are issued by
     */
    public FocusExport(Function<String, String> poolKind, String internalProvider) {
        this.poolKind = poolKind;
        this.internalProvider = internalProvider;
    }

    /** The header line and one line per ledger line, CRLF-terminated (RFC 4180). */
    public List<String> csv(List<LedgerStore.Line> lines) {
        List<String> out = new ArrayList<>(lines.size() + 1);
        out.add(String.join(",", COLUMNS) + "\r\n");
        for (LedgerStore.Line l : lines) {
            Map<String, String> row = row(l);
            StringBuilder s = new StringBuilder(512);
            for (int i = 0; i < COLUMNS.size(); i++) {
                if (i > 0) s.append(',');
                String v = row.get(COLUMNS.get(i));
                if (v != null) s.append(quote(v));
            }
            out.add(s.append("\r\n").toString());
        }
        return out;
    }

    /** One row's values by column; a column absent is null (an empty field). */
    Map<String, String> row(LedgerStore.Line l) {
        Ledger.Entry e = l.entry();
        String kind = poolKind.apply(e.pool());
        boolean cloud = e.kind() == Ledger.Kind.CLOUD;
        Provider p = Provider.of(cloud, kind, internalProvider);
        Map<String, String> r = new LinkedHashMap<>();
        String cost = usd(e.microUsd());
        ZonedDateTime hour = e.periodStart().atZone(ZoneOffset.UTC);
        ZonedDateTime month = hour.withDayOfMonth(1).withHour(0);
        r.put("AvailabilityZone", l.offer() == null ? null : l.offer().zone());
        r.put("BilledCost", cost);
        r.put("BillingAccountId", e.pool());
        r.put("BillingAccountName", e.pool());
        r.put("BillingAccountType", cloud ? "Cloud pool" : "On-premises pool");
        r.put("BillingCurrency", "USD");
        r.put("BillingPeriodEnd", TIME.format(month.plusMonths(1)));
        r.put("BillingPeriodStart", TIME.format(month));
        r.put("ChargeCategory", "Usage");
        r.put("ChargeClass", null);
        r.put("ChargeDescription", description(l, cloud));
        r.put("ChargeFrequency", "Usage-Based");
        r.put("ChargePeriodEnd", TIME.format(e.periodStart().plus(Ledger.PERIOD)));
        r.put("ChargePeriodStart", TIME.format(e.periodStart()));
        BigDecimal pricingHours = l.unitUsdPerHour() > 0
                ? BigDecimal.valueOf(e.microUsd()).divide(BigDecimal.valueOf(l.unitUsdPerHour()).multiply(BigDecimal.valueOf(1_000_000)), 9, RoundingMode.HALF_EVEN)
                : BigDecimal.valueOf(e.seconds()).divide(BigDecimal.valueOf(3600), 9, RoundingMode.HALF_EVEN);
        r.put("ConsumedQuantity", decimal(BigDecimal.valueOf(e.seconds()).divide(BigDecimal.valueOf(3600), 9, RoundingMode.HALF_EVEN)));
        r.put("ConsumedUnit", "Hours");
        r.put("ContractedCost", cost);
        r.put("ContractedUnitPrice", decimal(BigDecimal.valueOf(l.unitUsdPerHour())));
        r.put("EffectiveCost", cost);
        r.put("InvoiceIssuerName", p.providerName());
        r.put("ListCost", cost);
        r.put("ListUnitPrice", decimal(BigDecimal.valueOf(l.unitUsdPerHour())));
        r.put("PricingCategory", l.offer() != null && l.offer().spot() ? "Dynamic" : "Standard");
        r.put("PricingQuantity", decimal(pricingHours));
        r.put("PricingUnit", "Hours");
        r.put("ProviderName", p.providerName());
        r.put("PublisherName", p.providerName());
        r.put("RegionId", l.offer() == null ? null : l.offer().region());
        r.put("RegionName", l.offer() == null ? null : l.offer().region());
        r.put("ResourceId", cloud ? e.instanceId() : e.node());
        // An on-prem node's name is its id: FOCUS wants no name that only repeats the id.
        r.put("ResourceName", cloud ? e.node() : null);
        r.put("ResourceType", p.resourceType());
        r.put("ServiceCategory", "Compute");
        r.put("ServiceName", p.serviceName());
        r.put("ServiceSubcategory", "Virtual Machines");
        r.put("SkuId", l.offer() != null ? l.offer().instanceType() : cloud ? null : "rate-card/" + e.pool());
        r.put("SubAccountId", e.tenant());
        r.put("SubAccountName", e.tenant());
        r.put("SubAccountType", e.tenant() == null ? null : "Tenant");
        r.put("Tags", l.job() == null ? null : new JsonObject(Map.copyOf(l.job().labels())).encode());
        r.put("x_Tenant", e.tenant());
        r.put("x_JobId", e.jobId());
        r.put("x_JobName", l.job() == null ? null : l.job().name());
        r.put("x_Pool", e.pool());
        r.put("x_Node", e.node());
        r.put("x_PolicyVersion", null);
        r.put("x_IdleCost", e.idle() ? cost : "0");
        return r;
    }

    private static String description(LedgerStore.Line l, boolean cloud) {
        Ledger.Entry e = l.entry();
        String what = cloud && l.offer() != null
                ? l.offer().instanceType() + (l.offer().spot() ? " spot" : " on-demand") + " in " + l.offer().zone() + " at "
                + decimal(BigDecimal.valueOf(l.unitUsdPerHour())) + " USD/h"
                : "on-prem node " + e.node() + " at the rate card, " + decimal(BigDecimal.valueOf(l.unitUsdPerHour())) + " USD/h for the request";
        if (e.idle()) return "Idle time of " + what;
        return (cloud ? "Share of " : "") + what + " used by job " + (l.job() != null && l.job().name() != null ? l.job().name() + " " : "")
                + e.jobId();
    }

    /** Millionths of a dollar as a plain decimal (no exponent, no trailing zeros beyond one place). */
    static String usd(long micro) {
        return decimal(BigDecimal.valueOf(micro, 6));
    }

    static String decimal(BigDecimal d) {
        BigDecimal s = d.stripTrailingZeros();
        if (s.scale() < 0) s = s.setScale(0);
        return s.toPlainString();
    }

    /** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
    static String quote(String v) {
        if (v.indexOf(',') < 0 && v.indexOf('"') < 0 && v.indexOf('\n') < 0 && v.indexOf('\r') < 0) return v;
        return '"' + v.replace("\"", "\"\"") + '"';
    }

    /** The time format FOCUS uses for Date/Time values. */
    static String time(Instant t) {
        return TIME.format(t);
    }
}
