package dev.spillway.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.agent.TaskUser.Account;
import dev.spillway.agent.TaskUser.AgentProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Who tasks run as: the decision from the agent's process status and the user database (given here), and the command it makes. */
class TaskUserTest {

    private static final Account ROOT = new Account("root", 0, 0);
    private static final Account NOBODY = new Account("nobody", 65534, 65534);
    private static final Account AGENT = new Account("spillway-agent", 998, 998);
    private static final Account TASK = new Account("spillway-task", 997, 997);
    private static final Optional<Path> SETPRIV = Optional.of(Path.of("/usr/bin/setpriv"));
    /** Bits of CAP_CHOWN, CAP_FOWNER, CAP_KILL, CAP_SETGID and CAP_SETUID: what the cloud boot script's unit grants. */
    private static final long UNIT_CAPS = (1L << 0) | (1L << 3) | (1L << 5) | (1L << 6) | (1L << 7);

    private static Function<String, Optional<Account>> users(Account... accounts) {
        Map<String, Account> byKey = Stream.of(accounts)
                .flatMap(a -> Stream.of(Map.entry(a.name(), a), Map.entry(Integer.toString(a.uid()), a)))
                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
        return key -> Optional.ofNullable(byKey.get(key));
    }

    private static final AgentProcess AS_ROOT = new AgentProcess(0, 0x1ffffffffffL, 0);

    @Test
    void theKernelsViewOfAProcessIsReadFromItsStatus() throws Exception {
        AgentProcess p = AgentProcess.fromStatus("""
                Name:\tjava
                Uid:\t998\t998\t998\t998
                Gid:\t998\t998\t998\t998
                CapInh:\t00000000000000e9
                CapPrm:\t00000000000000e9
                CapEff:\t00000000000000e9
                CapBnd:\t000001ffffffffff
                CapAmb:\t00000000000000e9
                """);
        assertThat(p).isEqualTo(new AgentProcess(998, UNIT_CAPS, UNIT_CAPS));
        assertThat(p.root()).isFalse();
        assertThat(p.childrenHave(TaskUser.CAP_SETUID)).isTrue();

        // and this JVM's own status parses to its own uid
        String uid = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("Uid:")).findFirst().orElseThrow()
                .split("\\s+")[1];
        assertThat(AgentProcess.fromStatus(Files.readString(Path.of("/proc/self/status"))).uid()).isEqualTo(Integer.parseInt(uid));
    }

    @Test
    void anAgentRunningAsRootRunsTasksAsSpillwayTaskIfItExistsElseNobody() {
        TaskUser withTaskUser = TaskUser.choose(Optional.empty(), AS_ROOT, "root", users(ROOT, NOBODY, TASK), SETPRIV);
        assertThat(withTaskUser.account()).isEqualTo(TASK);
        assertThat(withTaskUser.sharesAgentUser()).isFalse();
        assertThat(withTaskUser.wrap(List.of("sh", "-c", "x"))).containsExactly("/usr/bin/setpriv", "--reuid=997", "--regid=997",
                "--init-groups", "--inh-caps=-all", "--ambient-caps=-all", "--", "sh", "-c", "x");

        TaskUser withoutTaskUser = TaskUser.choose(Optional.empty(), AS_ROOT, "root", users(ROOT, NOBODY), SETPRIV);
        assertThat(withoutTaskUser.account()).isEqualTo(NOBODY);
    }

    @Test
    void runAsNamesTheUser() {
        assertThat(TaskUser.choose(Optional.of("nobody"), AS_ROOT, "root", users(ROOT, NOBODY, TASK), SETPRIV).account()).isEqualTo(NOBODY);
        assertThatThrownBy(() -> TaskUser.choose(Optional.of("ghost"), AS_ROOT, "root", users(ROOT, NOBODY), SETPRIV))
                .hasMessage("cannot run tasks as 'ghost': no such user");
    }

    @Test
    void anAgentUserWithTheBootScriptsCapabilitiesSwitchesToTheRunAsUser() {
        AgentProcess agent = new AgentProcess(AGENT.uid(), UNIT_CAPS, UNIT_CAPS);
        TaskUser user = TaskUser.choose(Optional.of("spillway-task"), agent, AGENT.name(), users(AGENT, TASK, NOBODY), SETPRIV);

        assertThat(user.account()).isEqualTo(TASK);
        assertThat(user.wrap(List.of("true"))).containsExactly("/usr/bin/setpriv", "--reuid=997", "--regid=997", "--init-groups",
                "--inh-caps=-all", "--ambient-caps=-all", "--", "true");
    }

    @Test
    void anUnprivilegedAgentRunsTasksAsItselfUnlessAskedAndThenCannot() {
        AgentProcess plain = new AgentProcess(AGENT.uid(), 0, 0);
        TaskUser user = TaskUser.choose(Optional.empty(), plain, AGENT.name(), users(AGENT, TASK), SETPRIV);
        assertThat(user.account()).isEqualTo(AGENT);
        assertThat(user.sharesAgentUser()).isTrue();
        assertThat(user.wrap(List.of("true"))).containsExactly("true");

        assertThatThrownBy(() -> TaskUser.choose(Optional.of("spillway-task"), plain, AGENT.name(), users(AGENT, TASK), SETPRIV))
                .hasMessage("cannot run tasks as spillway-task: this agent runs as spillway-agent, not root, "
                        + "without the ambient capabilities CAP_SETUID and CAP_SETGID");
    }

    @Test
    void capabilitiesOnlyInTheEffectiveSetDoNotReachTheTasksStarter() {
        AgentProcess fileCapsOnly = new AgentProcess(AGENT.uid(), UNIT_CAPS, 0);
        assertThatThrownBy(() -> TaskUser.choose(Optional.of("spillway-task"), fileCapsOnly, AGENT.name(), users(AGENT, TASK), SETPRIV))
                .hasMessageContaining("without the ambient capabilities");
    }

    @Test
    void switchingWithoutTheMeansToHandOverADirectoryOrStopATaskIsRefusedAtStart() {
        long setIdsOnly = (1L << TaskUser.CAP_SETUID) | (1L << TaskUser.CAP_SETGID);
        AgentProcess agent = new AgentProcess(AGENT.uid(), setIdsOnly, setIdsOnly);
        assertThatThrownBy(() -> TaskUser.choose(Optional.of("spillway-task"), agent, AGENT.name(), users(AGENT, TASK), SETPRIV))
                .hasMessage("cannot run tasks as spillway-task: this agent also needs CAP_CHOWN (to give a task its directory) "
                        + "and CAP_KILL (to stop a task)");
    }

    @Test
    void tasksOfAnAgentWithAmbientCapabilitiesLoseThemEvenAsTheAgentsUser() {
        AgentProcess agent = new AgentProcess(AGENT.uid(), UNIT_CAPS, UNIT_CAPS);
        TaskUser user = TaskUser.choose(Optional.empty(), agent, AGENT.name(), users(AGENT), SETPRIV);
        assertThat(user.sharesAgentUser()).isTrue();
        assertThat(user.wrap(List.of("true"))).containsExactly("/usr/bin/setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--", "true");

        assertThatThrownBy(() -> TaskUser.choose(Optional.empty(), agent, AGENT.name(), users(AGENT), Optional.empty()))
                .hasMessage("cannot run tasks as spillway-agent without this agent's capabilities: setpriv (util-linux) is not installed");
    }

    /**
     * An attempt starts in its working directory at once when the agent may enter it; an agent user
     * that switches without CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH must leave that to the task's user.
     */
    @Test
    void theAgentEntersATasksDirectoryItselfOnlyWhenItIsThatUserOrBypassesDirectoryPermissions() {
        assertThat(TaskUser.choose(Optional.empty(), AS_ROOT, "root", users(ROOT, NOBODY), SETPRIV).agentEntersTaskDirectories()).isTrue();
        AgentProcess unit = new AgentProcess(AGENT.uid(), UNIT_CAPS, UNIT_CAPS);
        assertThat(TaskUser.choose(Optional.of("spillway-task"), unit, AGENT.name(), users(AGENT, TASK), SETPRIV).agentEntersTaskDirectories())
                .isFalse();
        long unitAndReadSearch = UNIT_CAPS | (1L << TaskUser.CAP_DAC_READ_SEARCH);
        AgentProcess readSearch = new AgentProcess(AGENT.uid(), unitAndReadSearch, unitAndReadSearch);
        assertThat(TaskUser.choose(Optional.of("spillway-task"), readSearch, AGENT.name(), users(AGENT, TASK), SETPRIV)
                .agentEntersTaskDirectories()).isTrue();
        assertThat(TaskUser.choose(Optional.empty(), unit, AGENT.name(), users(AGENT), SETPRIV).agentEntersTaskDirectories()).isTrue();
        assertThat(TaskUser.agentsOwn().agentEntersTaskDirectories()).isTrue();
    }

    @Test
    void switchingNeedsSetpriv() {
        assertThatThrownBy(() -> TaskUser.choose(Optional.empty(), AS_ROOT, "root", users(ROOT, NOBODY), Optional.empty()))
                .hasMessage("cannot run tasks as nobody: setpriv (util-linux) is not installed");
    }

    @Test
    void passwdLinesGiveNameUidAndPrimaryGroup() {
        assertThat(Account.fromPasswd("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")).contains(NOBODY);
        assertThat(Account.fromPasswd("broken")).isEmpty();
    }
}
