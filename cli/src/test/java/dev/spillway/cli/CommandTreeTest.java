package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class CommandTreeTest {

    @Test
    void theCommandNameIsTheFirstArgumentThatIsNeitherARootOptionNorItsValue() {
        assertThat(Spillway.commandName(new String[] {"job", "42"})).isEqualTo("job");
        assertThat(Spillway.commandName(new String[] {"--broker", "h:1", "-o", "json", "--insecure", "jobs"})).isEqualTo("jobs");
        assertThat(Spillway.commandName(new String[] {"--output=json", "--token-file", "f", "whoami"})).isEqualTo("whoami");
        assertThat(Spillway.commandName(new String[] {"--broker", "h:1"})).isNull();
        assertThat(Spillway.commandName(new String[] {})).isNull();
    }

    @Test
    void aNamedCommandIsBuiltAlone() {
        CommandLine cli = Spillway.commandLine(new String[] {"--broker", "h:1", "job", "42"});
        assertThat(cli.getSubcommands()).containsOnlyKeys("job");
        // The root's options still reach it, as with the whole tree.
        assertThat(cli.getSubcommands().get("job").getCommandSpec().findOption("--broker")).isNotNull();
    }

    @Test
    void usageHelpAndUnknownCommandsGetTheWholeTree() {
        int all = Spillway.commandLine().getSubcommands().size();
        assertThat(all).isGreaterThan(15);
        assertThat(Spillway.commandLine(new String[] {"--help"}).getSubcommands()).hasSize(all);
        assertThat(Spillway.commandLine(new String[] {"help", "job"}).getSubcommands()).hasSize(all);
        assertThat(Spillway.commandLine(new String[] {"jbo"}).getSubcommands()).hasSize(all);

        StringWriter err = new StringWriter();
        CommandLine typo = Spillway.commandLine(new String[] {"jbo"});
        typo.setErr(new PrintWriter(err));
        assertThat(typo.execute("jbo")).isEqualTo(Spillway.INVALID);
        assertThat(err.toString()).contains("Unmatched argument").contains("job");
    }

    @Test
    void aCommandBuiltAloneParsesAsInTheWholeTree() {
        CommandLine alone = Spillway.commandLine(new String[] {"-o", "json", "job", "42"});
        CommandLine.ParseResult parsed = alone.parseArgs("-o", "json", "job", "42");
        assertThat(parsed.subcommand().commandSpec().name()).isEqualTo("job");
        assertThat(((Spillway) alone.getCommand()).output).isEqualTo(Output.Format.JSON);
    }
}
