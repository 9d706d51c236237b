package dev.spillway.broker.errors;

import dev.spillway.api.v1.ErrorReason;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The request cannot be served as it is: every problem, each named by its field. Nothing was stored.
 *
 * <p>The list a client receives stays small whatever it sent: at most {@link #MAX_LISTED} violations whose fields and
 * descriptions add up to at most {@link #MAX_LISTED_BYTES} bytes, in the order they were found, then one final
 * violation "and N more" standing for the rest. gRPC clients refuse a status trailer above 8 KiB (and a few thousand
 * violations used to make the broker send nothing at all), so the bound is what keeps such an error readable. Building
 * an {@code InvalidRequest} from another one's {@link #violations()} gives the same list: the "and N more" entry is
 * carried over, not counted as one more violation.
 */
public final class InvalidRequest extends BrokerException {

    /** Most violations listed one by one. */
    public static final int MAX_LISTED = 50;
    /** Most bytes (UTF-8 of fields and descriptions) of the violations listed one by one. */
    public static final int MAX_LISTED_BYTES = 2560;

    private final List<Violation> violations;
    private final int total;

    public InvalidRequest(List<Violation> violations) {
        this(ErrorReason.ERROR_REASON_INVALID_REQUEST, Map.of(), violations);
    }

    /** Refused for {@code reason} (a policy rule, capacity nothing offers), with the violations that say where. */
    public InvalidRequest(ErrorReason reason, Map<String, String> metadata, List<Violation> violations) {
        this(reason, metadata, Shortened.of(violations));
    }

    private InvalidRequest(ErrorReason reason, Map<String, String> metadata, Shortened s) {
        super(reason, metadata, summary(s));
        this.violations = s.listed();
        this.total = s.total();
    }

    public static InvalidRequest of(String field, String description) {
        return new InvalidRequest(List.of(new Violation(field, description)));
    }

    /** The violations as clients see them: at most {@link #MAX_LISTED}, then possibly one "and N more". */
    public List<Violation> violations() {
        return violations;
    }

    /** How many violations were found, including those only counted by the final "and N more". */
    public int total() {
        return total;
    }

    private record Shortened(List<Violation> listed, int total) {

        static Shortened of(List<Violation> all) {
            if (all.isEmpty()) throw new IllegalArgumentException("an invalid request needs at least one violation");
            List<Violation> listed = new ArrayList<>(Math.min(all.size(), MAX_LISTED + 1));
            int bytes = 0;
            int omitted = 0;
            String commonField = null;
            for (Violation v : all) {
                if (v.summarisesOthers()) {
                    omitted += v.omitted();
                    commonField = common(commonField, v.field());
                } else if (omitted == 0 && listed.size() < MAX_LISTED && bytes + v.utf8Bytes() <= MAX_LISTED_BYTES) {
                    listed.add(v);
                    bytes += v.utf8Bytes();
                } else {
                    omitted++;
                    commonField = common(commonField, v.field());
                }
            }
            if (omitted > 0) listed.add(Violation.more(commonField, omitted));
            return new Shortened(List.copyOf(listed), listed.size() - (omitted > 0 ? 1 : 0) + omitted);
        }

        /** The longest path both fields start with, cut after a whole segment ({@code a.b[3].c} and {@code a.b[4]} → {@code a.b}). */
        private static String common(String sofar, String field) {
            if (sofar == null) return field;
            int n = 0;
            int max = Math.min(sofar.length(), field.length());
            while (n < max && sofar.charAt(n) == field.charAt(n)) n++;
            if (n == sofar.length() && n == field.length()) return sofar;
            boolean boundary = (n == sofar.length() && isSeparator(field.charAt(n))) || (n == field.length() && isSeparator(sofar.charAt(n)));
            if (boundary) return sofar.substring(0, n);
            int cut = n;
            while (cut > 0 && !isSeparator(sofar.charAt(cut - 1))) cut--;
            return cut == 0 ? "" : sofar.substring(0, cut - 1);
        }

        private static boolean isSeparator(char c) {
            return c == '.' || c == '[';
        }
    }

    private static String summary(Shortened s) {
        Violation first = s.listed().get(0);
        String where = first.field().isEmpty() ? "" : first.field() + ": ";
        return "invalid request: " + (s.total() == 1 ? "" : s.total() + " problems, first: ") + where + first.description();
    }
}
