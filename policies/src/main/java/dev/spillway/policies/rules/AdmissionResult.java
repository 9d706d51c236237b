package dev.spillway.policies.rules;

import dev.spillway.policies.document.PolicyDoc;
import java.util.List;

/** Every admission rule that matched a job, in policy order. The job is admitted unless one of them denies it. */
public record AdmissionResult(List<AdmissionOutcome> outcomes) {

    public AdmissionResult {
        outcomes = List.copyOf(outcomes);
    }

    public boolean denied() {
        return outcomes.stream().anyMatch(o -> o.action() == PolicyDoc.Action.DENY);
    }

    public List<AdmissionOutcome> of(PolicyDoc.Action action) {
        return outcomes.stream().filter(o -> o.action() == action).toList();
    }
}
