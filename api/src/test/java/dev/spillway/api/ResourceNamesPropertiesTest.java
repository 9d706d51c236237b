package dev.spillway.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.UUID;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** Names round-trip, and nothing but a name parses. */
class ResourceNamesPropertiesTest {

    @Provide
    Arbitrary<UUID> ids() {
        return Arbitraries.longs().tuple2().map(t -> new UUID(t.get1(), t.get2()));
    }

    @Property
    void jobNamesAndBareIdsRoundTrip(@ForAll("ids") UUID id) {
        assertThat(ResourceNames.parseJob(ResourceNames.job(id))).contains(id);
        assertThat(ResourceNames.parseJob(id.toString())).contains(id);
        assertThat(ResourceNames.parseJob(id.toString().toUpperCase())).contains(id);
    }

    @Property
    void taskAndAttemptNamesRoundTrip(@ForAll("ids") UUID id, @ForAll @IntRange(min = 0, max = 999_999_999) int index,
                                      @ForAll @IntRange(min = 1, max = 999_999_999) int attempt) {
        assertThat(ResourceNames.parseTask(ResourceNames.task(id, index))).contains(new ResourceNames.TaskName(id, index));
        assertThat(ResourceNames.parseAttempt(ResourceNames.attempt(id, index, attempt))).contains(new ResourceNames.AttemptName(id, index, attempt));
        assertThat(ResourceNames.parseAttempt(ResourceNames.task(id, index))).contains(new ResourceNames.AttemptName(id, index, 0));
        assertThat(new ResourceNames.AttemptName(id, index, attempt).toString()).isEqualTo(ResourceNames.attempt(id, index, attempt));
    }

    @Property
    void aNameOfOneKindIsNotOneOfAnother(@ForAll("ids") UUID id, @ForAll @IntRange(min = 0, max = 1000) int index) {
        assertThat(ResourceNames.parseJob(ResourceNames.task(id, index))).isEmpty();
        assertThat(ResourceNames.parseTask(ResourceNames.job(id))).isEmpty();
        assertThat(ResourceNames.parseTask(ResourceNames.attempt(id, index, 1))).isEmpty();
    }

    @Property
    void whatParsesIsExactlyANameTheParserPrints(@ForAll String text) {
        ResourceNames.parseJob(text).ifPresent(id -> assertThat(text.toLowerCase()).isIn(ResourceNames.job(id), id.toString()));
        ResourceNames.parseTask(text).ifPresent(t -> assertThat(text.toLowerCase()).isEqualTo(t.toString()));
    }

    @Property
    void poolNodeAndInstanceNamesRoundTrip(@ForAll("ids") UUID id, @ForAll("poolIds") String pool) {
        assertThat(ResourceNames.parsePool(ResourceNames.pool(pool))).contains(pool);
        assertThat(ResourceNames.parsePool(pool)).contains(pool);
        assertThat(ResourceNames.parseInstance(ResourceNames.instance(pool, id))).contains(new ResourceNames.InstanceName(pool, id));
        assertThat(ResourceNames.parseNode(ResourceNames.node("rack7-n12.dc1"))).contains("rack7-n12.dc1");
        assertThat(ResourceNames.parsePool(ResourceNames.instance(pool, id))).isEmpty();
        assertThat(ResourceNames.parseNode(ResourceNames.pool(pool))).isEmpty();
    }

    @Provide
    Arbitrary<String> poolIds() {
        return Arbitraries.strings().withChars("abcdefghijklmnopqrstuvwxyz0123456789-").ofMinLength(1).ofMaxLength(63)
                .filter(s -> !s.startsWith("-") && !s.endsWith("-"));
    }

    @Example
    void badNamesAreRefusedWithWhatWasExpected() {
        UUID id = UUID.randomUUID();
        assertThat(ResourceNames.parseJob("jobs/" + id + "/")).isEmpty();
        assertThat(ResourceNames.parseJob("job/" + id)).isEmpty();
        assertThat(ResourceNames.parseTask("jobs/" + id + "/tasks/01")).as("no leading zeros").isEmpty();
        assertThat(ResourceNames.parseTask("jobs/" + id + "/tasks/-1")).isEmpty();
        assertThat(ResourceNames.parseTask("jobs/" + id + "/tasks/9999999999")).as("beyond int").isEmpty();
        assertThat(ResourceNames.parseAttempt("jobs/" + id + "/tasks/0/attempts/0")).as("attempts count from 1").isEmpty();
        assertThat(ResourceNames.problem("job", "nope")).contains("not a job name: 'nope'").contains("jobs/{job}");
        assertThat(ResourceNames.problem("task", "")).startsWith("required");
        assertThat(ResourceNames.parsePool("pools/-")).as("the wildcard is no pool").isEmpty();
        assertThat(ResourceNames.parsePool("Pools/x")).isEmpty();
        assertThat(ResourceNames.parseNode("nodes/a/b")).isEmpty();
    }
}
