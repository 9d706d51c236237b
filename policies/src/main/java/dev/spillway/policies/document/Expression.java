package dev.spillway.policies.document;

import java.util.Objects;

/**
 * A CEL expression as written in a YAML scalar, with what it takes to point back into the file:
 * {@code rawIndex[i]} is the index (code points) in the file's text of the expression's i-th code
 * point, and {@code lineStarts} the file's line start indices. Quoting, escapes and folded lines
 * make the two differ; {@link ScalarAlignment} computes the mapping once, at parse time.
 */
public final class Expression {

    private final String text;
    private final Location start;
    private final int[] rawIndex;
    private final int[] lineStarts;

    Expression(String text, Location start, int[] rawIndex, int[] lineStarts) {
        this.text = Objects.requireNonNull(text);
        this.start = start;
        this.rawIndex = rawIndex;
        this.lineStarts = lineStarts;
    }

    /** An expression not read from a file (tests, built-in rules): positions are relative to the text itself. */
    public static Expression of(String file, String text) {
        int n = text.codePointCount(0, text.length());
        int[] raw = new int[n];
        for (int i = 0; i < n; i++) raw[i] = i;
        return new Expression(text, new Location(file, 1, 1), raw, ScalarAlignment.lineStarts(text.codePoints().toArray()));
    }

    public String text() {
        return text;
    }

    /** Where the scalar holding the expression starts. */
    public Location start() {
        return start;
    }

    /** The place in the file of the expression's code point {@code offset} (clamped to the expression). */
    public Location locateOffset(int offset) {
        if (rawIndex.length == 0) return start;
        int raw = rawIndex[Math.max(0, Math.min(offset, rawIndex.length - 1))];
        if (raw < 0) return start;
        int line = lineOf(raw);
        return new Location(start.file(), line + 1, raw - lineStarts[line] + 1);
    }

    /**
     * The place in the file of a position CEL reports inside the expression: {@code line} 1-based,
     * {@code column} 0-based code points within that line of the expression.
     */
    public Location locate(int line, int column) {
        int offset = 0;
        int currentLine = 1;
        int i = 0;
        int[] cps = text.codePoints().toArray();
        while (currentLine < line && i < cps.length) {
            if (cps[i++] == '\n') currentLine++;
        }
        offset = i + Math.max(0, column);
        return locateOffset(offset);
    }

    private int lineOf(int raw) {
        int lo = 0;
        int hi = lineStarts.length - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (lineStarts[mid] <= raw) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    @Override
    public String toString() {
        return text;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Expression e && e.text.equals(text) && e.start.equals(start);
    }

    @Override
    public int hashCode() {
        return text.hashCode() * 31 + start.hashCode();
    }
}
