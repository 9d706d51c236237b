package dev.spillway.provider.aws;

import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.CapacityException.Kind;
import java.util.Locale;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkException;

/**
 * How EC2 errors become {@link CapacityException}s: capacity and quota errors (the broker falls
 * back to the next offering), throttling left after the SDK's retries, missing permissions (naming
 * the IAM action), invalid parameters (naming the pool setting most likely at fault), anything
 * else as unavailable.
 */
final class Ec2Errors {

    private Ec2Errors() {}

    /** One EC2 call. */
    interface Call<T> {
        T run();
    }

    /** Runs one EC2 call ({@code action}, as IAM names it), its errors mapped; {@code setting} is the pool setting named when EC2 refuses a parameter. */
    static <T> T call(String action, Call<T> call, String setting) throws CapacityException {
        try {
            return call.run();
        } catch (AwsServiceException e) {
            String code = e.awsErrorDetails() == null ? "" : e.awsErrorDetails().errorCode();
            String message = e.awsErrorDetails() == null ? e.getMessage() : e.awsErrorDetails().errorMessage();
            throw new CapacityException(kindOf(code), describe(action, code, message, setting), e);
        } catch (SdkException e) {
            String why = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
            throw new CapacityException(Kind.UNAVAILABLE, action + " failed: " + why, e);
        }
    }

    static Kind kindOf(String code) {
        return switch (code) {
            case "InsufficientInstanceCapacity", "InsufficientHostCapacity", "InsufficientCapacity", "InsufficientReservedInstanceCapacity",
                 "SpotMaxPriceTooLow", "InsufficientFreeAddressesInSubnet", "Unsupported" -> Kind.INSUFFICIENT_CAPACITY;
            case "InstanceLimitExceeded", "VcpuLimitExceeded", "MaxSpotInstanceCountExceeded", "SpotInstanceRequestLimitExceeded" -> Kind.QUOTA_EXCEEDED;
            case "RequestLimitExceeded", "Throttling", "ThrottlingException" -> Kind.THROTTLED;
            case "UnauthorizedOperation", "AuthFailure", "Blocked", "OptInRequired" -> Kind.UNAUTHORIZED;
            default -> code.startsWith("Invalid") || code.equals("MissingParameter") || code.equals("UnknownParameter")
                    ? Kind.INVALID_CONFIGURATION : Kind.UNAVAILABLE;
        };
    }

    private static String describe(String action, String code, String message, String setting) {
        String setting2 = code.startsWith("InvalidAMIID") ? "image-id"
                : code.startsWith("InvalidSubnet") ? "subnets"
                : code.startsWith("InvalidGroup") || code.startsWith("InvalidSecurityGroup") ? "security-groups"
                : message != null && message.toLowerCase(Locale.ROOT).contains("iaminstanceprofile") ? "instance-profile"
                : code.startsWith("InvalidInstanceType") || code.equals("Unsupported") ? "instance-types"
                : setting;
        return switch (kindOf(code)) {
            case UNAUTHORIZED -> code.equals("AuthFailure")
                    ? "AWS rejected the credentials (" + action + "): check the default credential chain (environment, profile, role)"
                    : "the AWS credentials may not call " + action + (action.equals("ec2:RunInstances")
                    ? " (with ec2:CreateTags for tags at launch, and iam:PassRole for an instance profile)" : "")
                    + "; grant it (see providers/aws/iam-policy.json)";
            case INVALID_CONFIGURATION -> "check the pool setting '" + setting2 + "': " + action + " refused it: " + code + ": " + message;
            case INSUFFICIENT_CAPACITY -> "no capacity: " + code + ": " + message;
            case QUOTA_EXCEEDED -> "an account limit stops the launch: " + code + ": " + message;
            case THROTTLED -> action + " is throttled even after retries: " + code;
            default -> action + " failed: " + code + ": " + message;
        };
    }

    /** The EC2 error code of a mapped exception, or empty when it did not come from an EC2 error response. */
    static String code(CapacityException e) {
        return e.getCause() instanceof AwsServiceException s && s.awsErrorDetails() != null && s.awsErrorDetails().errorCode() != null
                ? s.awsErrorDetails().errorCode() : "";
    }
}
