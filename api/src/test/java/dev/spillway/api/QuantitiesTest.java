package dev.spillway.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class QuantitiesTest {

    @ParameterizedTest(name = "cpu ''{0}'' is {1}m")
    @CsvSource(delimiter = '|', ignoreLeadingAndTrailingWhitespace = false, textBlock = """
            2|2000
            0.5|500
            1.5|1500
            .5|500
            1.|1000
            2.000|2000
            0.001|1
            +2|2000
            0|0
            -0|0
            500m|500
            250m|250
            0m|0
            1e1|10000
            5E-1|500
            2e3m|2000
            ' 2 '|2000
            500 m|500
            9223372036854775807m|9223372036854775807
            0e2147483647|0
            """)
    void cpuIsReadInCoresOrMillicores(String text, long millis) {
        assertThat(Quantities.parseCpuMillis(text)).isEqualTo(millis);
    }

    @ParameterizedTest(name = "memory ''{0}'' is {1} MiB")
    @CsvSource(delimiter = '|', ignoreLeadingAndTrailingWhitespace = false, textBlock = """
            1024|1024
            0|0
            512Mi|512
            512MiB|512
            512M|512
            512m|512
            512mi|512
            4Gi|4096
            4gi|4096
            4GI|4096
            4GiB|4096
            4gib|4096
            4G|4096
            4g|4096
            1.5Gi|1536
            0.5Gi|512
            1Ti|1048576
            1TiB|1048576
            1ti|1048576
            0.5Ti|524288
            ' 4Gi '|4096
            4 Gi|4096
            2e3|2000
            2 GiB|2048
            512 MiB|512
            """)
    void memoryIsReadInBinaryUnitsOrMib(String text, long mib) {
        assertThat(Quantities.parseMemoryMib(text)).isEqualTo(mib);
    }

    @ParameterizedTest(name = "cpu ''{0}'': {1}")
    @CsvSource(delimiter = '|', ignoreLeadingAndTrailingWhitespace = false, textBlock = """
            lots|not a cpu amount: 'lots' (cores such as 2 or 0.5, or millicores such as 500m)
            m|not a cpu amount: 'm' (cores such as 2 or 0.5, or millicores such as 500m)
            1.2.3|not a cpu amount: '1.2.3' (cores such as 2 or 0.5, or millicores such as 500m)
            NaN|not a cpu amount: 'NaN' (cores such as 2 or 0.5, or millicores such as 500m)
            Infinity|not a cpu amount: 'Infinity' (cores such as 2 or 0.5, or millicores such as 500m)
            0x10|not a cpu amount: '0x10' (cores such as 2 or 0.5, or millicores such as 500m)
            ٢|not a cpu amount: '٢' (cores such as 2 or 0.5, or millicores such as 500m)
            500M|not a cpu amount: '500M' (unknown unit 'M'; cores such as 2 or 0.5, or millicores such as 500m)
            2 cores|not a cpu amount: '2 cores' (unknown unit 'cores'; cores such as 2 or 0.5, or millicores such as 500m)
            500mm|not a cpu amount: '500mm' (unknown unit 'mm'; cores such as 2 or 0.5, or millicores such as 500m)
            -1|not a cpu amount: '-1' (negative)
            -500m|not a cpu amount: '-500m' (negative)
            0.0005|not a cpu amount: '0.0005' (that is 0.5 millicores; the finest amount is 1m, a thousandth of a core)
            1.5m|not a cpu amount: '1.5m' (that is 1.5 millicores; the finest amount is 1m, a thousandth of a core)
            1e-999999999|not a cpu amount: '1e-999999999' (that is 1E-999999996 millicores; the finest amount is 1m, a thousandth of a core)
            9223372036854775808m|not a cpu amount: '9223372036854775808m' (too large)
            9223372036854776|not a cpu amount: '9223372036854776' (too large)
            1e999999999|not a cpu amount: '1e999999999' (too large)
            1e2147483647|not a cpu amount: '1e2147483647' (too large)
            1e99999999999|not a cpu amount: '1e99999999999' (too large or too small; cores such as 2 or 0.5, or millicores such as 500m)
            """)
    void cpuThatIsNotAnAmountSaysWhy(String text, String message) {
        assertThatThrownBy(() -> Quantities.parseCpuMillis(text)).isInstanceOf(IllegalArgumentException.class).hasMessage(message);
    }

    @ParameterizedTest(name = "memory ''{0}'': {1}")
    @CsvSource(delimiter = '|', ignoreLeadingAndTrailingWhitespace = false, textBlock = """
            lots|not a memory amount: 'lots' (such as 4Gi, 512Mi, or a number of MiB)
            Gi|not a memory amount: 'Gi' (such as 4Gi, 512Mi, or a number of MiB)
            4GB|not a memory amount: '4GB' (unknown unit 'GB'; use Mi, Gi or Ti (binary; M and G mean the same), or a plain number of MiB)
            4T|not a memory amount: '4T' (unknown unit 'T'; use Mi, Gi or Ti (binary; M and G mean the same), or a plain number of MiB)
            4096Ki|not a memory amount: '4096Ki' (unknown unit 'Ki'; use Mi, Gi or Ti (binary; M and G mean the same), or a plain number of MiB)
            1.5|not a memory amount: '1.5' (that is 1.5 MiB; memory is counted in whole MiB)
            0.3Gi|not a memory amount: '0.3Gi' (that is 307.2 MiB; memory is counted in whole MiB)
            -1Gi|not a memory amount: '-1Gi' (negative)
            8796093022208Ti|not a memory amount: '8796093022208Ti' (too large)
            9223372036854775808|not a memory amount: '9223372036854775808' (too large)
            """)
    void memoryThatIsNotAnAmountSaysWhy(String text, String message) {
        assertThatThrownBy(() -> Quantities.parseMemoryMib(text)).isInstanceOf(IllegalArgumentException.class).hasMessage(message);
    }

    @ParameterizedTest
    @NullAndEmptySource
    @ValueSource(strings = {" ", "\t"})
    void nothingIsNotAnAmount(String text) {
        assertThatThrownBy(() -> Quantities.parseCpuMillis(text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("not a cpu amount: '" + text + "' (cores such as 2 or 0.5, or millicores such as 500m)");
        assertThatThrownBy(() -> Quantities.parseMemoryMib(text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("not a memory amount: '" + text + "' (such as 4Gi, 512Mi, or a number of MiB)");
    }

    @Test
    void largestAmountsStillFit() {
        assertThat(Quantities.parseMemoryMib("8796093022207Ti")).isEqualTo(8796093022207L * 1024 * 1024);
        assertThat(Quantities.parseCpuMillis("9223372036854775.807")).isEqualTo(Long.MAX_VALUE);
    }

    @ParameterizedTest(name = "{0}m is written ''{1}''")
    @CsvSource({"0, 0", "1, 0.001", "250, 0.25", "500, 0.5", "1000, 1", "1500, 1.5", "2000, 2", "64000, 64",
            "9223372036854775807, 9223372036854775.807"})
    void cpuIsWrittenInCores(long millis, String text) {
        assertThat(Quantities.formatCpu(millis)).isEqualTo(text);
    }

    @ParameterizedTest(name = "{0} MiB is written ''{1}''")
    @CsvSource({"0, 0Mi", "1, 1Mi", "512, 512Mi", "1023, 1023Mi", "1024, 1Gi", "1536, 1536Mi", "4096, 4Gi",
            "1048576, 1024Gi"})
    void memoryIsWrittenInGibWhenWhole(long mib, String text) {
        assertThat(Quantities.formatMemory(mib)).isEqualTo(text);
    }

    @Test
    void negativeAmountsAreNotWritten() {
        assertThatThrownBy(() -> Quantities.formatCpu(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Quantities.formatMemory(-1)).isInstanceOf(IllegalArgumentException.class);
    }
}
