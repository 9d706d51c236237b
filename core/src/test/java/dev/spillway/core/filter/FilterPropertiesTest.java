package dev.spillway.core.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Filters read as AIP-160 has them, print back to what they read, and hold for a row as their canonical form does. */
class FilterPropertiesTest {

    static final FilterSchema JOBS = FilterSchema.builder()
            .enumeration("state", "JOB_STATE_", List.of("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"))
            .text("tenant")
            .map("labels")
            .time("create_time")
            .integer("failures")
            .build();

    @Property(tries = 2000)
    void anExpressionReadsBackFromWhatItPrints(@ForAll("expressions") Expr e) {
        assertThat(FilterParser.parse(e.toString())).isEqualTo(e);
    }

    @Property(tries = 2000)
    void aConditionReadsBackFromItsCanonicalFormAndHoldsForTheSameRows(@ForAll("conditions") Expr e, @ForAll("rows") List<Map<String, Object>> rows) {
        Condition c = JOBS.check(e);
        Condition again = JOBS.parse(c.toString());
        assertThat(again).isEqualTo(c);
        for (Map<String, Object> row : rows) assertThat(again.test(row::get)).isEqualTo(c.test(row::get));
    }

    @Property(tries = 3000)
    void anyTextIsReadOrRefusedWithAPosition(@ForAll("scribbles") String text) {
        try {
            JOBS.parse(text);
        } catch (FilterException e) {
            assertThat(e.position()).isBetween(0, text.length() + 1);
            assertThat(e.getMessage()).isNotBlank();
        }
    }

    @Property(tries = 1000)
    void notIsTheComplementAndOrBindsTighterThanAnd(@ForAll("conditions") Expr a, @ForAll("conditions") Expr b, @ForAll("conditions") Expr c,
                                                    @ForAll("rows") List<Map<String, Object>> rows) {
        Condition ca = JOBS.check(a), cb = JOBS.check(b), cc = JOBS.check(c);
        Condition written = JOBS.parse("(" + a + ") (" + b + ") OR -(" + c + ")");
        for (Map<String, Object> row : rows) {
            boolean expected = ca.test(row::get) && (cb.test(row::get) || !cc.test(row::get));
            assertThat(written.test(row::get)).isEqualTo(expected);
        }
    }

    @Example
    void theCommonCases() {
        Map<String, Object> row = new HashMap<>(Map.of("state", "RUNNING", "tenant", "team-a", "labels", Map.of("team", "ml", "spillway.dev/zone", "eu-1"),
                "create_time", Instant.parse("2026-12-02T10:00:00Z"), "failures", 2L));
        assertThat(JOBS.parse("state = RUNNING").test(row::get)).isTrue();
        assertThat(JOBS.parse("state = job_state_running").test(row::get)).isTrue();
        assertThat(JOBS.parse("state = QUEUED OR state = RUNNING").test(row::get)).isTrue();
        assertThat(JOBS.parse("tenant = team-a labels.team = ml").test(row::get)).isTrue();
        assertThat(JOBS.parse("labels.\"spillway.dev/zone\" = \"eu-1\"").test(row::get)).isTrue();
        assertThat(JOBS.parse("labels:team AND NOT labels:owner").test(row::get)).isTrue();
        assertThat(JOBS.parse("labels.owner != bob").test(row::get)).as("an absent key is not equal").isTrue();
        assertThat(JOBS.parse("create_time >= 2026-12-01T00:00:00Z AND create_time < \"2026-12-03T00:00:00+01:00\"").test(row::get)).isTrue();
        assertThat(JOBS.parse("failures > 1 AND failures <= 2").test(row::get)).isTrue();
        assertThat(JOBS.parse("finish_time:*".replace("finish_time", "create_time")).test(row::get)).isTrue();
        row.put("create_time", null);
        assertThat(JOBS.parse("create_time < 2030-01-01T00:00:00Z").test(row::get)).as("an unset time compares false").isFalse();
        assertThat(JOBS.parse("-create_time:*").test(row::get)).isTrue();
        assertThat(JOBS.parse("  ")).isEqualTo(Condition.ALWAYS);
        assertThat(JOBS.parse("state=RUNNING tenant=x").toString()).isEqualTo("state = \"RUNNING\" AND tenant = \"x\"");
    }

    @Example
    void refusalsSayWhatAndWhere() {
        assertRefused("stat = RUNNING", 1, "has no field stat; the fields are state, tenant, labels.<key>, create_time, failures");
        assertRefused("state = WALKING", 1, "compares state with WALKING, which is none of QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED");
        assertRefused("tenant = a AND create_time > yesterday", 16, "compares create_time with yesterday, which is not an RFC 3339 time such as 2026-12-01T00:00:00Z");
        assertRefused("tenant < a", 1, "compares tenant with '<'; it takes '=' and '!='");
        assertRefused("(state = RUNNING", 1, "has a '(' that is not closed");
        assertRefused("state = RUNNING)", 16, "has a ')' without its '('");
        assertRefused("tenant = \"a", 10, "has a string that is not closed");
        assertRefused("state =", 8, "ends after '=' where a value was expected");
        assertRefused("tenant = OR", 10, "has OR where a value was expected; quote it (\"OR\") if it is one");
        assertRefused("RUNNING", 1, "has no field RUNNING; the fields are state, tenant, labels.<key>, create_time, failures");
        assertRefused("state", 1, "has state without a comparison; write it as state = QUEUED");
        assertRefused("labels = x", 1, "compares labels as a whole; compare one key (labels.team = ml) or ask for a key (labels:team)");
        assertRefused("failures > 1.5", 1, "compares failures with 1.5, which is not an integer");
        assertRefused("a ! b", 3, "has '!' without '='");
        assertRefused("state = RUNNING AND", 20, "ends after AND");
        assertRefused("(".repeat(40) + "state = RUNNING" + ")".repeat(40), 33, "nests deeper than 32 levels");
    }

    private static void assertRefused(String filter, int position, String message) {
        assertThatThrownBy(() -> JOBS.parse(filter)).isInstanceOfSatisfying(FilterException.class, e -> {
            assertThat(e.getMessage()).isEqualTo(message);
            assertThat(e.position()).isEqualTo(position);
        });
    }

    // Generators.

    @Provide
    Arbitrary<Expr> expressions() {
        return expr(3, restrictions());
    }

    @Provide
    Arbitrary<Expr> conditions() {
        return expr(3, validRestrictions());
    }

    private Arbitrary<Expr> expr(int depth, Arbitrary<Expr> leaves) {
        if (depth == 0) return leaves;
        Arbitrary<Expr> inner = Arbitraries.lazy(() -> expr(depth - 1, leaves));
        Arbitrary<Expr> and = inner.list().ofMinSize(2).ofMaxSize(3).map(FilterPropertiesTest::and);
        Arbitrary<Expr> or = inner.list().ofMinSize(2).ofMaxSize(3).map(FilterPropertiesTest::or);
        Arbitrary<Expr> not = inner.map(Expr.Not::new);
        return Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(4, leaves), net.jqwik.api.Tuple.of(2, and), net.jqwik.api.Tuple.of(2, or),
                net.jqwik.api.Tuple.of(1, not));
    }

    private static Expr and(List<Expr> parts) {
        List<Expr> flat = new java.util.ArrayList<>();
        for (Expr p : parts) {
            if (p instanceof Expr.And a) flat.addAll(a.all());
            else flat.add(p);
        }
        return new Expr.And(flat);
    }

    private static Expr or(List<Expr> parts) {
        List<Expr> flat = new java.util.ArrayList<>();
        for (Expr p : parts) {
            if (p instanceof Expr.Or o) flat.addAll(o.any());
            else flat.add(p);
        }
        return new Expr.Or(flat);
    }

    private Arbitrary<Expr> restrictions() {
        Arbitrary<Expr.Value> name = Arbitraries.strings().withChars("abcXYZ_-09").ofMinLength(1).ofMaxLength(6)
                .filter(s -> Expr.NAME.matcher(s).matches() && !Expr.KEYWORDS.contains(s)).map(s -> new Expr.Value(s, false));
        Arbitrary<Expr.Value> quotedName = Arbitraries.strings().withChars("ab.\"\\/ é-").ofMaxLength(6).map(s -> new Expr.Value(s, true));
        Arbitrary<List<Expr.Value>> member = Combinators.combine(name, Arbitraries.oneOf(name, quotedName).list().ofMaxSize(2))
                .as((first, rest) -> {
                    List<Expr.Value> m = new java.util.ArrayList<>();
                    m.add(first);
                    m.addAll(rest);
                    return m;
                });
        Arbitrary<Expr.Value> text = Arbitraries.strings().withChars("aZ09-_:.*+/T").ofMinLength(1).ofMaxLength(8)
                .filter(s -> !Expr.KEYWORDS.contains(s)).map(s -> new Expr.Value(s, false));
        Arbitrary<Expr.Value> quoted = Arbitraries.strings().withChars("a \"'\\\n\t()=!<>OR").ofMaxLength(8).map(s -> new Expr.Value(s, true));
        Arbitrary<Expr> bare = member.map(m -> new Expr.Restriction(m, null, null, 0));
        Arbitrary<Expr> compared = Combinators.combine(member, Arbitraries.of(Expr.Op.class), Arbitraries.oneOf(text, quoted))
                .as((m, op, v) -> new Expr.Restriction(m, op, v, 0));
        return Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(1, bare), net.jqwik.api.Tuple.of(6, compared));
    }

    private Arbitrary<Expr> validRestrictions() {
        Arbitrary<String> states = Arbitraries.of("RUNNING", "queued", "JOB_STATE_FAILED", "Succeeded");
        Arbitrary<String> keys = Arbitraries.of("team", "owner", "a.b/c");
        Arbitrary<String> values = Arbitraries.of("ml", "x y", "", "\"q\"");
        Arbitrary<String> times = Arbitraries.longs().between(1_790_000_000L, 1_800_000_000L).map(s -> Instant.ofEpochSecond(s).toString());
        return Arbitraries.oneOf(
                Combinators.combine(Arbitraries.of("=", "!="), states).as((op, s) -> "state " + op + " " + s),
                Combinators.combine(Arbitraries.of("=", "!="), values).as((op, v) -> "tenant " + op + " " + Expr.quote(v)),
                Combinators.combine(keys, Arbitraries.of("=", "!="), values).as((k, op, v) -> "labels." + Expr.quote(k) + " " + op + " " + Expr.quote(v)),
                keys.map(k -> "labels:" + Expr.quote(k)),
                Arbitraries.of("create_time:*", "tenant:*", "labels.team:*"),
                Combinators.combine(Arbitraries.of("=", "!=", "<", "<=", ">", ">="), times).as((op, t) -> "create_time " + op + " " + t),
                Combinators.combine(Arbitraries.of("=", "!=", "<", "<=", ">", ">="), Arbitraries.longs().between(-2, 3)).as((op, n) -> "failures " + op + " " + n))
                .map(FilterParser::parse);
    }

    @Provide
    Arbitrary<List<Map<String, Object>>> rows() {
        Arbitrary<Map<String, Object>> row = Combinators.combine(
                Arbitraries.of("QUEUED", "RUNNING", "SUCCEEDED", "FAILED").injectNull(0.1),
                Arbitraries.of("ml", "x y", "", "\"q\"").injectNull(0.2),
                Arbitraries.maps(Arbitraries.of("team", "owner", "a.b/c"), Arbitraries.of("ml", "x y", "", "\"q\"")).ofMaxSize(3).injectNull(0.1),
                Arbitraries.longs().between(1_790_000_000L, 1_800_000_000L).map(Instant::ofEpochSecond).injectNull(0.2),
                Arbitraries.longs().between(-2, 3).injectNull(0.1))
                .as((state, tenant, labels, created, failures) -> {
                    Map<String, Object> m = new HashMap<>();
                    m.put("state", state);
                    m.put("tenant", tenant);
                    m.put("labels", labels);
                    m.put("create_time", created);
                    m.put("failures", failures);
                    return m;
                });
        return row.list().ofMinSize(1).ofMaxSize(8);
    }

    @Provide
    Arbitrary<String> scribbles() {
        return Arbitraries.strings().withChars("state=RUNNG ()-:.!<>\"'\\ANDORT*labels0129").ofMaxLength(40);
    }
}
