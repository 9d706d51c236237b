package dev.spillway.provider.azure;

import com.azure.core.exception.ClientAuthenticationException;
import com.azure.core.exception.HttpResponseException;
import com.azure.core.management.exception.ManagementException;
import com.azure.core.management.polling.PollResult;
import com.azure.core.util.polling.PollResponse;
import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.CapacityException.Kind;
import java.io.IOException;
import java.util.Locale;
import java.util.Map;

/**
 * How Azure Resource Manager errors become {@link CapacityException}s: allocation and SKU
 * failures are capacity errors and quota errors are quota errors (the broker falls back to the
 * next offering), 429s left after the SDK's retries are throttling, authorization failures name
 * the action and the role to assign, invalid references name the pool setting most likely at
 * fault, anything else is unavailable (worth retrying).
 */
final class AzureErrors {

    private AzureErrors() {}

    /** One Resource Manager call. */
    interface Call<T> {
        T run();
    }

    /** Runs {@code call} (an ARM {@code action}); its errors mapped, naming {@code setting} when it is the likely culprit. */
    static <T> T call(String action, String setting, Call<T> call) throws CapacityException {
        try {
            return call.run();
        } catch (ClientAuthenticationException e) {
            throw unauthenticated(e);
        } catch (HttpResponseException e) {
            throw mapped(action, setting, e);
        } catch (RuntimeException e) {
            throw new CapacityException(Kind.UNAVAILABLE, action + " failed: " + e.getMessage(), e);
        }
    }

    /** No credential of the chain produced a token. */
    static CapacityException unauthenticated(ClientAuthenticationException e) {
        return new CapacityException(Kind.UNAUTHORIZED, "no Azure credential worked (DefaultAzureCredential: environment, workload or managed identity, "
                + "Azure CLI): " + e.getMessage(), e);
    }

    /** An error response of {@code action}, mapped. */
    static CapacityException mapped(String action, String setting, HttpResponseException e) {
        String code = "";
        String message = e.getMessage();
        if (e instanceof ManagementException m && m.getValue() != null) {
            code = m.getValue().getCode() == null ? "" : m.getValue().getCode();
            message = m.getValue().getMessage();
        }
        int status = e.getResponse() == null ? 0 : e.getResponse().getStatusCode();
        Kind kind = kindOf(code, message, status);
        String named = code.contains("Image") ? "image" : code.contains("Subnet") || code.equals("InvalidResourceReference") ? "subnet-id"
                : code.equals("ResourceGroupNotFound") ? "resource-group" : code.equals("InvalidSubscriptionId") || code.equals("SubscriptionNotFound")
                ? "subscription-id" : code.equals("InvalidParameter") && message != null && message.contains("vmSize") ? "instance-types" : setting;
        String text = switch (kind) {
            case UNAUTHORIZED -> "the Azure identity may not call " + action + " (" + code + ": " + message + "); assign it the role in "
                    + "providers/azure/role-definition.json";
            case INVALID_CONFIGURATION -> "check the pool setting '" + named + "': " + action + " refused it: " + code + ": " + message;
            case INSUFFICIENT_CAPACITY -> "no capacity: " + code + ": " + message;
            case QUOTA_EXCEEDED -> "a subscription quota stops the launch: " + code + ": " + message;
            case THROTTLED -> action + " is throttled even after retries (HTTP 429)";
            default -> action + " failed: HTTP " + status + " " + code + ": " + message;
        };
        return new CapacityException(kind, text, e);
    }

    /** The error a long-running operation of {@code action} ended with (status Failed or Canceled), mapped. */
    @SuppressWarnings("unchecked")
    static CapacityException failed(String action, PollResponse<? extends PollResult<?>> done) {
        PollResult.Error error = done.getValue() == null ? null : done.getValue().getError();
        String code = "";
        String message = error == null ? String.valueOf(done.getStatus()) : error.getMessage();
        if (error != null && error.getResponseBody() != null) {
            try (var reader = com.azure.json.JsonProviders.createReader(error.getResponseBody())) {
                Map<String, Object> body = (Map<String, Object>) reader.readUntyped();
                Object inner = body.get("error");
                if (inner instanceof Map<?, ?> e) {
                    code = String.valueOf(e.get("code"));
                    message = String.valueOf(e.get("message"));
                }
            } catch (IOException | RuntimeException unreadable) {
                // keep the poller's message
            }
        }
        Kind kind = kindOf(code, message, error == null ? 0 : error.getResponseStatusCode());
        String text = kind.equals(Kind.INSUFFICIENT_CAPACITY) ? "no capacity: " + code + ": " + message
                : kind.equals(Kind.QUOTA_EXCEEDED) ? "a subscription quota stops the launch: " + code + ": " + message
                : action + " failed: " + code + ": " + message;
        return new CapacityException(kind, text);
    }

    static Kind kindOf(String code, String message, int status) {
        String m = message == null ? "" : message.toLowerCase(Locale.ROOT);
        return switch (code) {
            case "AllocationFailed", "ZonalAllocationFailed", "OverconstrainedAllocationRequest", "OverconstrainedZonalAllocationRequest",
                 "SkuNotAvailable", "SpotMaxPriceIsLessThanCurrentPrice" -> Kind.INSUFFICIENT_CAPACITY;
            case "QuotaExceeded" -> Kind.QUOTA_EXCEEDED;
            case "OperationNotAllowed" -> m.contains("quota") ? Kind.QUOTA_EXCEEDED : Kind.INVALID_CONFIGURATION;
            case "AuthorizationFailed", "LinkedAuthorizationFailed", "InvalidAuthenticationToken", "AuthenticationFailed" -> Kind.UNAUTHORIZED;
            default -> status == 429 ? Kind.THROTTLED
                    : status == 401 || status == 403 ? Kind.UNAUTHORIZED
                    : code.startsWith("Invalid") || code.endsWith("NotFound") || status == 400 ? Kind.INVALID_CONFIGURATION
                    : Kind.UNAVAILABLE;
        };
    }
}
