package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Timestamp;
import dev.spillway.api.Usd;
import dev.spillway.api.v1.Budget;
import dev.spillway.api.v1.BudgetEvent;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.SetBudgetRequest;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.Violation;
import org.junit.jupiter.api.Test;

/** REQUIRED and OUTPUT_ONLY as the annotations of spillway.v1 say, on request messages. */
class FieldBehaviorsTest {

    @Test
    void requiredFieldsLeftUnsetAreNamedByTheirPathAndNamesSayWhatTheyLookLike() {
        assertThatThrownBy(() -> FieldBehaviors.apply(SubmitJobRequest.getDefaultInstance()))
                .isInstanceOfSatisfying(InvalidRequest.class, e -> assertThat(e.violations()).containsExactly(new Violation("spec", "required: a JobSpec")));
        assertThatThrownBy(() -> FieldBehaviors.apply(GetJobRequest.getDefaultInstance()))
                .isInstanceOfSatisfying(InvalidRequest.class, e -> assertThat(e.violations())
                        .containsExactly(new Violation("name", "required: jobs/{job} or a job id, {job} a UUID")));
        assertThatThrownBy(() -> FieldBehaviors.apply(SetBudgetRequest.newBuilder().setBudget(Budget.newBuilder().setName("b")).build()))
                .isInstanceOfSatisfying(InvalidRequest.class, e -> assertThat(e.violations()).extracting(Violation::field)
                        .containsExactly("budget.tenant", "budget.limit"));
    }

    @Test
    void outputOnlyFieldsAClientSetAreClearedAndTheRestKept() {
        Timestamp t = Timestamp.newBuilder().setSeconds(1_790_000_000L).build();
        Budget sent = Budget.newBuilder().setName("b").setTenant("team-a").setLimit(Usd.ofMicros(5_000_000)).setHard(true).addAlerts(90)
                .setSpent(Usd.ofMicros(1)).setReserved(Usd.ofMicros(2)).setForecast(Usd.ofMicros(3)).setPeriodStart(t).setPeriodEnd(t)
                .addEvents(BudgetEvent.newBuilder().setMessage("made up")).build();
        SetBudgetRequest cleaned = (SetBudgetRequest) FieldBehaviors.apply(SetBudgetRequest.newBuilder().setBudget(sent).build());
        assertThat(cleaned.getBudget()).isEqualTo(Budget.newBuilder().setName("b").setTenant("team-a").setLimit(Usd.ofMicros(5_000_000))
                .setHard(true).addAlerts(90).build());
    }

    @Test
    void aRequestThatKeepsTheRulesIsPassedOnAsItIs() {
        ListJobsRequest list = ListJobsRequest.newBuilder().setFilter("state = RUNNING").setPageSize(5).build();
        assertThat(FieldBehaviors.apply(list)).isSameAs(list);
        SetBudgetRequest set = SetBudgetRequest.newBuilder().setBudget(Budget.newBuilder().setName("b").setTenant("t").setLimit(Usd.ofMicros(1))).build();
        assertThat(FieldBehaviors.apply(set)).isSameAs(set);
    }
}
