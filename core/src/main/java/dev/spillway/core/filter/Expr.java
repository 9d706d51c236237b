package dev.spillway.core.filter;

import java.util.List;
import java.util.regex.Pattern;

/**
 * A filter as written (AIP-160), before its fields are checked against a listing: conjunctions,
 * disjunctions, negations and restrictions {@code member op value}. {@link #toString()} writes it
 * back in a canonical form that {@link FilterParser} reads to an equal expression.
 */
public sealed interface Expr {

    /** The comparators of AIP-160. */
    enum Op {
        EQ("="), NE("!="), LT("<"), LE("<="), GT(">"), GE(">="), HAS(":");

        private final String symbol;

        Op(String symbol) {
            this.symbol = symbol;
        }

        public String symbol() {
            return symbol;
        }
    }

    /** What a member's part may be without quotes. */
    Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_\\-]*");

    /** What a value may be without quotes (a timestamp such as 2026-12-01T00:00:00Z is one). */
    Pattern VALUE = Pattern.compile("[^\\s()\"'<>=!]+");

    /** Words that are operators unless quoted. */
    java.util.Set<String> KEYWORDS = java.util.Set.of("AND", "OR", "NOT");

    /** Every one of {@code all} (at least two; none is itself an And). */
    record And(List<Expr> all) implements Expr {
        public And {
            all = List.copyOf(all);
        }

        @Override
        public String toString() {
            StringBuilder out = new StringBuilder();
            for (Expr e : all) {
                if (!out.isEmpty()) out.append(" AND ");
                out.append(e instanceof Or ? "(" + e + ")" : e.toString());
            }
            return out.toString();
        }
    }

    /** Any of {@code any} (at least two; none is itself an Or). */
    record Or(List<Expr> any) implements Expr {
        public Or {
            any = List.copyOf(any);
        }

        @Override
        public String toString() {
            StringBuilder out = new StringBuilder();
            for (Expr e : any) {
                if (!out.isEmpty()) out.append(" OR ");
                out.append(e instanceof And ? "(" + e + ")" : e.toString());
            }
            return out.toString();
        }
    }

    /** Not {@code expr}. */
    record Not(Expr expr) implements Expr {
        @Override
        public String toString() {
            return expr instanceof Restriction ? "NOT " + expr : "NOT (" + expr + ")";
        }
    }

    /** A value, and whether it was quoted (a quoted value is never a keyword or a wildcard). */
    record Value(String text, boolean quoted) {
        @Override
        public String toString() {
            return quoted || KEYWORDS.contains(text) || !VALUE.matcher(text).matches() ? quote(text) : text;
        }

        /** As a member's part: quoted unless it is a plain name. */
        String asName() {
            return quoted || KEYWORDS.contains(text) || !NAME.matcher(text).matches() ? quote(text) : text;
        }
    }

    /**
     * {@code member op value}; {@code op} and {@code value} are null for a bare member (a global
     * term, which no listing takes).
     *
     * @param member the field, then its parts ({@code labels.team} is {@code [labels, team]})
     * @param position where the restriction starts, 1-based (not part of equality)
     */
    record Restriction(List<Value> member, Op op, Value value, int position) implements Expr {
        public Restriction {
            member = List.copyOf(member);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Restriction r && r.member.equals(member) && r.op == op && java.util.Objects.equals(r.value, value);
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(member, op, value);
        }

        @Override
        public String toString() {
            StringBuilder out = new StringBuilder();
            for (Value part : member) {
                if (!out.isEmpty()) out.append('.');
                out.append(part.asName());
            }
            if (op != null) out.append(' ').append(op.symbol()).append(' ').append(value);
            return out.toString();
        }
    }

    /** {@code text} as a double-quoted string literal. */
    static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\t' -> out.append("\\t");
                case '\r' -> out.append("\\r");
                default -> out.append(c);
            }
        }
        return out.append('"').toString();
    }
}
