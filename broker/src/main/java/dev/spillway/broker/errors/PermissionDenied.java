package dev.spillway.broker.errors;

import dev.spillway.api.v1.ErrorReason;
import java.util.Map;

/** The caller is known, but their role does not allow what they asked (or they named a tenant not theirs). */
public final class PermissionDenied extends BrokerException {

    private PermissionDenied(ErrorReason reason, Map<String, String> metadata, String message) {
        super(reason, metadata, message);
    }

    /** The caller's role lacks {@code permission} (its lower-case name). */
    public static PermissionDenied permission(String permission, String message) {
        return new PermissionDenied(ErrorReason.ERROR_REASON_PERMISSION_DENIED, Map.of("permission", permission), message);
    }

    /** The call names {@code tenant}, which the caller does not act for. */
    public static PermissionDenied tenant(String tenant, String message) {
        return new PermissionDenied(ErrorReason.ERROR_REASON_TENANT_NOT_ALLOWED, Map.of("tenant", tenant), message);
    }
}
