package dev.spillway.core.filter;

import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The fields a listing can be filtered by, and their types: {@link #check} turns a filter as
 * written into a {@link Condition} or refuses it with what is wrong and where.
 *
 * <ul>
 *   <li>enum fields: {@code =} and {@code !=}, with the value's name with or without its prefix, in any case
 *       ({@code state = RUNNING}, {@code state = JOB_STATE_RUNNING});</li>
 *   <li>text fields: {@code =} and {@code !=};</li>
 *   <li>booleans: {@code =} and {@code !=}, with {@code true} or {@code false};</li>
 *   <li>times: every comparison, with an RFC 3339 time ({@code create_time >= 2026-12-01T00:00:00Z});</li>
 *   <li>integers: every comparison;</li>
 *   <li>maps: {@code labels.team = ml}, {@code labels.team != ml}, and {@code labels:team} (has the key);</li>
 *   <li>any field but a map: {@code field:*} (is set).</li>
 * </ul>
 */
public final class FilterSchema {

    /** What a field holds. */
    public enum Kind { ENUM, TEXT, BOOL, TIME, INTEGER, MAP }

    /**
     * One field.
     *
     * @param prefix an enum's value prefix as the API writes it ({@code JOB_STATE_}); empty for other kinds
     * @param values an enum's values as stored (without the prefix)
     */
    public record Field(String name, Kind kind, String prefix, List<String> values) {
        public Field {
            values = List.copyOf(values);
        }
    }

    private final Map<String, Field> fields;

    private FilterSchema(Map<String, Field> fields) {
        this.fields = Map.copyOf(fields);
        this.names = List.copyOf(fields.keySet());
    }

    private final List<String> names;

    public static Builder builder() {
        return new Builder();
    }

    /** The fields, in the order they were declared. */
    public List<Field> fields() {
        return names.stream().map(fields::get).toList();
    }

    /** The condition {@code filter} writes; {@link Condition#ALWAYS} when it is empty or blank. */
    public Condition parse(String filter) {
        Expr e = FilterParser.parse(filter);
        return e == null ? Condition.ALWAYS : check(e);
    }

    /** {@code expr} with its fields and values checked. */
    public Condition check(Expr expr) {
        if (expr instanceof Expr.And and) return new Condition.All(and.all().stream().map(this::check).toList());
        if (expr instanceof Expr.Or or) return new Condition.Any(or.any().stream().map(this::check).toList());
        if (expr instanceof Expr.Not not) return new Condition.Not(check(not.expr()));
        return restriction((Expr.Restriction) expr);
    }

    private Condition restriction(Expr.Restriction r) {
        int at = r.position();
        String name = r.member().get(0).text();
        Field field = fields.get(name);
        if (field == null) throw new FilterException(at, "has no field " + name + "; the fields are " + help());
        if (r.op() == null) {
            throw new FilterException(at, "has " + r + " without a comparison; write it as " + example(field));
        }
        if (field.kind() == Kind.MAP) return mapRestriction(field, r);
        if (r.member().size() > 1) throw new FilterException(at, "has " + r.member().get(1).text() + " after " + name + ", which has no parts");
        Expr.Value v = r.value();
        if (r.op() == Expr.Op.HAS) {
            if (v.quoted() || !v.text().equals("*")) throw new FilterException(at, "compares " + name + " with ':', which takes only '*' (" + name + ":* is set)");
            return new Condition.Present(name, null);
        }
        boolean ordered = field.kind() == Kind.TIME || field.kind() == Kind.INTEGER;
        if (!ordered && r.op() != Expr.Op.EQ && r.op() != Expr.Op.NE) {
            throw new FilterException(at, "compares " + name + " with '" + r.op().symbol() + "'; it takes '=' and '!='");
        }
        return new Condition.Compare(name, null, r.op(), value(field, v, at));
    }

    private Condition mapRestriction(Field field, Expr.Restriction r) {
        int at = r.position();
        String name = field.name();
        if (r.member().size() == 1) {
            if (r.op() != Expr.Op.HAS) throw new FilterException(at, "compares " + name + " as a whole; compare one key (" + name + ".team = ml) or ask for a key (" + name + ":team)");
            return new Condition.Present(name, r.value().text());
        }
        if (r.member().size() > 2) throw new FilterException(at, "has " + r + "; a key of " + name + " with dots in it is quoted: " + name + ".\"a.b\"");
        String key = r.member().get(1).text();
        return switch (r.op()) {
            case HAS -> {
                if (r.value().quoted() || !r.value().text().equals("*")) throw new FilterException(at, "compares " + name + "." + key + " with ':', which takes only '*' (whether the key is there)");
                yield new Condition.Present(name, key);
            }
            case EQ, NE -> new Condition.Compare(name, key, r.op(), r.value().text());
            default -> throw new FilterException(at, "compares " + name + "." + key + " with '" + r.op().symbol() + "'; it takes '=', '!=' and ':*'");
        };
    }

    private static Object value(Field field, Expr.Value v, int at) {
        String text = v.text();
        return switch (field.kind()) {
            case TEXT -> text;
            case BOOL -> {
                if (!text.equals("true") && !text.equals("false")) {
                    throw new FilterException(at, "compares " + field.name() + " with " + text + ", which is neither true nor false");
                }
                yield Boolean.valueOf(text);
            }
            case ENUM -> {
                String upper = text.toUpperCase(Locale.ROOT);
                String bare = upper.startsWith(field.prefix()) ? upper.substring(field.prefix().length()) : upper;
                if (!field.values().contains(bare)) {
                    throw new FilterException(at, "compares " + field.name() + " with " + text + ", which is none of " + String.join(", ", field.values()));
                }
                yield bare;
            }
            case TIME -> {
                try {
                    yield OffsetDateTime.parse(text).toInstant();
                } catch (DateTimeParseException e) {
                    throw new FilterException(at, "compares " + field.name() + " with " + text + ", which is not an RFC 3339 time such as 2026-12-01T00:00:00Z");
                }
            }
            case INTEGER -> {
                try {
                    yield Long.parseLong(text);
                } catch (NumberFormatException e) {
                    throw new FilterException(at, "compares " + field.name() + " with " + text + ", which is not an integer");
                }
            }
            case MAP -> throw new IllegalStateException("maps are compared by key");
        };
    }

    /** The fields as a client is told them: {@code state, tenant, labels.<key>, create_time}. */
    public String help() {
        List<String> out = new ArrayList<>();
        for (String n : names) out.add(fields.get(n).kind() == Kind.MAP ? n + ".<key>" : n);
        return String.join(", ", out);
    }

    private static String example(Field f) {
        return switch (f.kind()) {
            case ENUM -> f.name() + " = " + f.values().get(0);
            case TEXT -> f.name() + " = \"...\"";
            case BOOL -> f.name() + " = true";
            case TIME -> f.name() + " >= 2026-12-01T00:00:00Z";
            case INTEGER -> f.name() + " > 0";
            case MAP -> f.name() + ".<key> = <value>";
        };
    }

    /** Declares the fields of a listing. */
    public static final class Builder {
        private final Map<String, Field> fields = new LinkedHashMap<>();

        private Builder add(Field f) {
            if (fields.putIfAbsent(f.name(), f) != null) throw new IllegalArgumentException("field " + f.name() + " declared twice");
            return this;
        }

        /** An enum field whose values are written {@code prefix + value} by the API and stored as {@code value}. */
        public Builder enumeration(String name, String prefix, List<String> values) {
            return add(new Field(name, Kind.ENUM, prefix, values));
        }

        public Builder text(String name) {
            return add(new Field(name, Kind.TEXT, "", List.of()));
        }

        public Builder bool(String name) {
            return add(new Field(name, Kind.BOOL, "", List.of()));
        }

        public Builder time(String name) {
            return add(new Field(name, Kind.TIME, "", List.of()));
        }

        public Builder integer(String name) {
            return add(new Field(name, Kind.INTEGER, "", List.of()));
        }

        public Builder map(String name) {
            return add(new Field(name, Kind.MAP, "", List.of()));
        }

        public FilterSchema build() {
            return new FilterSchema(fields);
        }
    }
}
