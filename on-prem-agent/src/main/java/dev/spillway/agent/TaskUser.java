package dev.spillway.agent;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The OS user task processes run as (agent option {@code --run-as}), and how the agent starts them
 * as that user: through {@code setpriv} (util-linux, on every Debian image), which switches the
 * real, effective and saved ids and initialises the user's groups, then runs the task. The switch
 * is an exec, not a child, so the task keeps the pid the agent started: process-group kills,
 * exit codes and resource sampling see the task itself.
 *
 * <p>Who: {@code --run-as USER} if given. Otherwise an agent running as root runs tasks as
 * {@code spillway-task} if that user exists, else {@code nobody}; an agent running as any other
 * user runs them as itself (and says once that tasks can then read its files). Switching needs
 * root, or the capabilities CAP_SETUID and CAP_SETGID in the agent's ambient set (a systemd unit's
 * {@code AmbientCapabilities=}), plus CAP_CHOWN to hand a task its directory and CAP_KILL to stop
 * it; an agent that cannot switch but is asked to refuses to start rather than run tasks as itself.
 *
 * <p>Tasks never keep the agent's capabilities: an agent with ambient capabilities would pass them
 * to every child (CAP_SETUID alone is a way to root), so the task's inheritable and ambient sets
 * are emptied by the same {@code setpriv}, whether or not it switches user.
 *
 * <p>Where the agent has its {@link NativeLauncher} ({@link #launchingWith}), that one program
 * does what {@code setpriv} does (the groups come from {@code id -G}, read once), in the same
 * exec as the other steps of an attempt's start.
 */
final class TaskUser {

    // Capability numbers from linux/capability.h.
    static final int CAP_CHOWN = 0;
    static final int CAP_DAC_OVERRIDE = 1;
    static final int CAP_DAC_READ_SEARCH = 2;
    static final int CAP_KILL = 5;
    static final int CAP_SETGID = 6;
    static final int CAP_SETUID = 7;

    static final String DEFAULT_USER = "spillway-task";
    static final String FALLBACK_USER = "nobody";

    /** A user account: its name and numeric ids (primary group). */
    record Account(String name, int uid, int gid) {
        /** Parses a {@code getent passwd} line: {@code name:x:uid:gid:gecos:home:shell}. */
        static Optional<Account> fromPasswd(String line) {
            String[] f = line.trim().split(":", -1);
            if (f.length < 4) return Optional.empty();
            try {
                return Optional.of(new Account(f[0], Integer.parseInt(f[2]), Integer.parseInt(f[3])));
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
        }
    }

    /** The agent's own process as the kernel sees it ({@code /proc/self/status}): its effective uid and capability sets. */
    record AgentProcess(int uid, long effectiveCaps, long ambientCaps) {
        static AgentProcess fromStatus(String status) {
            int uid = -1;
            long eff = 0;
            long amb = 0;
            for (String line : status.split("\n")) {
                String[] f = line.trim().split("\\s+");
                switch (f[0]) {
                    case "Uid:" -> uid = Integer.parseInt(f[2]); // real, effective, saved, fs
                    case "CapEff:" -> eff = Long.parseUnsignedLong(f[1], 16);
                    case "CapAmb:" -> amb = Long.parseUnsignedLong(f[1], 16);
                    default -> { }
                }
            }
            if (uid < 0) throw new IllegalArgumentException("no Uid line in the process status");
            return new AgentProcess(uid, eff, amb);
        }

        boolean root() {
            return uid == 0;
        }

        /**
         * Capabilities the agent's children start with: all of root's when it is root, else only
         * the ambient ones it holds (ambient capabilities survive exec; others do not).
         */
        boolean childrenHave(int cap) {
            long bit = 1L << cap;
            return root() ? (effectiveCaps & bit) != 0 : (effectiveCaps & ambientCaps & bit) != 0;
        }

        /** Whether this process itself holds {@code cap} (what it may do between fork and exec, such as entering a directory). */
        boolean has(int cap) {
            return (effectiveCaps & (1L << cap)) != 0;
        }
    }

    private final Account account;
    private final boolean switchUser;
    /** setpriv, when tasks are started through it; null when they are started as they are. */
    private final Path setpriv;
    /** Tasks start without the agent's capabilities ({@code setpriv} or the launcher drops them); false when there are none to drop. */
    private final boolean dropCaps;
    /** The agent's {@link NativeLauncher}, or null: tasks start through {@code setpriv} and the chain of {@link Attempt#launch}. */
    private final Path launcher;
    /** The task user's groups, for the launcher (setpriv's {@code --init-groups} reads them itself). */
    private final List<Integer> groups;
    private final boolean sharesAgentUser;
    /** The agent may enter a directory that is this user's alone (mode 0700): it is that user, or bypasses directory permissions. */
    private final boolean agentEntersTaskDirectories;

    private TaskUser(Account account, boolean switchUser, Path setpriv, boolean dropCaps, Path launcher, List<Integer> groups,
                     boolean sharesAgentUser, boolean agentEntersTaskDirectories) {
        this.account = account;
        this.switchUser = switchUser;
        this.setpriv = setpriv;
        this.dropCaps = dropCaps;
        this.launcher = launcher;
        this.groups = List.copyOf(groups);
        this.sharesAgentUser = sharesAgentUser;
        this.agentEntersTaskDirectories = agentEntersTaskDirectories;
    }

    /**
     * Decides who tasks run as, without I/O.
     *
     * @param requested {@code --run-as}, if given
     * @param self      the agent's process
     * @param selfName  the agent's user name
     * @param accounts  a user by name or uid, if it exists
     * @param setpriv   where setpriv is, if it is installed
     * @throws IllegalArgumentException if the agent cannot run tasks as asked, saying why
     */
    static TaskUser choose(Optional<String> requested, AgentProcess self, String selfName,
                           Function<String, Optional<Account>> accounts, Optional<Path> setpriv) {
        return choose(requested, self, selfName, accounts, setpriv, false);
    }

    /** As {@link #choose(Optional, AgentProcess, String, Function, Optional)}; {@code launcher}: the agent has its {@link NativeLauncher}, so setpriv is not needed. */
    static TaskUser choose(Optional<String> requested, AgentProcess self, String selfName,
                           Function<String, Optional<Account>> accounts, Optional<Path> setpriv, boolean launcher) {
        Account agent = accounts.apply(Integer.toString(self.uid())).orElse(new Account(selfName, self.uid(), -1));
        Account target;
        if (requested.isEmpty() && !self.root()) {
            target = agent;
        } else {
            String wanted = requested.orElseGet(() -> accounts.apply(DEFAULT_USER).isPresent() ? DEFAULT_USER : FALLBACK_USER);
            target = accounts.apply(wanted)
                    .orElseThrow(() -> new IllegalArgumentException("cannot run tasks as '" + wanted + "': no such user"
                            + (requested.isEmpty() ? " (nor " + DEFAULT_USER + "); create one or pass --run-as USER" : "")));
        }
        boolean switchUser = target.uid() != self.uid();
        if (switchUser) {
            if (!self.childrenHave(CAP_SETUID) || !self.childrenHave(CAP_SETGID)) {
                throw new IllegalArgumentException("cannot run tasks as " + target.name() + ": this agent runs as " + agent.name()
                        + ", not root, without the ambient capabilities CAP_SETUID and CAP_SETGID");
            }
            List<String> missing = new ArrayList<>();
            if (!self.childrenHave(CAP_CHOWN)) missing.add("CAP_CHOWN (to give a task its directory)");
            if (!self.childrenHave(CAP_KILL)) missing.add("CAP_KILL (to stop a task)");
            if (!missing.isEmpty()) {
                throw new IllegalArgumentException("cannot run tasks as " + target.name() + ": this agent also needs " + String.join(" and ", missing));
            }
        }
        boolean dropCaps = switchUser || self.ambientCaps() != 0;
        if (dropCaps && setpriv.isEmpty() && !launcher) {
            throw new IllegalArgumentException("cannot run tasks as " + target.name() + (switchUser ? "" : " without this agent's capabilities")
                    + ": setpriv (util-linux) is not installed");
        }
        boolean entersTaskDirectories = !switchUser || self.has(CAP_DAC_OVERRIDE) || self.has(CAP_DAC_READ_SEARCH);
        return new TaskUser(target, switchUser, dropCaps ? setpriv.orElse(null) : null, dropCaps, null, List.of(target.gid()), !switchUser,
                entersTaskDirectories);
    }

    /** Who tasks run as for this agent process, started through the chain of programs (no {@link NativeLauncher}). */
    static TaskUser forThisAgent(Optional<String> runAs) throws IOException {
        return forThisAgent(runAs, Optional.empty());
    }

    /**
     * Who tasks run as for this agent process, as {@link #choose} decides from the OS, started
     * through {@code launcher} when there is one; checked by running {@code id} as that user.
     */
    static TaskUser forThisAgent(Optional<String> runAs, Optional<Path> launcher) throws IOException {
        TaskUser user = choose(runAs, AgentProcess.fromStatus(Files.readString(Path.of("/proc/self/status"))),
                System.getProperty("user.name"), TaskUser::lookUp, onPath("setpriv"), launcher.isPresent());
        if (launcher.isPresent()) user = user.launchingWith(launcher.get(), user.switchUser ? groupsOf(user.account) : List.of());
        if (user.dropCaps) {
            String uid = run(user.wrap(List.of("id", "-u"))).orElse("").trim();
            if (!uid.equals(Integer.toString(user.account.uid()))) {
                throw new IllegalArgumentException("cannot run tasks as " + user.account.name() + ": " + (user.launcher != null ? NativeLauncher.NAME
                        : "setpriv") + " did not switch to uid " + user.account.uid() + " (got '" + uid + "')");
            }
        }
        return user;
    }

    /** This user, its tasks started through the agent's {@link NativeLauncher} with {@code groups} as their groups. */
    TaskUser launchingWith(Path launcher, List<Integer> groups) {
        return new TaskUser(account, switchUser, setpriv, dropCaps, launcher, groups.isEmpty() ? List.of(account.gid()) : groups, sharesAgentUser,
                agentEntersTaskDirectories);
    }

    /** The account's groups ({@code id -G}, as {@code setpriv --init-groups} would set them); its primary group alone if that fails. */
    private static List<Integer> groupsOf(Account account) {
        return run(List.of("id", "-G", account.name())).map(out -> java.util.Arrays.stream(out.trim().split("\\s+")).filter(g -> !g.isEmpty())
                .map(Integer::valueOf).toList()).filter(g -> !g.isEmpty()).orElse(List.of(account.gid()));
    }

    /** The agent's {@link NativeLauncher}, when tasks start through it. */
    Optional<Path> launcher() {
        return Optional.ofNullable(launcher);
    }

    /** The launcher's options that make a process this user, without the agent's capabilities (none when there is nothing to drop). */
    List<String> launcherOptions() {
        if (!dropCaps) return List.of();
        List<String> options = new ArrayList<>(List.of("--drop-caps"));
        if (switchUser) {
            options.addAll(List.of("--user", Integer.toString(account.uid()), "--group", Integer.toString(account.gid()), "--groups",
                    String.join(",", groups.stream().map(String::valueOf).toList())));
        }
        return options;
    }

    /** Tasks run as the agent's own user, with nothing switched or dropped (for tests of other things). */
    static TaskUser agentsOwn() {
        String name = System.getProperty("user.name");
        return new TaskUser(new Account(name, -1, -1), false, null, false, null, List.of(), true, true);
    }

    Account account() {
        return account;
    }

    /** Tasks run as the agent's own user, so they can read whatever the agent can: its token, credential and work directory. */
    boolean sharesAgentUser() {
        return sharesAgentUser;
    }

    /**
     * Whether the agent's own process may enter a task's working directory (this user's, mode
     * 0700) before it execs anything: it runs as this user, or it holds CAP_DAC_OVERRIDE or
     * CAP_DAC_READ_SEARCH (root does). Then an attempt starts in its working directory at once;
     * otherwise it enters it after the switch to this user ({@link Attempt#entering}).
     */
    boolean agentEntersTaskDirectories() {
        return agentEntersTaskDirectories;
    }

    /** {@code command}, started as this user and without the agent's capabilities. */
    List<String> wrap(List<String> command) {
        if (!dropCaps) return command;
        if (launcher != null) return NativeLauncher.command(launcher, null, false, launcherOptions(), null, command);
        List<String> wrapped = new ArrayList<>(List.of(setpriv.toString()));
        if (switchUser) {
            wrapped.addAll(List.of("--reuid=" + account.uid(), "--regid=" + account.gid(), "--init-groups"));
        }
        wrapped.addAll(List.of("--inh-caps=-all", "--ambient-caps=-all", "--"));
        wrapped.addAll(command);
        return wrapped;
    }

    /** Makes {@code dir} (a task's working directory, just created by the agent) this user's. */
    void handOver(Path dir) throws IOException {
        if (!switchUser) return;
        Files.setAttribute(dir, "unix:gid", account.gid(), LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(dir, "unix:uid", account.uid(), LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * Whether this user can reach {@code dir} by its path, asked of the OS by trying as that user.
     * Tasks start in their directory even when they cannot (they enter it by a relative name, see
     * {@link Attempt#entering}), but then HOME and SPILLWAY_WORK_DIR do not resolve for them.
     */
    boolean canReach(Path dir) {
        return run(wrap(List.of("/bin/sh", "-c", "cd -- \"$1\" && echo reachable", "sh", dir.toString())))
                .map(out -> out.trim().equals("reachable")).orElse(false);
    }

    @Override
    public String toString() {
        return account.name() + (account.uid() >= 0 ? " (uid " + account.uid() + ")" : "");
    }

    /** A user by name or uid from the system's user database ({@code getent passwd}), if it exists. */
    static Optional<Account> lookUp(String nameOrUid) {
        if (nameOrUid.isEmpty() || nameOrUid.startsWith("-") || nameOrUid.contains(":")) return Optional.empty();
        return run(List.of("getent", "passwd", nameOrUid)).flatMap(Account::fromPasswd);
    }

    private static Optional<Path> onPath(String program) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String dir : (path + ":/usr/bin:/bin").split(":")) {
            if (dir.isEmpty()) continue;
            Path p = Path.of(dir, program);
            if (Files.isExecutable(p)) return Optional.of(p);
        }
        return Optional.empty();
    }

    /** Runs a short command with an empty environment; its stdout if it exits 0. */
    private static Optional<String> run(List<String> command) {
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.environment().clear();
            pb.environment().put("PATH", "/usr/local/bin:/usr/bin:/bin");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return Optional.empty();
            }
            return p.exitValue() == 0 ? Optional.of(out) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }
}
