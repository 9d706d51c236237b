package dev.spillway.broker.admission;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.spillway.broker.errors.Violation;
import java.util.List;
import java.util.Set;

/**
 * What characters the strings of a spec may hold. Every string field of the spec is checked, found through its
 * descriptor, so a field added to {@code JobSpec} later is covered without anyone remembering to:
 * <ul>
 *   <li>Names, tenants, label and node-selector keys and values, pools, jurisdictions, environment names, and any other
 *       string: no control character (Unicode category Cc: U+0000–U+001F, U+007F–U+009F). They are identifiers or
 *       short text that ends up in PostgreSQL {@code text}/{@code jsonb} (which refuse NUL outright), logs and
 *       terminals.</li>
 *   <li>Command arguments and environment values (plain and secret): no NUL only. Newlines and tabs are legitimate in a
 *       script or a certificate, but a process's argv and environment are C strings: a NUL cannot reach the task.</li>
 *   <li>Anywhere: no unpaired surrogate (a string that is not text; gRPC cannot deliver one, an in-process caller can).</li>
 * </ul>
 * Unassigned code points are allowed: which ones are unassigned depends on this JVM's Unicode version, and a client
 * with a newer one (a new emoji in a job name) must not be refused for it.
 */
final class SpecStrings {

    /** Repeated strings and map values that may hold anything but NUL (their map keys follow the strict rule). */
    private static final Set<String> NUL_ONLY = Set.of("spec.task.command", "spec.task.env", "spec.task.secret_env");
    /** Values not worth echoing, even partly: only their names appear in violations. */
    private static final Set<String> SECRET = Set.of("spec.task.secret_env");

    private SpecStrings() {}

    /** Adds a violation for every string of {@code spec} (named {@code path}) that holds a character its field does not allow. */
    static void check(String path, Message spec, List<Violation> v) {
        spec.getAllFields().forEach((field, value) -> field(path + "." + field.getName(), field, value, v));
    }

    /** Whether {@code s} holds a character no strict field may hold (a control character or an unpaired surrogate). */
    static boolean hasForbidden(String s) {
        return firstForbidden(s, false) >= 0;
    }

    @SuppressWarnings("unchecked")
    private static void field(String path, FieldDescriptor field, Object value, List<Violation> v) {
        if (field.isMapField()) {
            FieldDescriptor keyField = field.getMessageType().findFieldByName("key");
            FieldDescriptor valueField = field.getMessageType().findFieldByName("value");
            for (Message entry : (List<Message>) value) {
                Object key = entry.getField(keyField);
                String entryPath = path + "[" + shown(String.valueOf(key)) + "]";
                if (key instanceof String k) text(entryPath, "key", k, false, false, v);
                element(entryPath, path, valueField, entry.getField(valueField), v);
            }
        } else if (field.isRepeated()) {
            List<?> list = (List<?>) value;
            for (int i = 0; i < list.size(); i++) element(path + "[" + i + "]", path, field, list.get(i), v);
        } else {
            element(path, path, field, value, v);
        }
    }

    private static void element(String path, String fieldPath, FieldDescriptor field, Object value, List<Violation> v) {
        if (value instanceof String s) {
            text(path, null, s, NUL_ONLY.contains(fieldPath), SECRET.contains(fieldPath), v);
        } else if (value instanceof Message m) {
            check(path, m, v);
        }
    }

    private static void text(String path, String part, String s, boolean nulOnly, boolean secret, List<Violation> v) {
        int at = firstForbidden(s, nulOnly);
        if (at < 0) return;
        char c = s.charAt(at);
        String what = Character.isSurrogate(c) ? "an unpaired surrogate" : nulOnly ? "NUL (U+0000)" : "control character " + codePoint(c);
        String where = secret ? "" : " at index " + at;
        String allowed = nulOnly ? "any character but NUL" : "no control characters";
        v.add(JobSpecValidator.violation(path, (part == null ? "" : part + " ") + "contains " + what + where + " (" + allowed + " here)"));
    }

    /** Index of the first character not allowed, or -1. */
    private static int firstForbidden(String s, boolean nulOnly) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                    continue;
                }
                return i;
            }
            if (Character.isLowSurrogate(c)) return i;
            if (nulOnly ? c == 0 : Character.getType(c) == Character.CONTROL) return i;
        }
        return -1;
    }

    /** A map key as it appears in a field path: as given, except characters no path should carry, as {@code \\uXXXX}. */
    static String shown(String key) {
        if (!hasForbidden(key)) return key;
        StringBuilder out = new StringBuilder(key.length() + 8);
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            boolean paired = Character.isHighSurrogate(c) && i + 1 < key.length() && Character.isLowSurrogate(key.charAt(i + 1))
                    || Character.isLowSurrogate(c) && i > 0 && Character.isHighSurrogate(key.charAt(i - 1));
            if (Character.getType(c) == Character.CONTROL || Character.isSurrogate(c) && !paired) {
                out.append(String.format("\\u%04X", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static String codePoint(char c) {
        return String.format("U+%04X", (int) c);
    }
}
