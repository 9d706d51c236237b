package dev.spillway.client;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * A listing's filter (AIP-160) built from parts that must all hold, with every value quoted:
 * {@code new FilterText().anyOf("state", List.of("RUNNING", "QUEUED")).labels(Map.of("team", "ml")).text()}
 * gives {@code (state = "RUNNING" OR state = "QUEUED") AND labels."team" = "ml"}.
 */
public final class FilterText {

    private final List<String> parts = new ArrayList<>();

    /** {@code field = "value"}, when {@code value} is given. */
    public FilterText equal(String field, String value) {
        if (value != null) parts.add(field + " = " + quote(value));
        return this;
    }

    /** Any of {@code field = value}, when there are values. */
    public FilterText anyOf(String field, Collection<String> values) {
        List<String> any = values.stream().map(v -> field + " = " + quote(v)).toList();
        if (!any.isEmpty()) parts.add(any.size() == 1 ? any.get(0) : "(" + String.join(" OR ", any) + ")");
        return this;
    }

    /** {@code labels."key" = "value"} for each label. */
    public FilterText labels(java.util.Map<String, String> labels) {
        labels.forEach((k, v) -> parts.add("labels." + quote(k) + " = " + quote(v)));
        return this;
    }

    /** {@code field op time}, when {@code time} is given. */
    public FilterText time(String field, String op, Instant time) {
        if (time != null) parts.add(field + " " + op + " " + time);
        return this;
    }

    /** A filter as the user wrote it, when given. */
    public FilterText written(String filter) {
        if (filter != null && !filter.isBlank()) parts.add("(" + filter + ")");
        return this;
    }

    public String text() {
        return String.join(" AND ", parts);
    }

    /** {@code text} as a filter's string literal: in double quotes, with quotes, backslashes and control characters escaped. */
    public static String quote(String text) {
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
