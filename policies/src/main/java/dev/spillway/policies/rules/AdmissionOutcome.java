package dev.spillway.policies.rules;

import dev.spillway.policies.document.PolicyDoc;

/**
 * One admission rule that matched a job (or could not be evaluated for it).
 *
 * @param policy          the policy document's name
 * @param rule            the rule's name
 * @param action          what the rule does; a rule that could not be evaluated keeps its action (fails closed)
 * @param message         the rule's rendered message, or what went wrong
 * @param evaluationError true when the rule could not be evaluated for this job
 */
public record AdmissionOutcome(String policy, String rule, PolicyDoc.Action action, String message, boolean evaluationError) {

    @Override
    public String toString() {
        return action.spelling() + " " + policy + "/" + rule + ": " + message;
    }
}
