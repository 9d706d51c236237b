package dev.spillway.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.type.Money;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;

/** Millionths of a dollar to google.type.Money and back, exactly, with units and nanos of one sign. */
class UsdPropertiesTest {

    @Property
    void microsRoundTripExactly(@ForAll @LongRange(min = -9_000_000_000_000_000L, max = 9_000_000_000_000_000L) long micros) {
        Money m = Usd.ofMicros(micros);
        assertThat(Usd.micros(m)).isEqualTo(micros);
        assertThat(m.getCurrencyCode()).isEqualTo("USD");
        assertThat(Math.abs(m.getNanos())).isLessThan(1_000_000_000);
        assertThat(m.getUnits() == 0 || m.getNanos() == 0 || Long.signum(m.getUnits()) == Integer.signum(m.getNanos()))
                .as("units and nanos share a sign").isTrue();
    }

    @Example
    void amountsReadAsPeopleWriteThem() {
        assertThat(Usd.plain(Usd.ofMicros(123_456))).isEqualTo("0.123456");
        assertThat(Usd.plain(Usd.of(2.5))).isEqualTo("2.5");
        assertThat(Usd.plain(Usd.ofMicros(-1_500_000))).isEqualTo("-1.5");
        assertThat(Usd.of(0.0416).getNanos()).isEqualTo(41_600_000);
        assertThatThrownBy(() -> Usd.micros(Money.newBuilder().setCurrencyCode("EUR").setUnits(1).build()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("EUR");
    }
}
