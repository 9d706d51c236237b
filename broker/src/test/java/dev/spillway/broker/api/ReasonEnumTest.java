package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.api.v1.Reason;
import dev.spillway.core.lifecycle.ReasonCode;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The API's Reason enum and the broker's reason codes are the same closed set. */
class ReasonEnumTest {

    @Test
    void everyReasonCodeHasItsEnumValueAndEveryValueItsCode() {
        for (ReasonCode r : ReasonCode.values()) assertThat(ProtoMapping.reason(r.code())).isEqualTo(Reason.valueOf("REASON_" + r.name()));
        assertThat(Arrays.stream(Reason.values()).filter(r -> r != Reason.REASON_UNSPECIFIED && r != Reason.UNRECOGNIZED))
                .hasSize(ReasonCode.values().length);
        assertThat(ProtoMapping.reason("a_code_from_a_later_version")).isEqualTo(Reason.REASON_UNSPECIFIED);
    }
}
