package dev.spillway.k8s;

import java.util.List;
import java.util.Map;

/** RFC 6902 operations add, replace and remove on a parsed YAML document (maps and lists), with RFC 6901 paths. */
final class JsonPatch {

    private JsonPatch() {}

    @SuppressWarnings("unchecked")
    static void apply(Map<String, Object> document, List<Object> operations) {
        for (Object o : operations) {
            Map<String, Object> op = (Map<String, Object>) o;
            String path = String.valueOf(op.get("path"));
            String[] tokens = path.substring(1).split("/", -1);
            Object parent = document;
            for (int i = 0; i < tokens.length - 1; i++) parent = child(parent, unescape(tokens[i]), path);
            String last = unescape(tokens[tokens.length - 1]);
            switch (String.valueOf(op.get("op"))) {
                case "add" -> {
                    if (parent instanceof List<?> l) {
                        List<Object> list = (List<Object>) l;
                        if (last.equals("-")) list.add(op.get("value"));
                        else list.add(index(list, last, path, true), op.get("value"));
                    } else {
                        ((Map<String, Object>) parent).put(last, op.get("value"));
                    }
                }
                case "replace" -> {
                    if (parent instanceof List<?> l) {
                        ((List<Object>) l).set(index(l, last, path, false), op.get("value"));
                    } else {
                        Map<String, Object> map = (Map<String, Object>) parent;
                        if (!map.containsKey(last)) throw new IllegalArgumentException("replace of a missing member: " + path);
                        map.put(last, op.get("value"));
                    }
                }
                case "remove" -> {
                    if (parent instanceof List<?> l) ((List<Object>) l).remove(index(l, last, path, false));
                    else if (((Map<String, Object>) parent).remove(last) == null) throw new IllegalArgumentException("remove of a missing member: " + path);
                }
                default -> throw new IllegalArgumentException("unsupported patch operation " + op.get("op") + " at " + path);
            }
        }
    }

    private static Object child(Object node, String token, String path) {
        Object next = node instanceof List<?> l ? l.get(index(l, token, path, false)) : node instanceof Map<?, ?> m ? m.get(token) : null;
        if (next == null) throw new IllegalArgumentException("no " + token + " on the way to " + path);
        return next;
    }

    private static int index(List<?> list, String token, String path, boolean end) {
        int i = Integer.parseInt(token);
        if (i < 0 || i > list.size() || (!end && i == list.size())) throw new IllegalArgumentException("index " + i + " out of range at " + path);
        return i;
    }

    private static String unescape(String token) {
        return token.replace("~1", "/").replace("~0", "~");
    }
}
