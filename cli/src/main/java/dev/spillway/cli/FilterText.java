package dev.spillway.cli;

import dev.spillway.core.filter.Expr;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** A listing's filter (AIP-160) built from the CLI's options: each part must hold. */
final class FilterText {

    private final List<String> parts = new ArrayList<>();

    /** {@code field = "value"}, when {@code value} is given. */
    FilterText equal(String field, String value) {
        if (value != null) parts.add(field + " = " + Expr.quote(value));
        return this;
    }

    /** Any of {@code field = value}, when there are values. */
    FilterText anyOf(String field, Collection<String> values) {
        List<String> any = values.stream().map(v -> field + " = " + Expr.quote(v)).toList();
        if (!any.isEmpty()) parts.add(any.size() == 1 ? any.get(0) : "(" + String.join(" OR ", any) + ")");
        return this;
    }

    /** {@code labels."key" = "value"} for each label. */
    FilterText labels(java.util.Map<String, String> labels) {
        labels.forEach((k, v) -> parts.add("labels." + Expr.quote(k) + " = " + Expr.quote(v)));
        return this;
    }

    /** {@code field op time}, when {@code time} is given. */
    FilterText time(String field, String op, Instant time) {
        if (time != null) parts.add(field + " " + op + " " + time);
        return this;
    }

    /** A filter as the user wrote it, when given. */
    FilterText written(String filter) {
        if (filter != null && !filter.isBlank()) parts.add("(" + filter + ")");
        return this;
    }

    String text() {
        return String.join(" AND ", parts);
    }
}
