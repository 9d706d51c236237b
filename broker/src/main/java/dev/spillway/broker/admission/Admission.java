package dev.spillway.broker.admission;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.errors.InvalidRequest;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Optional;

/**
 * Everything between a request and a stored job, as a chain: the spec is validated (defaults
 * filled in), then each {@link AdmissionCheck} admits or refuses it in turn. The first refusal
 * stops the chain with its {@link InvalidRequest}; nothing is stored. Quota, policy and budget checks
 * join the chain as further checks.
 */
@ApplicationScoped
public class Admission {

    private final JobSpecValidator validator;
    private final List<AdmissionCheck> checks;

    @Inject
    public Admission(BrokerConfig config, NodeFitCheck nodeFit, PolicyAdmissionCheck policy) {
        this(new JobSpecValidator(config.limits()), List.of(nodeFit, policy));
    }

    Admission(JobSpecValidator validator, List<AdmissionCheck> checks) {
        this.validator = validator;
        this.checks = List.copyOf(checks);
    }

    /** The spec as it will be stored (with defaults), or a failed Uni with {@link InvalidRequest}. */
    public Uni<JobSpec> admit(JobSpec submitted) {
        JobSpecValidator.Result valid = validator.validate(submitted);
        if (!valid.valid()) return Uni.createFrom().failure(new InvalidRequest(valid.violations()));
        Uni<Optional<InvalidRequest>> chain = Uni.createFrom().item(Optional.empty());
        for (AdmissionCheck check : checks) {
            chain = chain.flatMap(refused -> refused.isPresent() ? Uni.createFrom().item(refused) : check.check(valid.spec()));
        }
        return chain.map(refused -> {
            if (refused.isPresent()) throw refused.get();
            return valid.spec();
        });
    }
}
