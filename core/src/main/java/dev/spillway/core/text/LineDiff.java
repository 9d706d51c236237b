package dev.spillway.core.text;

import java.util.ArrayList;
import java.util.List;

/**
 * A unified diff of two texts, line by line, as {@code diff -u} prints it: the shortest edit script
 * (Myers' O((N+M)·D) algorithm, "An O(ND) Difference Algorithm and Its Variations", 1986), in
 * hunks with three lines of context.
 */
public final class LineDiff {

    private static final int CONTEXT = 3;

    private LineDiff() {}

    /** One line of the edit script: kept (' '), removed ('-') or added ('+'). */
    record Edit(char op, String line) {
    }

    /**
     * The unified diff of two sets of named texts (files), name by name in order: a name only one
     * side has is all removed or all added; empty when they are equal.
     */
    public static String files(String fromLabel, java.util.Map<String, String> from, String toLabel, java.util.Map<String, String> to) {
        java.util.Set<String> names = new java.util.TreeSet<>(from.keySet());
        names.addAll(to.keySet());
        StringBuilder out = new StringBuilder();
        for (String name : names) {
            String before = from.get(name);
            String after = to.get(name);
            out.append(unified(before == null ? "/dev/null" : fromLabel + "/" + name, after == null ? "/dev/null" : toLabel + "/" + name,
                    before == null ? "" : before, after == null ? "" : after));
        }
        return out.toString();
    }

    /** The unified diff of {@code a} and {@code b} labelled {@code from} and {@code to}; empty when they are equal. */
    public static String unified(String from, String to, String a, String b) {
        if (a.equals(b)) return "";
        List<Edit> edits = edits(lines(a), lines(b));
        StringBuilder out = new StringBuilder("--- ").append(from).append('\n').append("+++ ").append(to).append('\n');
        int i = 0;
        while (i < edits.size()) {
            if (edits.get(i).op() == ' ') {
                i++;
                continue;
            }
            // A hunk: from CONTEXT lines before this change to CONTEXT lines after the last change closer than 2·CONTEXT.
            int start = Math.max(0, i - CONTEXT);
            int end = i;
            int kept = 0;
            for (int j = i; j < edits.size(); j++) {
                if (edits.get(j).op() == ' ') {
                    if (++kept > 2 * CONTEXT) break;
                } else {
                    kept = 0;
                    end = j;
                }
            }
            int stop = Math.min(edits.size(), end + CONTEXT + 1);
            int aLine = 1, bLine = 1;
            for (int j = 0; j < start; j++) {
                if (edits.get(j).op() != '+') aLine++;
                if (edits.get(j).op() != '-') bLine++;
            }
            int aCount = 0, bCount = 0;
            for (int j = start; j < stop; j++) {
                if (edits.get(j).op() != '+') aCount++;
                if (edits.get(j).op() != '-') bCount++;
            }
            out.append("@@ -").append(range(aLine, aCount)).append(" +").append(range(bLine, bCount)).append(" @@\n");
            for (int j = start; j < stop; j++) out.append(edits.get(j).op()).append(edits.get(j).line()).append('\n');
            i = stop;
        }
        return out.toString();
    }

    private static String range(int line, int count) {
        if (count == 0) return (line - 1) + ",0";
        return count == 1 ? Integer.toString(line) : line + "," + count;
    }

    static List<String> lines(String text) {
        List<String> out = new ArrayList<>(List.of(text.split("\n", -1)));
        if (!out.isEmpty() && out.get(out.size() - 1).isEmpty()) out.remove(out.size() - 1); // the final newline ends the last line
        return out;
    }

    /** The shortest edit script turning {@code a} into {@code b}, removals before additions within a change. */
    static List<Edit> edits(List<String> a, List<String> b) {
        int n = a.size(), m = b.size(), max = n + m;
        int[] v = new int[2 * max + 2];
        List<int[]> trace = new ArrayList<>();
        int found = -1;
        for (int d = 0; d <= max && found < 0; d++) {
            trace.add(v.clone());
            for (int k = -d; k <= d; k += 2) {
                int x = (k == -d || (k != d && v[max + k - 1] < v[max + k + 1])) ? v[max + k + 1] : v[max + k - 1] + 1;
                int y = x - k;
                while (x < n && y < m && a.get(x).equals(b.get(y))) {
                    x++;
                    y++;
                }
                v[max + k] = x;
                if (x >= n && y >= m) {
                    found = d;
                    break;
                }
            }
        }
        // Walk back through the saved frontiers.
        List<Edit> reversed = new ArrayList<>();
        int x = n, y = m;
        for (int d = found; d > 0; d--) {
            int[] prev = trace.get(d);
            int k = x - y;
            int prevK = (k == -d || (k != d && prev[max + k - 1] < prev[max + k + 1])) ? k + 1 : k - 1;
            int prevX = prev[max + prevK];
            int prevY = prevX - prevK;
            while (x > prevX && y > prevY) {
                reversed.add(new Edit(' ', a.get(--x)));
                y--;
            }
            if (x == prevX) reversed.add(new Edit('+', b.get(--y)));
            else reversed.add(new Edit('-', a.get(--x)));
        }
        while (x > 0 && y > 0) {
            reversed.add(new Edit(' ', a.get(--x)));
            y--;
        }
        List<Edit> edits = new ArrayList<>(reversed.size());
        for (int i = reversed.size() - 1; i >= 0; i--) edits.add(reversed.get(i));
        return edits;
    }
}
