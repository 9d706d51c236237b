package dev.spillway.broker.admission;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.policy.Policies;
import dev.spillway.broker.errors.Violation;
import dev.spillway.policies.document.PolicyDoc;
import dev.spillway.policies.rules.AdmissionOutcome;
import dev.spillway.policies.rules.AdmissionResult;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
    public Uni<List<Violation>> check(JobSpec spec) {
        Policies.InForce inForce = policies.inForce();
        if (inForce.set() == null && inForce.problem() == null) {
            // A dataset name must resolve: without Dataset documents its residency and location would be ignored silently.
            if (spec.getDatasetsCount() == 0) return Uni.createFrom().item(List.of());
            return Uni.createFrom().item(List.of(new Violation("spec.datasets", "no policy set is in force, so no Dataset document describes "
                    + spec.getDatasetsList() + "; apply one with `spillway policy apply` first")));
        }
        if (inForce.set() == null) {
            return Uni.createFrom().item(List.of(new Violation("policy", "the policy set in force (version " + inForce.version()
                    + ") cannot be evaluated by this broker (" + inForce.problem() + "); jobs wait for a set that compiles")));
        }
        AdmissionResult result = inForce.set().admit(Policies.jobFacts(spec), inForce.set().tenantFacts(spec.getTenant(), Map.of()), clock.instant());
        List<Violation> refused = new ArrayList<>();
        for (AdmissionOutcome o : result.outcomes()) {
            if (o.action() == PolicyDoc.Action.DENY) {
                refused.add(new Violation("policy/" + o.policy() + "/" + o.rule(), o.message() + " (policy version " + inForce.version() + ")"));
            } else {
                LOG.infof("policy version %d, %s: job %s of tenant %s", inForce.version(), o, spec.getName(), spec.getTenant());
            }
        }
        return Uni.createFrom().item(refused);
    }
}
