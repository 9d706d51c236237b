package dev.spillway.core.filter;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A filter checked against its listing's fields ({@link FilterSchema}): values are typed (a
 * {@code String} for text and enum fields, a {@code Boolean}, an {@link Instant} for times, a
 * {@code Long} for integers) and enum values are the stored names. It holds for a row as SQL's two-valued
 * reading of it would: a comparison with an unset field is false, and {@code !=} is {@code NOT =}
 * (an unset field is not equal to anything). {@link #toString()} is canonical: two filters that
 * read the same print the same, which is what page tokens are bound to.
 */
public sealed interface Condition {

    /** No filter. */
    Condition ALWAYS = new All(List.of());

    /** Whether it holds for a row whose fields {@code row} gives (a map field as a {@code Map<String, String>}, null when unset). */
    boolean test(Function<String, Object> row);

    /** Every one of {@code all}; none holds always. */
    record All(List<Condition> all) implements Condition {
        public All {
            all = List.copyOf(all);
        }

        @Override
        public boolean test(Function<String, Object> row) {
            return all.stream().allMatch(c -> c.test(row));
        }

        @Override
        public String toString() {
            if (all.isEmpty()) return "";
            StringBuilder out = new StringBuilder();
            for (Condition c : all) {
                if (!out.isEmpty()) out.append(" AND ");
                out.append(c instanceof All || c instanceof Any ? "(" + c + ")" : c.toString());
            }
            return out.toString();
        }
    }

    /** Any of {@code any}. */
    record Any(List<Condition> any) implements Condition {
        public Any {
            any = List.copyOf(any);
        }

        @Override
        public boolean test(Function<String, Object> row) {
            return any.stream().anyMatch(c -> c.test(row));
        }

        @Override
        public String toString() {
            StringBuilder out = new StringBuilder();
            for (Condition c : any) {
                if (!out.isEmpty()) out.append(" OR ");
                out.append(c instanceof All || c instanceof Any ? "(" + c + ")" : c.toString());
            }
            return out.toString();
        }
    }

    /** Not {@code condition}. */
    record Not(Condition condition) implements Condition {
        @Override
        public boolean test(Function<String, Object> row) {
            return !condition.test(row);
        }

        @Override
        public String toString() {
            return condition instanceof Compare || condition instanceof Present ? "NOT " + condition : "NOT (" + condition + ")";
        }
    }

    /**
     * {@code field op value}, or for a map field {@code field.key op value}.
     *
     * @param key the map's key, null for other fields
     * @param op one of =, !=, &lt;, &lt;=, &gt;, &gt;= (what the field's type allows)
     */
    record Compare(String field, String key, Expr.Op op, Object value) implements Condition {
        @Override
        public boolean test(Function<String, Object> row) {
            Object actual = row.apply(field);
            if (key != null) actual = actual == null ? null : ((Map<?, ?>) actual).get(key);
            if (op == Expr.Op.NE) return !value.equals(actual);
            if (actual == null) return false;
            if (op == Expr.Op.EQ) return value.equals(actual);
            int c = compare(actual, value);
            return switch (op) {
                case LT -> c < 0;
                case LE -> c <= 0;
                case GT -> c > 0;
                case GE -> c >= 0;
                default -> throw new IllegalStateException(op.toString());
            };
        }

        @SuppressWarnings({"unchecked", "rawtypes"})
        private static int compare(Object actual, Object value) {
            return ((Comparable) actual).compareTo(value);
        }

        @Override
        public String toString() {
            String v = value instanceof Long || value instanceof Boolean ? value.toString() : Expr.quote(value.toString());
            return member(field, key) + " " + op.symbol() + " " + v;
        }
    }

    /** Whether a field is set ({@code field:*}), or a map field has a key ({@code labels:team}). */
    record Present(String field, String key) implements Condition {
        @Override
        public boolean test(Function<String, Object> row) {
            Object actual = row.apply(field);
            return key == null ? actual != null : actual != null && ((Map<?, ?>) actual).containsKey(key);
        }

        @Override
        public String toString() {
            return key == null ? field + ":*" : field + ":" + Expr.quote(key);
        }
    }

    private static String member(String field, String key) {
        return key == null ? field : field + "." + Expr.quote(key);
    }
}
