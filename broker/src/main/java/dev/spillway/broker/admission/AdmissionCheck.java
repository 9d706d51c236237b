package dev.spillway.broker.admission;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.errors.InvalidRequest;
import io.smallrye.mutiny.Uni;
import java.util.Optional;

/**
 * One step of admission, after the spec is valid: admits a job (empty) or refuses it with an
 * {@link InvalidRequest} whose reason and violations say why. Checks must not change anything;
 * the job is stored only once every check has admitted it.
 */
public interface AdmissionCheck {

    /** Short name, for logs and explanations (e.g. {@code node-fit}, {@code quota}). */
    String name();

    Uni<Optional<InvalidRequest>> check(JobSpec spec);
}
