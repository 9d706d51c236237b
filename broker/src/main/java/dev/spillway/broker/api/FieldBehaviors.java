package dev.spillway.broker.api;

import com.google.api.FieldBehavior;
import com.google.api.FieldBehaviorProto;
import com.google.api.ResourceProto;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.spillway.api.ResourceNames;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.Violation;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * AIP-203 as the API's annotations say, for every request of {@code spillway.v1}: a field marked
 * REQUIRED and left unset is INVALID_ARGUMENT with a field violation at its path
 * ({@code budget.limit}); a field marked OUTPUT_ONLY that a client set is cleared, so the service
 * never sees it (the field is ignored, as AIP-203 has it). Nested messages are checked when they
 * are set, elements of repeated ones with their index ({@code files[2].name}). What to look at is
 * worked out once per message type from its descriptor.
 */
final class FieldBehaviors {

    /** The annotated fields of one message type, and its message fields whose types have some. */
    private record Plan(List<FieldDescriptor> required, List<FieldDescriptor> outputOnly, List<FieldDescriptor> nested) {
        boolean empty() {
            return required.isEmpty() && outputOnly.isEmpty() && nested.isEmpty();
        }
    }

    private static final Map<Descriptor, Plan> PLANS = new ConcurrentHashMap<>();
    private static final String PACKAGE = "spillway.v1";

    private FieldBehaviors() {}

    /** {@code request} with its OUTPUT_ONLY fields cleared; INVALID_ARGUMENT naming every REQUIRED field left unset. */
    static Message apply(Message request) {
        List<Violation> violations = new ArrayList<>();
        Message cleaned = visit(request, "", violations);
        if (!violations.isEmpty()) throw new InvalidRequest(violations);
        return cleaned;
    }

    /**
     * The call's listener, with each request message of a {@code spillway.v1} method passed through {@link #apply}
     * first: one that breaks the rules closes the call with the violations and never reaches the service.
     */
    static <Q> ServerCall.Listener<Q> enforcing(ServerCall<Q, ?> call, ServerCall.Listener<Q> next) {
        if (!PACKAGE.equals(packageOf(call.getMethodDescriptor().getServiceName()))) return next;
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next) {
            private boolean refused;

            @Override
            @SuppressWarnings("unchecked")
            public void onMessage(Q message) {
                if (refused) return;
                if (!(message instanceof Message m)) {
                    super.onMessage(message);
                    return;
                }
                Message cleaned;
                try {
                    cleaned = apply(m);
                } catch (InvalidRequest e) {
                    refused = true;
                    var status = ApiErrors.toStatus(e);
                    if (!call.isCancelled()) call.close(status.getStatus(), status.getTrailers() == null ? new Metadata() : status.getTrailers());
                    return;
                }
                super.onMessage((Q) cleaned);
            }

            @Override
            public void onHalfClose() {
                if (!refused) super.onHalfClose();
            }

            @Override
            public void onReady() {
                if (!refused) super.onReady();
            }
        };
    }

    private static String packageOf(String service) {
        int dot = service == null ? -1 : service.lastIndexOf('.');
        return dot < 0 ? "" : service.substring(0, dot);
    }

    private static Message visit(Message message, String path, List<Violation> violations) {
        Plan plan = plan(message.getDescriptorForType());
        if (plan.empty()) return message;
        Message.Builder changed = null;
        for (FieldDescriptor f : plan.required()) {
            if (!isSet(message, f)) violations.add(new Violation(path + f.getName(), required(f)));
        }
        for (FieldDescriptor f : plan.outputOnly()) {
            if (isSet(message, f)) {
                if (changed == null) changed = message.toBuilder();
                changed.clearField(f);
            }
        }
        for (FieldDescriptor f : plan.nested()) {
            if (f.isRepeated()) {
                for (int i = 0; i < message.getRepeatedFieldCount(f); i++) {
                    Message element = (Message) message.getRepeatedField(f, i);
                    Message cleaned = visit(element, path + f.getName() + "[" + i + "].", violations);
                    if (cleaned != element) {
                        if (changed == null) changed = message.toBuilder();
                        changed.setRepeatedField(f, i, cleaned);
                    }
                }
            } else if (message.hasField(f)) {
                Message inner = (Message) message.getField(f);
                Message cleaned = visit(inner, path + f.getName() + ".", violations);
                if (cleaned != inner) {
                    if (changed == null) changed = message.toBuilder();
                    changed.setField(f, cleaned);
                }
            }
        }
        return changed == null ? message : changed.build();
    }

    private static boolean isSet(Message message, FieldDescriptor f) {
        if (f.isRepeated()) return message.getRepeatedFieldCount(f) > 0;
        if (f.hasPresence()) return message.hasField(f);
        Object value = message.getField(f);
        if (value instanceof EnumValueDescriptor e) return e.getNumber() != 0;
        return !value.equals(f.getDefaultValue());
    }

    /** What a client is told of a required field left unset: for a name, what a name looks like. */
    private static String required(FieldDescriptor f) {
        String type = f.getOptions().getExtension(ResourceProto.resourceReference).getType();
        if (type.startsWith("spillway.dev/")) {
            String kind = switch (type.substring("spillway.dev/".length())) {
                case "ApiKey" -> "api key";
                case "CloudInstance" -> "instance";
                default -> type.substring("spillway.dev/".length()).toLowerCase(Locale.ROOT);
            };
            return ResourceNames.problem(kind, "");
        }
        return f.getJavaType() == FieldDescriptor.JavaType.MESSAGE ? "required: a " + f.getMessageType().getName() : "required";
    }

    private static Plan plan(Descriptor type) {
        Plan known = PLANS.get(type);
        if (known != null) return known;
        Plan plan = build(type, new HashSet<>());
        PLANS.putIfAbsent(type, plan);
        return plan;
    }

    private static Plan build(Descriptor type, Set<Descriptor> visiting) {
        visiting.add(type);
        List<FieldDescriptor> required = new ArrayList<>(), outputOnly = new ArrayList<>(), nested = new ArrayList<>();
        for (FieldDescriptor f : type.getFields()) {
            List<FieldBehavior> behaviors = f.getOptions().getExtension(FieldBehaviorProto.fieldBehavior);
            if (behaviors.contains(FieldBehavior.REQUIRED)) required.add(f);
            if (behaviors.contains(FieldBehavior.OUTPUT_ONLY)) {
                outputOnly.add(f);
                continue;
            }
            if (f.getJavaType() != FieldDescriptor.JavaType.MESSAGE || f.isMapField()) continue;
            Descriptor inner = f.getMessageType();
            if (!inner.getFile().getPackage().equals(PACKAGE)) continue;
            // A type being worked out (a recursive message) is looked into at run time.
            if (visiting.contains(inner) || !build(inner, visiting).empty()) nested.add(f);
        }
        visiting.remove(type);
        return new Plan(List.copyOf(required), List.copyOf(outputOnly), List.copyOf(nested));
    }
}
