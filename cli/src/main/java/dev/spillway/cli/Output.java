package dev.spillway.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import dev.spillway.core.lifecycle.ReasonCode;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/** Tables for people, JSON and YAML (the proto3 JSON mapping) for scripts. */
final class Output {

    enum Format { TABLE, JSON, YAML, CSV }

    private static final JsonFormat.Printer JSON = JsonFormat.printer().alwaysPrintFieldsWithNoPresence();
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneId.systemDefault());

    private Output() {}

    /** Prints {@code message} as JSON or YAML; returns false for TABLE (the caller prints a table). */
    static boolean structured(Format format, MessageOrBuilder message, PrintWriter out) {
        if (format == Format.TABLE) return false;
        if (format == Format.CSV) throw new Spillway.CliException(Spillway.INVALID, "-o csv is for 'spillway cost'; use table, json or yaml");
        try {
            String json = JSON.print(message);
            if (format == Format.JSON) {
                out.println(json);
            } else {
                DumperOptions options = new DumperOptions();
                options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
                out.print(new Yaml(options).dump(new Yaml().load(json)));
            }
            out.flush();
            return true;
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Several messages under named keys, as one document ({@code {"job": ..., "tasks": [...]}}): a
     * value is a message or a list of messages.
     */
    static boolean structured(Format format, java.util.Map<String, ?> parts, PrintWriter out) {
        if (format == Format.TABLE) return false;
        try {
            com.google.protobuf.Struct.Builder doc = com.google.protobuf.Struct.newBuilder();
            for (var part : parts.entrySet()) {
                if (part.getValue() instanceof MessageOrBuilder m) {
                    doc.putFields(part.getKey(), com.google.protobuf.Value.newBuilder().setStructValue(struct(m)).build());
                } else {
                    com.google.protobuf.ListValue.Builder list = com.google.protobuf.ListValue.newBuilder();
                    for (Object item : (java.util.List<?>) part.getValue()) {
                        list.addValues(com.google.protobuf.Value.newBuilder().setStructValue(struct((MessageOrBuilder) item)));
                    }
                    doc.putFields(part.getKey(), com.google.protobuf.Value.newBuilder().setListValue(list).build());
                }
            }
            return structured(format, doc, out);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    private static com.google.protobuf.Struct struct(MessageOrBuilder m) throws InvalidProtocolBufferException {
        com.google.protobuf.Struct.Builder s = com.google.protobuf.Struct.newBuilder();
        com.google.protobuf.util.JsonFormat.parser().merge(JSON.print(m), s);
        return s.build();
    }

    static String time(Timestamp t) {
        if (t == null || (t.getSeconds() == 0 && t.getNanos() == 0)) return "-";
        return TIME.format(Instant.ofEpochSecond(t.getSeconds(), t.getNanos()));
    }

    static String state(Enum<?> e, String prefix) {
        return e.name().startsWith(prefix) ? e.name().substring(prefix.length()) : e.name();
    }

    /** Task counts keyed by TaskState names, as {@code {RUNNING=2, SUCCEEDED=5}}, in the states' order. */
    static String counts(java.util.Map<String, Integer> byState) {
        java.util.Map<String, Integer> shown = new java.util.LinkedHashMap<>();
        for (dev.spillway.api.v1.TaskState s : dev.spillway.api.v1.TaskState.values()) {
            if (s == dev.spillway.api.v1.TaskState.UNRECOGNIZED) continue;
            Integer n = byState.get(s.name());
            if (n != null) shown.put(state(s, "TASK_STATE_"), n);
        }
        byState.forEach((k, v) -> {
            if (!k.startsWith("TASK_STATE_")) shown.put(k, v);
        });
        return shown.toString();
    }

    /** A plain aligned table. */
    static final class Table {
        private final List<String[]> rows = new ArrayList<>();

        Table(String... header) {
            rows.add(header);
        }

        Table row(Object... cells) {
            String[] r = new String[cells.length];
            for (int i = 0; i < cells.length; i++) r[i] = cells[i] == null ? "-" : cells[i].toString();
            rows.add(r);
            return this;
        }

        void print(PrintWriter out) {
            int cols = rows.get(0).length;
            int[] width = new int[cols];
            for (String[] r : rows) for (int i = 0; i < cols; i++) width[i] = Math.max(width[i], r[i].length());
            for (String[] r : rows) {
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < cols; i++) {
                    sb.append(r[i]);
                    if (i < cols - 1) sb.append(" ".repeat(width[i] - r[i].length() + 2));
                }
                out.println(sb.toString().stripTrailing());
            }
            out.flush();
        }
    }

    /** A reason code as people read it ({@code node_lost} → "its node was lost"); unknown codes as they are. */
    /** A reason as people read it: "its node was lost". */
    static String reason(dev.spillway.api.v1.Reason reason) {
        if (reason == dev.spillway.api.v1.Reason.REASON_UNSPECIFIED || reason == dev.spillway.api.v1.Reason.UNRECOGNIZED) return "-";
        return ReasonCode.valueOf(reason.name().substring("REASON_".length())).description();
    }
}
