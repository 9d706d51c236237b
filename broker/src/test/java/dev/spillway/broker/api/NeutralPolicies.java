package dev.spillway.broker.api;

import dev.spillway.api.v1.ApplyPoliciesRequest;
import dev.spillway.api.v1.PolicyFile;
import dev.spillway.api.v1.PolicyServiceGrpc;
import io.grpc.Channel;

/**
 * The policy set tests leave in force when they are done: it places, bursts and limits nothing
 * by job (one admission rule that never matches). The broker and its database are shared by the
 * test classes, and the set a test applies stays in force after it.
 */
final class NeutralPolicies {

    private NeutralPolicies() {}

    /** Applies the neutral set over {@code adminChannel} (a caller allowed to apply policies). */
    static void restore(Channel adminChannel) {
        PolicyServiceGrpc.newBlockingStub(adminChannel).applyPolicies(ApplyPoliciesRequest.newBuilder().addFiles(PolicyFile.newBuilder()
                .setName("neutral.yaml").setText("""
                        apiVersion: spillway.dev/v1
                        kind: Policy
                        metadata: {name: neutral}
                        spec:
                          admission:
                            - name: never
                              match: "false"
                              message: '"never"'
                              action: Audit
                        """)).build());
    }
}
