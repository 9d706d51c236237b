package dev.spillway.core.filter;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads a filter in the grammar of AIP-160:
 *
 * <pre>
 * filter      = [expression]
 * expression  = sequence {"AND" sequence}
 * sequence    = factor {factor}              (side by side: AND)
 * factor      = term {"OR" term}             (OR binds tighter than AND)
 * term        = ["NOT" | "-"] simple
 * simple      = restriction | "(" expression ")"
 * restriction = member [comparator value]
 * member      = name {"." name}              (a name, or a quoted string)
 * comparator  = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"
 * value       = text | quoted string         (text runs to a space, a parenthesis or a comparator)
 * </pre>
 *
 * Only the reading: whether the fields exist and the values fit them is {@link FilterSchema}'s.
 */
public final class FilterParser {

    /** Longer filters are refused, and so are deeper nestings and more restrictions: a filter becomes one query. */
    public static final int MAX_LENGTH = 4096;
    static final int MAX_DEPTH = 32;
    static final int MAX_RESTRICTIONS = 100;

    private final String in;
    private int at;
    private int depth;
    private int restrictions;

    private FilterParser(String in) {
        this.in = in;
    }

    /** The expression {@code text} writes; null when it is empty or blank (no filter). */
    public static Expr parse(String text) {
        if (text == null) return null;
        if (text.length() > MAX_LENGTH) throw new FilterException(0, "is longer than " + MAX_LENGTH + " characters");
        FilterParser p = new FilterParser(text);
        p.skipSpace();
        if (p.atEnd()) return null;
        Expr e = p.expression();
        p.skipSpace();
        if (!p.atEnd()) {
            throw new FilterException(p.at + 1, p.peek() == ')' ? "has a ')' without its '('" : "cannot be read from here: " + p.rest());
        }
        return e;
    }

    private Expr expression() {
        if (++depth > MAX_DEPTH) throw new FilterException(at + 1, "nests deeper than " + MAX_DEPTH + " levels");
        List<Expr> all = new ArrayList<>();
        addAll(all, sequence());
        while (keyword("AND")) {
            addAll(all, sequence());
        }
        depth--;
        return all.size() == 1 ? all.get(0) : new Expr.And(all);
    }

    private Expr sequence() {
        List<Expr> all = new ArrayList<>();
        addAll(all, factor());
        while (true) {
            skipSpace();
            if (atEnd() || peek() == ')' || lookingAtKeyword("AND")) break;
            addAll(all, factor());
        }
        return all.size() == 1 ? all.get(0) : new Expr.And(all);
    }

    private Expr factor() {
        List<Expr> any = new ArrayList<>();
        addAny(any, term());
        while (keyword("OR")) {
            addAny(any, term());
        }
        return any.size() == 1 ? any.get(0) : new Expr.Or(any);
    }

    private Expr term() {
        skipSpace();
        if (keyword("NOT")) return new Expr.Not(simple());
        if (!atEnd() && peek() == '-') {
            at++;
            if (atEnd() || Character.isWhitespace(peek())) throw new FilterException(at, "has a '-' with nothing after it");
            return new Expr.Not(simple());
        }
        return simple();
    }

    private Expr simple() {
        skipSpace();
        if (atEnd()) throw new FilterException(at + 1, "ends where a restriction was expected");
        if (peek() == '(') {
            int open = at;
            at++;
            skipSpace();
            if (!atEnd() && peek() == ')') throw new FilterException(open + 1, "has empty parentheses");
            Expr e = expression();
            skipSpace();
            if (atEnd() || peek() != ')') throw new FilterException(open + 1, "has a '(' that is not closed");
            at++;
            return e;
        }
        return restriction();
    }

    private Expr restriction() {
        int start = at + 1;
        if (++restrictions > MAX_RESTRICTIONS) throw new FilterException(start, "has more than " + MAX_RESTRICTIONS + " restrictions");
        List<Expr.Value> member = new ArrayList<>();
        member.add(name(true));
        while (!atEnd() && peek() == '.') {
            at++;
            member.add(name(false));
        }
        skipSpace();
        Expr.Op op = comparator();
        if (op == null) return new Expr.Restriction(member, null, null, start);
        skipSpace();
        return new Expr.Restriction(member, op, value(op), start);
    }

    private Expr.Value name(boolean first) {
        if (atEnd()) throw new FilterException(at + 1, "ends where a field name was expected");
        char c = peek();
        if (c == '"' || c == '\'') {
            if (first) throw new FilterException(at + 1, "starts a restriction with a quoted string; write field = \"value\"");
            return new Expr.Value(string(), true);
        }
        int from = at;
        while (!atEnd() && (isAsciiLetterOrDigit(peek()) || peek() == '_' || (peek() == '-' && at > from))) at++;
        String word = in.substring(from, at);
        if (word.isEmpty()) throw new FilterException(from + 1, "has " + describe(c) + " where a field name was expected");
        if (!Expr.NAME.matcher(word).matches()) throw new FilterException(from + 1, "has " + word + " where a field name was expected");
        if (first && Expr.KEYWORDS.contains(word)) throw new FilterException(from + 1, "has " + word + " where a restriction was expected");
        return new Expr.Value(word, false);
    }

    private Expr.Value value(Expr.Op op) {
        if (atEnd()) throw new FilterException(at + 1, "ends after '" + op.symbol() + "' where a value was expected");
        char c = peek();
        if (c == '"' || c == '\'') return new Expr.Value(string(), true);
        int from = at;
        while (!atEnd() && !Character.isWhitespace(peek()) && "()\"'<>=!".indexOf(peek()) < 0) at++;
        String word = in.substring(from, at);
        if (word.isEmpty()) throw new FilterException(from + 1, "has " + describe(c) + " where a value was expected after '" + op.symbol() + "'");
        if (Expr.KEYWORDS.contains(word)) throw new FilterException(from + 1, "has " + word + " where a value was expected; quote it (\"" + word + "\") if it is one");
        return new Expr.Value(word, false);
    }

    private String string() {
        int open = at;
        char quote = in.charAt(at++);
        StringBuilder out = new StringBuilder();
        while (true) {
            if (atEnd()) throw new FilterException(open + 1, "has a string that is not closed");
            char c = in.charAt(at++);
            if (c == quote) return out.toString();
            if (c != '\\') {
                out.append(c);
                continue;
            }
            if (atEnd()) throw new FilterException(open + 1, "has a string that is not closed");
            char e = in.charAt(at++);
            switch (e) {
                case 'n' -> out.append('\n');
                case 't' -> out.append('\t');
                case 'r' -> out.append('\r');
                case '\\', '"', '\'' -> out.append(e);
                default -> throw new FilterException(at - 1, "has an unknown escape \\" + e + " in a string");
            }
        }
    }

    private Expr.Op comparator() {
        if (atEnd()) return null;
        char c = peek();
        char d = at + 1 < in.length() ? in.charAt(at + 1) : 0;
        Expr.Op op = switch (c) {
            case '=' -> Expr.Op.EQ;
            case ':' -> Expr.Op.HAS;
            case '!' -> d == '=' ? Expr.Op.NE : null;
            case '<' -> d == '=' ? Expr.Op.LE : Expr.Op.LT;
            case '>' -> d == '=' ? Expr.Op.GE : Expr.Op.GT;
            default -> null;
        };
        if (op == null && c == '!') throw new FilterException(at + 1, "has '!' without '='");
        if (op != null) at += op.symbol().length();
        return op;
    }

    /** Takes {@code word} when it comes next as a whole word. */
    private boolean keyword(String word) {
        skipSpace();
        if (!lookingAtKeyword(word)) return false;
        at += word.length();
        if (atEnd()) throw new FilterException(at + 1, "ends after " + word);
        return true;
    }

    private boolean lookingAtKeyword(String word) {
        if (!in.startsWith(word, at)) return false;
        int end = at + word.length();
        return end == in.length() || Character.isWhitespace(in.charAt(end)) || in.charAt(end) == '(';
    }

    private static void addAll(List<Expr> all, Expr e) {
        if (e instanceof Expr.And and) all.addAll(and.all());
        else all.add(e);
    }

    private static void addAny(List<Expr> any, Expr e) {
        if (e instanceof Expr.Or or) any.addAll(or.any());
        else any.add(e);
    }

    private static boolean isAsciiLetterOrDigit(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }

    private void skipSpace() {
        while (!atEnd() && Character.isWhitespace(peek())) at++;
    }

    private boolean atEnd() {
        return at >= in.length();
    }

    private char peek() {
        return in.charAt(at);
    }

    private String rest() {
        String r = in.substring(at);
        return r.length() > 24 ? r.substring(0, 24) + "…" : r;
    }

    private static String describe(char c) {
        return "'" + c + "'";
    }
}
