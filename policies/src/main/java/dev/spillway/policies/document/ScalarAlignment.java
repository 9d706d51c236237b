package dev.spillway.policies.document;

/**
 * Maps each code point of a YAML scalar's value back to its index in the file. The value's code
 * points appear in the raw text in order; what differs is quoting, escapes, indentation and line
 * folding. So the walk is greedy: each value code point is matched to the next equal raw code
 * point, and a space or newline in the value also matches a line break plus indentation in the
 * raw text. A value code point with no match (an escape like {@code \t}) maps to -1, which
 * callers read as "the scalar's start".
 */
final class ScalarAlignment {

    private ScalarAlignment() {}

    static int[] lineStarts(int[] cps) {
        int lines = 1;
        for (int cp : cps) if (cp == '\n') lines++;
        int[] starts = new int[lines];
        int k = 1;
        for (int i = 0; i < cps.length; i++) if (cps[i] == '\n') starts[k++] = i + 1;
        return starts;
    }

    /**
     * @param raw   the file's code points
     * @param from  index of the scalar's first raw code point (its start mark)
     * @param to    index just past its last raw code point (its end mark)
     * @param value the scalar's value
     */
    static int[] align(int[] raw, int from, int to, String value) {
        int[] cps = value.codePoints().toArray();
        int[] out = new int[cps.length];
        int r = from;
        for (int i = 0; i < cps.length; i++) {
            int cp = cps[i];
            int found = -1;
            for (int j = r; j < to && j < raw.length; j++) {
                int rc = raw[j];
                if (rc == cp || (isBlank(cp) && isBlank(rc))) {
                    found = j;
                    break;
                }
                // Never skip over content the value has (only quoting, escapes, indentation and comments' absence).
                if (j - r > 64 && !isBlank(rc)) break;
            }
            if (found < 0) {
                out[i] = -1;
            } else {
                out[i] = found;
                r = found + 1;
                if (isBlank(cp)) {
                    // a folded line break: skip the rest of the indentation in the raw text
                    while (r < to && r < raw.length && isBlank(raw[r]) && (i + 1 >= cps.length || !isBlank(cps[i + 1]))) r++;
                }
            }
        }
        return out;
    }

    private static boolean isBlank(int cp) {
        return cp == ' ' || cp == '\n' || cp == '\t' || cp == '\r';
    }
}
