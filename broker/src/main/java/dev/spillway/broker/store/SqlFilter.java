package dev.spillway.broker.store;

import dev.spillway.core.filter.Condition;
import dev.spillway.core.filter.Expr;
import io.vertx.mutiny.sqlclient.Tuple;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * A checked filter ({@link Condition}) as a SQL condition whose values are bound parameters. The
 * negations are pushed down to the comparisons first, so that the SQL holds for exactly the rows
 * {@link Condition#test} holds for, NULLs included: {@code a != v} is {@code a IS DISTINCT FROM v},
 * and {@code NOT a < v} is {@code (a >= v OR a IS NULL)}.
 */
public final class SqlFilter {

    /**
     * How a listing's fields are read in SQL.
     *
     * @param columns each scalar field's column (an SQL expression of the listed row)
     * @param maps each map field's test: given the SQL of a key parameter and of a value parameter (null: any value),
     *             a condition that the row has that key (with that value)
     */
    public record Columns(Map<String, String> columns, Map<String, BiFunction<String, String, String>> maps) {
        public Columns {
            columns = Map.copyOf(columns);
            maps = Map.copyOf(maps);
        }
    }

    private final Columns columns;
    private final Tuple args;

    private SqlFilter(Columns columns, Tuple args) {
        this.columns = columns;
        this.args = args;
    }

    /** The SQL condition of {@code condition}; its values are added to {@code args} and numbered after those already there. */
    public static String render(Condition condition, Columns columns, Tuple args) {
        return new SqlFilter(columns, args).sql(condition, false);
    }

    private String sql(Condition c, boolean negated) {
        if (c instanceof Condition.Not not) return sql(not.condition(), !negated);
        if (c instanceof Condition.All all) return join(all.all(), negated ? " OR " : " AND ", negated ? "FALSE" : "TRUE", negated);
        if (c instanceof Condition.Any any) return join(any.any(), negated ? " AND " : " OR ", negated ? "TRUE" : "FALSE", negated);
        if (c instanceof Condition.Present p) {
            if (p.key() != null) {
                String exists = map(p.field()).apply(bind(p.key()), null);
                return negated ? "NOT " + exists : exists;
            }
            return column(p.field()) + (negated ? " IS NULL" : " IS NOT NULL");
        }
        Condition.Compare cmp = (Condition.Compare) c;
        if (cmp.key() != null) {
            boolean equal = (cmp.op() == Expr.Op.EQ) != negated;
            String exists = map(cmp.field()).apply(bind(cmp.key()), bind(cmp.value()));
            return equal ? exists : "NOT " + exists;
        }
        String col = column(cmp.field());
        String v = bind(cmp.value());
        return switch (cmp.op()) {
            case EQ -> negated ? col + " IS DISTINCT FROM " + v : col + " = " + v;
            case NE -> negated ? col + " = " + v : col + " IS DISTINCT FROM " + v;
            case LT -> negated ? "(" + col + " >= " + v + " OR " + col + " IS NULL)" : col + " < " + v;
            case LE -> negated ? "(" + col + " > " + v + " OR " + col + " IS NULL)" : col + " <= " + v;
            case GT -> negated ? "(" + col + " <= " + v + " OR " + col + " IS NULL)" : col + " > " + v;
            case GE -> negated ? "(" + col + " < " + v + " OR " + col + " IS NULL)" : col + " >= " + v;
            case HAS -> throw new IllegalStateException("':' is checked into Present");
        };
    }

    private String join(List<Condition> parts, String op, String empty, boolean negated) {
        if (parts.isEmpty()) return empty;
        List<String> out = new ArrayList<>();
        for (Condition p : parts) out.add(sql(p, negated));
        return out.size() == 1 ? out.get(0) : "(" + String.join(op, out) + ")";
    }

    private String column(String field) {
        String col = columns.columns().get(field);
        if (col == null) throw new IllegalStateException("no column for filter field " + field);
        return col;
    }

    private BiFunction<String, String, String> map(String field) {
        BiFunction<String, String, String> m = columns.maps().get(field);
        if (m == null) throw new IllegalStateException("no table for filter map " + field);
        return m;
    }

    private String bind(Object value) {
        if (value instanceof Instant t) {
            args.addOffsetDateTime(t.atOffset(ZoneOffset.UTC));
            return "$" + args.size() + "::timestamptz";
        }
        if (value instanceof Boolean b) {
            args.addBoolean(b);
            return "$" + args.size() + "::boolean";
        }
        if (value instanceof Long n) {
            args.addLong(n);
            return "$" + args.size() + "::bigint";
        }
        args.addString((String) value);
        return "$" + args.size() + "::text";
    }
}
