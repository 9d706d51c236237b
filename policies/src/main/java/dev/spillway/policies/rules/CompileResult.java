package dev.spillway.policies.rules;

import dev.spillway.policies.document.Problem;
import java.util.List;

/** Either a complete compiled {@link PolicySet} or every problem found; never part of a set. */
public record CompileResult(PolicySet policySet, List<Problem> problems) {

    public CompileResult {
        problems = List.copyOf(problems);
        if (!problems.isEmpty()) policySet = null;
        if (policySet == null && problems.isEmpty()) throw new IllegalArgumentException("a refused compilation needs problems");
    }

    public boolean ok() {
        return policySet != null;
    }
}
