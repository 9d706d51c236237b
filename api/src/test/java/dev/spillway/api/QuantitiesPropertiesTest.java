package dev.spillway.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.math.BigInteger;
import java.util.Locale;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.LongRange;

class QuantitiesPropertiesTest {

    @Property
    void cpuReadsBackWhatItWrites(@ForAll @LongRange(min = 0, max = Long.MAX_VALUE) long millis) {
        assertThat(Quantities.parseCpuMillis(Quantities.formatCpu(millis))).isEqualTo(millis);
    }

    @Property
    void memoryReadsBackWhatItWrites(@ForAll @LongRange(min = 0, max = Long.MAX_VALUE) long mib) {
        assertThat(Quantities.parseMemoryMib(Quantities.formatMemory(mib))).isEqualTo(mib);
    }

    @Property
    void millicoresAndCoresAreTheSameAmount(@ForAll @LongRange(min = 0, max = Long.MAX_VALUE) long millis) {
        assertThat(Quantities.parseCpuMillis(millis + "m")).isEqualTo(millis);
    }

    /** Every spelling of a unit, in any case, with or without a space, means the same amount. */
    @Property
    void memoryUnitsAreBinaryWhateverTheSpelling(@ForAll @LongRange(min = 0, max = 1L << 45) long count,
                                                 @ForAll("memoryUnits") String unit, @ForAll boolean upper, @ForAll boolean space) {
        long factor = switch (unit.toLowerCase(Locale.ROOT).charAt(0)) {
            case 't' -> 1024L * 1024;
            case 'g' -> 1024L;
            default -> 1L;
        };
        String text = count + (space ? " " : "") + (upper ? unit.toUpperCase(Locale.ROOT) : unit);
        BigInteger mib = BigInteger.valueOf(count).multiply(BigInteger.valueOf(factor));
        if (mib.bitLength() < 64) {
            assertThat(Quantities.parseMemoryMib(text)).isEqualTo(mib.longValueExact());
        } else {
            assertThat(catchThrowable(() -> Quantities.parseMemoryMib(text))).hasMessageEndingWith("(too large)");
        }
    }

    @Provide
    Arbitrary<String> memoryUnits() {
        return Arbitraries.of("m", "Mi", "MiB", "g", "Gi", "GiB", "Ti", "TiB");
    }

    /** Whatever is typed, the answer is an amount or a refusal that quotes the text: nothing else escapes. */
    @Property(tries = 2000)
    void anythingTypedIsAnAmountOrARefusalThatQuotesIt(@ForAll("typed") String text) {
        answersOrRefuses(() -> Quantities.parseCpuMillis(text), "not a cpu amount: '" + text + "' (");
        answersOrRefuses(() -> Quantities.parseMemoryMib(text), "not a memory amount: '" + text + "' (");
    }

    /** Strings from the characters quantities are made of, so that many are nearly amounts. */
    @Provide
    Arbitrary<String> typed() {
        return Arbitraries.strings().withChars("0123456789.+-eEmMgGiItTbB x").ofMaxLength(12);
    }

    private static void answersOrRefuses(java.util.function.LongSupplier parse, String refusal) {
        try {
            assertThat(parse.getAsLong()).isNotNegative();
        } catch (IllegalArgumentException e) {
            assertThat(e.getMessage()).startsWith(refusal).endsWith(")");
        }
    }
}
