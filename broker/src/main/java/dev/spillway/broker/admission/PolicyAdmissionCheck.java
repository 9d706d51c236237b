package dev.spillway.broker.admission;

import dev.spillway.api.v1.ErrorReason;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.Violation;
import dev.spillway.broker.policy.Policies;
import dev.spillway.policies.document.PolicyDoc;
import dev.spillway.policies.rules.AdmissionOutcome;
import dev.spillway.policies.rules.AdmissionResult;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * The admission rules of the policy set in force: a job a Deny rule matches is refused, each such
 * rule a violation named {@code policy/<policy>/<rule>} with the rule's message and the version;
 * Warn and Audit rules that match are logged with the job's tenant and name. Residency that no
 * jurisdiction can satisfy is a Deny too. Without a policy set, every job passes.
 */
@ApplicationScoped
public class PolicyAdmissionCheck implements AdmissionCheck {

    private static final Logger LOG = Logger.getLogger(PolicyAdmissionCheck.class);

    private final Policies policies;
    private final Clock clock;

    public PolicyAdmissionCheck(Policies policies, Clock clock) {
        this.policies = policies;
        this.clock = clock;
    }

    @Override
    public String name() {
        return "policy";
    }

    @Override
    public Uni<Optional<InvalidRequest>> check(JobSpec spec) {
        Policies.InForce inForce = policies.inForce();
        if (inForce.set() == null && inForce.problem() == null) {
            // A dataset name must resolve: without Dataset documents its residency and location would be ignored silently.
            if (spec.getDatasetsCount() == 0) return Uni.createFrom().item(Optional.empty());
            return Uni.createFrom().item(Optional.of(InvalidRequest.of("spec.datasets", "no policy set is in force, so no Dataset document describes "
                    + spec.getDatasetsList() + "; apply one with `spillway policy apply` first")));
        }
        String version = Long.toString(inForce.version());
        if (inForce.set() == null) {
            return Uni.createFrom().item(Optional.of(new InvalidRequest(ErrorReason.ERROR_REASON_POLICY_SET_UNUSABLE, Map.of("policy_version", version),
                    List.of(new Violation("policy", "the policy set in force (version " + inForce.version()
                            + ") cannot be evaluated by this broker (" + inForce.problem() + "); jobs wait for a set that compiles")))));
        }
        AdmissionResult result = inForce.set().admit(Policies.jobFacts(spec), inForce.set().tenantFacts(spec.getTenant(), Map.of()), clock.instant());
        List<Violation> refused = new ArrayList<>();
        AdmissionOutcome first = null;
        for (AdmissionOutcome o : result.outcomes()) {
            if (o.action() == PolicyDoc.Action.DENY) {
                if (first == null) first = o;
                refused.add(new Violation("policy/" + o.policy() + "/" + o.rule(), o.message() + " (policy version " + inForce.version() + ")"));
            } else {
                LOG.infof("policy version %d, %s: job %s of tenant %s", inForce.version(), o, spec.getName(), spec.getTenant());
            }
        }
        if (first == null) return Uni.createFrom().item(Optional.empty());
        // The first rule that denies is the reason; the violations list every one.
        return Uni.createFrom().item(Optional.of(new InvalidRequest(ErrorReason.ERROR_REASON_POLICY_DENIED,
                Map.of("policy", first.policy(), "rule", first.rule(), "policy_version", version), refused)));
    }
}
