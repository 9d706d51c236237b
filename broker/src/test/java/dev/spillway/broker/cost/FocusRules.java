package dev.spillway.broker.cost;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The rules of the FOCUS 1.2 cost and usage dataset that a Spillway export must keep, written
 * from the specification's column and attribute definitions (FinOps Foundation, FOCUS 1.2): the
 * mandatory columns present, each value of its data type and format, nulls only where a column
 * allows them, enumerated columns within their allowed values, custom columns prefixed {@code x_},
 * and the relations between columns (periods end after they start, the charge period within the
 * billing period, a unit wherever a quantity is given).
 */
public final class FocusRules {

    private FocusRules() {
    }

    enum Type { STRING, DECIMAL, DATETIME, CURRENCY, JSON }

    /** A column's data type and whether it may be null (in CSV: an empty field). */
    record Column(Type type, boolean nullable) {
    }

    /** The mandatory columns of FOCUS 1.2 (cost and usage dataset). */
    static final Map<String, Column> MANDATORY = Map.ofEntries(
            Map.entry("BilledCost", new Column(Type.DECIMAL, false)),
            Map.entry("BillingAccountId", new Column(Type.STRING, false)),
            Map.entry("BillingAccountName", new Column(Type.STRING, true)),
            Map.entry("BillingCurrency", new Column(Type.CURRENCY, false)),
            Map.entry("BillingPeriodEnd", new Column(Type.DATETIME, false)),
            Map.entry("BillingPeriodStart", new Column(Type.DATETIME, false)),
            Map.entry("ChargeCategory", new Column(Type.STRING, false)),
            Map.entry("ChargeClass", new Column(Type.STRING, true)),
            Map.entry("ChargeDescription", new Column(Type.STRING, true)),
            Map.entry("ChargePeriodEnd", new Column(Type.DATETIME, false)),
            Map.entry("ChargePeriodStart", new Column(Type.DATETIME, false)),
            Map.entry("ContractedCost", new Column(Type.DECIMAL, false)),
            Map.entry("EffectiveCost", new Column(Type.DECIMAL, false)),
            Map.entry("InvoiceIssuerName", new Column(Type.STRING, false)),
            Map.entry("ListCost", new Column(Type.DECIMAL, false)),
            Map.entry("PricingQuantity", new Column(Type.DECIMAL, true)),
            Map.entry("PricingUnit", new Column(Type.STRING, true)),
            Map.entry("ProviderName", new Column(Type.STRING, false)),
            Map.entry("PublisherName", new Column(Type.STRING, false)),
            Map.entry("ServiceCategory", new Column(Type.STRING, false)),
            Map.entry("ServiceName", new Column(Type.STRING, false)));

    /** Conditional and recommended columns the export writes, with their types. */
    static final Map<String, Column> OTHERS = Map.ofEntries(
            Map.entry("AvailabilityZone", new Column(Type.STRING, true)),
            Map.entry("BillingAccountType", new Column(Type.STRING, false)),
            Map.entry("ChargeFrequency", new Column(Type.STRING, false)),
            Map.entry("ConsumedQuantity", new Column(Type.DECIMAL, true)),
            Map.entry("ConsumedUnit", new Column(Type.STRING, true)),
            Map.entry("ContractedUnitPrice", new Column(Type.DECIMAL, true)),
            Map.entry("ListUnitPrice", new Column(Type.DECIMAL, true)),
            Map.entry("PricingCategory", new Column(Type.STRING, true)),
            Map.entry("RegionId", new Column(Type.STRING, true)),
            Map.entry("RegionName", new Column(Type.STRING, true)),
            Map.entry("ResourceId", new Column(Type.STRING, true)),
            Map.entry("ResourceName", new Column(Type.STRING, true)),
            Map.entry("ResourceType", new Column(Type.STRING, true)),
            Map.entry("ServiceSubcategory", new Column(Type.STRING, false)),
            Map.entry("SkuId", new Column(Type.STRING, true)),
            Map.entry("SkuPriceId", new Column(Type.STRING, true)),
            Map.entry("SubAccountId", new Column(Type.STRING, true)),
            Map.entry("SubAccountName", new Column(Type.STRING, true)),
            Map.entry("SubAccountType", new Column(Type.STRING, true)),
            Map.entry("Tags", new Column(Type.JSON, true)));

    static final Set<String> CHARGE_CATEGORIES = Set.of("Usage", "Purchase", "Tax", "Credit", "Adjustment");
    static final Set<String> CHARGE_CLASSES = Set.of("Correction");
    static final Set<String> CHARGE_FREQUENCIES = Set.of("One-Time", "Recurring", "Usage-Based");
    static final Set<String> PRICING_CATEGORIES = Set.of("Standard", "Dynamic", "Committed", "Other");
    static final Set<String> SERVICE_CATEGORIES = Set.of("AI and Machine Learning", "Analytics", "Business Applications", "Compute",
            "Databases", "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance",
            "Media", "Migration", "Mobile", "Networking", "Security", "Storage", "Web", "Other");
    /** ServiceSubcategory values by their one parent ServiceCategory (those of compute; others are not Spillway's). */
    static final Map<String, Set<String>> SUBCATEGORIES = Map.of("Compute", Set.of("Containers", "End User Computing", "Quantum Compute",
            "Serverless Compute", "Virtual Machines", "Other (Compute)"));
    /** ISO 4217 codes an export of Spillway's may carry. */
    static final Set<String> CURRENCIES = Set.of("USD", "EUR", "GBP", "JPY", "CHF");

    private static final Pattern DATETIME = Pattern.compile("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z");
    private static final Pattern DECIMAL = Pattern.compile("-?\\d+(\\.\\d+)?");
    private static final Pattern PASCAL = Pattern.compile("[A-Z][A-Za-z0-9]*");
    private static final Pattern CUSTOM = Pattern.compile("x_[A-Za-z0-9_]+");

    /** Checks the CSV against the rules (failing the test on the first broken one) and returns its rows by column. */
    public static List<Map<String, String>> check(String csv) {
        List<List<String>> records = parse(csv);
        assertThat(records).as("a header line").isNotEmpty();
        List<String> header = records.get(0);
        assertThat(header).as("every mandatory column").containsAll(MANDATORY.keySet());
        assertThat(header).doesNotHaveDuplicates();
        for (String c : header) {
            assertThat(MANDATORY.containsKey(c) || OTHERS.containsKey(c) || CUSTOM.matcher(c).matches())
                    .as("column %s is a FOCUS column or a custom one prefixed x_", c).isTrue();
            if (!c.startsWith("x_")) assertThat(c).matches(PASCAL);
        }
        List<Map<String, String>> rows = new ArrayList<>();
        for (int n = 1; n < records.size(); n++) {
            List<String> record = records.get(n);
            assertThat(record).as("row %d has a field per column", n).hasSize(header.size());
            Map<String, String> row = new LinkedHashMap<>();
            for (int i = 0; i < header.size(); i++) row.put(header.get(i), record.get(i).isEmpty() ? null : record.get(i));
            checkRow(n, row);
            rows.add(row);
        }
        return rows;
    }

    private static void checkRow(int n, Map<String, String> row) {
        row.forEach((name, value) -> {
            Column c = MANDATORY.containsKey(name) ? MANDATORY.get(name) : OTHERS.get(name);
            if (c == null) return; // a custom column
            if (value == null) {
                assertThat(c.nullable()).as("row %d: %s may not be null", n, name).isTrue();
                return;
            }
            switch (c.type()) {
                case DECIMAL -> assertThat(value).as("row %d: %s is a plain decimal", n, name).matches(DECIMAL);
                case DATETIME -> assertThat(value).as("row %d: %s is UTC YYYY-MM-DDTHH:mm:ssZ", n, name).matches(DATETIME);
                case CURRENCY -> assertThat(CURRENCIES).as("row %d: %s is an ISO 4217 code", n, name).contains(value);
                case JSON -> assertThat(new JsonObject(value)).as("row %d: %s is a JSON object", n, name).isNotNull();
                case STRING -> assertThat(value).as("row %d: %s", n, name).isNotBlank();
            }
        });
        assertThat(CHARGE_CATEGORIES).as("row %d: ChargeCategory", n).contains(row.get("ChargeCategory"));
        if (row.get("ChargeClass") != null) assertThat(CHARGE_CLASSES).contains(row.get("ChargeClass"));
        if (row.get("ChargeFrequency") != null) assertThat(CHARGE_FREQUENCIES).contains(row.get("ChargeFrequency"));
        if (row.get("PricingCategory") != null) assertThat(PRICING_CATEGORIES).contains(row.get("PricingCategory"));
        assertThat(SERVICE_CATEGORIES).as("row %d: ServiceCategory", n).contains(row.get("ServiceCategory"));
        // Nulls that go together (1.2: "null if and only if").
        for (String[] pair : new String[][] {{"PricingQuantity", "PricingUnit"}, {"ConsumedQuantity", "ConsumedUnit"},
                {"SubAccountId", "SubAccountName"}, {"SubAccountId", "SubAccountType"}, {"RegionId", "RegionName"}, {"ResourceId", "ResourceType"}}) {
            if (row.containsKey(pair[1])) {
                assertThat(row.get(pair[1]) == null).as("row %d: %s is null exactly when %s is", n, pair[1], pair[0]).isEqualTo(row.get(pair[0]) == null);
            }
        }
        if (row.get("ResourceName") != null) assertThat(row.get("ResourceName")).as("row %d: a name that is not the id", n).isNotEqualTo(row.get("ResourceId"));
        if (row.get("ServiceSubcategory") != null) {
            assertThat(SUBCATEGORIES.get(row.get("ServiceCategory"))).as("row %d: ServiceSubcategory under its ServiceCategory", n)
                    .contains(row.get("ServiceSubcategory"));
        }
        boolean usageOrPurchase = Set.of("Usage", "Purchase").contains(row.get("ChargeCategory")) && row.get("ChargeClass") == null;
        for (String c : List.of("PricingQuantity", "ListUnitPrice", "ContractedUnitPrice", "PricingCategory", "SkuId")) {
            if (usageOrPurchase && row.containsKey(c)) assertThat(row.get(c)).as("row %d: %s of usage or a purchase", n, c).isNotNull();
            if (row.get("ChargeCategory").equals("Tax") && row.containsKey(c)) assertThat(row.get(c)).as("row %d: %s of tax", n, c).isNull();
        }
        if (row.get("ChargeCategory").equals("Usage") && row.get("ChargeClass") == null && row.containsKey("ConsumedQuantity")) {
            assertThat(row.get("ConsumedQuantity")).as("row %d: ConsumedQuantity of usage", n).isNotNull();
        }
        if (!row.get("ChargeCategory").equals("Usage") && row.containsKey("ConsumedQuantity")) assertThat(row.get("ConsumedQuantity")).isNull();
        if (row.get("ChargeCategory").equals("Purchase")) assertThat(row.get("ChargeFrequency")).isNotEqualTo("Usage-Based");
        for (String price : List.of("ListUnitPrice", "ContractedUnitPrice")) {
            if (row.get(price) != null) assertThat(new BigDecimal(row.get(price))).as("row %d: %s", n, price).isNotNegative();
        }
        // A third party's charge is billed 0 (1.2): Spillway's rows are billed by their provider.
        assertThat(row.get("InvoiceIssuerName")).as("row %d: Spillway's rows are issued by their provider", n).isEqualTo(row.get("ProviderName"));
        // Not rules of 1.2 but of any sane export: periods end after they start, the charge period within the billing period.
        Instant billingStart = Instant.parse(row.get("BillingPeriodStart"));
        Instant billingEnd = Instant.parse(row.get("BillingPeriodEnd"));
        Instant chargeStart = Instant.parse(row.get("ChargePeriodStart"));
        Instant chargeEnd = Instant.parse(row.get("ChargePeriodEnd"));
        assertThat(billingEnd).as("row %d: BillingPeriodEnd after its start", n).isAfter(billingStart);
        assertThat(chargeEnd).as("row %d: ChargePeriodEnd after its start", n).isAfter(chargeStart);
        assertThat(chargeStart).as("row %d: the charge period in the billing period", n).isBetween(billingStart, billingEnd);
        assertThat(chargeEnd).isBetween(billingStart, billingEnd);
        // Usage is not negative; a quantity has its unit; a usage row has a pricing quantity.
        for (String cost : List.of("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")) {
            if (row.get("ChargeCategory").equals("Usage") && row.get("ChargeClass") == null) {
                assertThat(new BigDecimal(row.get(cost))).as("row %d: %s of usage", n, cost).isNotNegative();
            }
        }
        if (row.get("PricingQuantity") != null) assertThat(row.get("PricingUnit")).as("row %d: PricingUnit with PricingQuantity", n).isNotNull();
        if (row.get("ConsumedQuantity") != null) assertThat(row.get("ConsumedUnit")).as("row %d: ConsumedUnit with ConsumedQuantity", n).isNotNull();
        if (row.get("ChargeCategory").equals("Usage") || row.get("ChargeCategory").equals("Purchase")) {
            assertThat(row.get("PricingQuantity")).as("row %d: PricingQuantity of %s", n, row.get("ChargeCategory")).isNotNull();
        }
        // A unit price times the pricing quantity is the cost it prices (to the precision written).
        for (String[] rule : new String[][] {{"ListUnitPrice", "ListCost"}, {"ContractedUnitPrice", "ContractedCost"}}) {
            if (row.get(rule[0]) != null && row.get("PricingQuantity") != null && row.get("ChargeClass") == null) {
                BigDecimal priced = new BigDecimal(row.get(rule[0])).multiply(new BigDecimal(row.get("PricingQuantity")));
                assertThat(priced.subtract(new BigDecimal(row.get(rule[1]))).abs()).as("row %d: %s × PricingQuantity = %s", n, rule[0], rule[1])
                        .isLessThanOrEqualTo(new BigDecimal("0.000001"));
            }
        }
    }

    /** RFC 4180 records (quoted fields, doubled quotes, CRLF or LF line ends). */
    static List<List<String>> parse(String csv) {
        List<List<String>> out = new ArrayList<>();
        List<String> record = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < csv.length(); i++) {
            char ch = csv.charAt(i);
            if (quoted) {
                if (ch == '"' && i + 1 < csv.length() && csv.charAt(i + 1) == '"') {
                    field.append('"');
                    i++;
                } else if (ch == '"') {
                    quoted = false;
                } else {
                    field.append(ch);
                }
            } else if (ch == '"') {
                quoted = true;
            } else if (ch == ',') {
                record.add(field.toString());
                field.setLength(0);
            } else if (ch == '\r' || ch == '\n') {
                if (ch == '\r' && i + 1 < csv.length() && csv.charAt(i + 1) == '\n') i++;
                record.add(field.toString());
                field.setLength(0);
                out.add(record);
                record = new ArrayList<>();
            } else {
                field.append(ch);
            }
        }
        if (!field.isEmpty() || !record.isEmpty()) {
            record.add(field.toString());
            out.add(record);
        }
        return out;
    }
}
