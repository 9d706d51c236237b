package dev.spillway.broker.errors;

import java.nio.charset.StandardCharsets;

/**
 * One problem with a request.
 *
 * <p>Violations travel to clients in the status trailer, which gRPC clients cap at 8 KiB of metadata; so the field
 * path is kept to {@link #MAX_FIELD_BYTES} and the description to {@link #MAX_DESCRIPTION_BYTES} bytes of UTF-8
 * (longer ones are cut and end in "…"). A field or description quoting client input can therefore never blow up an
 * error response.
 *
 * @param field       the field's path in the request, e.g. {@code spec.task.resources.cpu_millis}
 * @param description what is wrong and what would be right
 * @param omitted     0 for an ordinary violation; for the last entry of a shortened list, how many further violations it
 *                    stands for (see {@link InvalidRequest})
 */
public record Violation(String field, String description, int omitted) {

    /** Longest field path kept, in bytes of UTF-8. */
    public static final int MAX_FIELD_BYTES = 128;
    /** Longest description kept, in bytes of UTF-8. */
    public static final int MAX_DESCRIPTION_BYTES = 256;

    public Violation {
        if (omitted < 0) throw new IllegalArgumentException("omitted must not be negative");
        field = shorten(field == null ? "" : field, MAX_FIELD_BYTES);
        description = shorten(description == null ? "" : description, MAX_DESCRIPTION_BYTES);
    }

    public Violation(String field, String description) {
        this(field, description, 0);
    }

    /**
     * The entry that ends a shortened list: "and N more", named by the path the omitted violations have in common
     * (e.g. {@code spec.task.pools} when they are all about pools, empty when they share nothing).
     */
    static Violation more(String commonField, int omitted) {
        return new Violation(commonField, "and " + omitted + " more " + (omitted == 1 ? "violation" : "violations")
                + " not listed (fix the ones above and submit again to see them)", omitted);
    }

    /** Whether this entry stands for violations left out of a shortened list. */
    public boolean summarisesOthers() {
        return omitted > 0;
    }

    /** Size of field and description together, in bytes of UTF-8. */
    int utf8Bytes() {
        return utf8Length(field) + utf8Length(description);
    }

    /** {@code s} cut to at most {@code maxBytes} bytes of UTF-8, never inside a character, ending in "…" when cut. */
    static String shorten(String s, int maxBytes) {
        if (utf8Length(s) <= maxBytes) return s;
        int budget = maxBytes - "…".getBytes(StandardCharsets.UTF_8).length;
        int end = 0;
        int used = 0;
        while (end < s.length()) {
            int cp = s.codePointAt(end);
            int n = utf8Length(cp);
            if (used + n > budget) break;
            used += n;
            end += Character.charCount(cp);
        }
        return s.substring(0, end) + "…";
    }

    static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            n += utf8Length(cp);
            i += Character.charCount(cp);
        }
        return n;
    }

    private static int utf8Length(int codePoint) {
        if (codePoint < 0x80) return 1;
        if (codePoint < 0x800) return 2;
        if (codePoint < 0x10000) return 3;
        return 4;
    }
}
