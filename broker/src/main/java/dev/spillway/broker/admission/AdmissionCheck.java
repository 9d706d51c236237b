package dev.spillway.broker.admission;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.errors.Violation;
import io.smallrye.mutiny.Uni;
import java.util.List;

/**
 * One step of admission, after the spec is valid: admits a job (an empty list) or refuses it
 * with the violations that say why. Checks must not change anything; the job is stored only
 * once every check has admitted it.
 */
public interface AdmissionCheck {

    /** Short name, for logs and explanations (e.g. {@code node-fit}, {@code quota}). */
    String name();

    Uni<List<Violation>> check(JobSpec spec);
}
