package dev.spillway.broker.admission;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Duration;
import com.google.protobuf.util.Durations;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.api.v1.RetryPolicy;
import dev.spillway.broker.errors.Violation;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Retry backoffs: valid durations, not negative, initial ≤ max (defaults counted), max ≤ 24 h; each problem names its field. */
class RetryBackoffValidationTest {

    private static final JobSpecValidator VALIDATOR = new JobSpecValidator(AdmissionTest.LIMITS);
    private static final Duration DAY = Durations.fromHours(24);

    private static JobSpecValidator.Result validate(RetryPolicy retry) {
        return VALIDATOR.validate(SpecStringsPropertiesTest.valid().toBuilder().setRetry(retry).build());
    }

    private static List<String> fields(RetryPolicy retry) {
        return validate(retry).violations().stream().map(Violation::field).toList();
    }

    private static RetryPolicy backoff(Duration initial, Duration max) {
        RetryPolicy.Builder b = RetryPolicy.newBuilder();
        if (initial != null) b.setInitialBackoff(initial);
        if (max != null) b.setMaxBackoff(max);
        return b.build();
    }

    @Property(tries = 2000)
    void aMaxRuntimeIsAdmittedBetweenOneSecondAndThirtyDaysAndOtherwiseNamedAsTheField(@ForAll("durations") Duration maxRuntime) {
        JobSpec spec = SpecStringsPropertiesTest.valid();
        spec = spec.toBuilder().setTask(spec.getTask().toBuilder().setMaxRuntime(maxRuntime)).build();
        JobSpecValidator.Result r = VALIDATOR.validate(spec);
        boolean inRange = Durations.isValid(maxRuntime) && Durations.compare(maxRuntime, Durations.fromSeconds(1)) >= 0
                && Durations.compare(maxRuntime, Durations.fromDays(30)) <= 0;
        assertThat(r.valid()).as("%s", maxRuntime).isEqualTo(inRange);
        if (!inRange) assertThat(r.violations()).extracting(Violation::field).containsExactly("spec.task.max_runtime");
    }

    /** Durations anywhere: valid and invalid, negative, around a day, and far beyond what milliseconds in a long hold. */
    @Provide
    Arbitrary<Duration> durations() {
        Arbitrary<Duration> valid = Arbitraries.oneOf(
                Arbitraries.longs().between(0, 200_000).map(Durations::fromMillis),
                Arbitraries.longs().between(86_399_990L, 86_400_010L).map(Durations::fromMillis),
                Arbitraries.longs().between(-315_576_000_000L, 315_576_000_000L).map(Durations::fromSeconds));
        Arbitrary<Duration> raw = Combinators.combine(Arbitraries.longs(), Arbitraries.integers())
                .as((s, n) -> Duration.newBuilder().setSeconds(s).setNanos(n).build());
        return Arbitraries.oneOf(valid, raw);
    }

    @Property(tries = 3000)
    void anAdmittedPolicyIsBoundedAndARefusedOneNamesABackoffField(@ForAll("durations") Duration initial, @ForAll("durations") Duration max,
                                                                   @ForAll boolean setInitial, @ForAll boolean setMax) {
        JobSpecValidator.Result r = validate(backoff(setInitial ? initial : null, setMax ? max : null));
        if (r.valid()) {
            Duration i = r.spec().getRetry().getInitialBackoff();
            Duration m = r.spec().getRetry().getMaxBackoff();
            assertThat(Durations.isValid(i) && Durations.isValid(m)).isTrue();
            assertThat(Durations.compare(i, Durations.ZERO)).isGreaterThanOrEqualTo(0);
            assertThat(Durations.compare(i, m)).isLessThanOrEqualTo(0);
            assertThat(Durations.compare(m, DAY)).isLessThanOrEqualTo(0);
        } else {
            assertThat(r.violations()).isNotEmpty().allSatisfy(v ->
                    assertThat(v.field()).isIn("spec.retry.initial_backoff", "spec.retry.max_backoff"));
        }
    }

    @Example
    void negativeInvalidAndOverlongBackoffsAreRefusedByName() {
        assertThat(fields(backoff(Durations.fromSeconds(-1), null))).containsExactly("spec.retry.initial_backoff");
        assertThat(fields(backoff(null, Duration.newBuilder().setSeconds(1).setNanos(-5).build()))).containsExactly("spec.retry.max_backoff");
        assertThat(fields(backoff(null, Duration.newBuilder().setSeconds(Long.MAX_VALUE).build()))).containsExactly("spec.retry.max_backoff");
        var tooLong = validate(backoff(null, Durations.fromHours(25))).violations();
        assertThat(tooLong).extracting(Violation::field, Violation::description)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("spec.retry.max_backoff", "at most 24h (got 25h)"));
        assertThat(fields(backoff(Durations.fromHours(24), Durations.fromHours(24)))).isEmpty();
    }

    @Example
    void initialMustNotExceedMaxCountingDefaults() {
        assertThat(validate(backoff(Durations.fromMinutes(10), Durations.fromMinutes(1))).violations())
                .extracting(Violation::field, Violation::description)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("spec.retry.initial_backoff", "must not exceed max_backoff (1m; got 10m)"));
        assertThat(validate(backoff(Durations.fromMinutes(10), null)).violations()).extracting(Violation::description)
                .containsExactly("must not exceed max_backoff (5m, its default; got 10m)");
        assertThat(validate(backoff(null, Durations.fromMillis(500))).violations()).extracting(Violation::field, Violation::description)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("spec.retry.max_backoff", "must be at least initial_backoff (1s, its default; got 500ms)"));
        JobSpec admitted = validate(backoff(Durations.fromMillis(1500), null)).spec();
        assertThat(admitted.getRetry().getMaxBackoff()).isEqualTo(Durations.fromMinutes(5));
    }
}
