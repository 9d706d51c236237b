package dev.spillway.agent;

import dev.spillway.api.v1.Resources;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * Containment of attempts in cgroup v2: each attempt runs in its own cgroup
 * {@code <agent's cgroup>/attempt-<job>-<task>-<attempt>}, so every process it starts — however it
 * detaches (a new session, double forks, re-parenting to init) — can be found and killed when the
 * attempt ends, and memory and CPU limits apply when the controllers are there.
 *
 * <p>Where: the agent's cgroup is {@code <base>/agent-<node name>-<hash of the work directory>}.
 * With {@code --cgroup-root auto} (the default) {@code base} is the agent's own cgroup (from
 * {@code /proc/self/cgroup}, under the cgroup2 mount found in {@code /proc/self/mountinfo}; a
 * systemd unit with {@code Delegate=yes} gives the agent one it may write), or
 * {@code <mount>/spillway} when the agent runs in the root cgroup. {@code --cgroup-root PATH}
 * names the base; {@code --cgroup-root none} turns containment off (tasks are then contained by
 * their process group only, see {@link ProcessTree}). The agent's cgroup is per work directory,
 * so leftovers of an earlier run of the same agent are killed at start, and never another agent's.
 *
 * <p>Entering: the process writes its own pid to the attempt's {@code cgroup.procs} before it
 * execs anything else ({@link Cgroup#enter}): nothing the task starts can run outside. Moving the
 * process in from the agent after {@code start()} would race with a task that forks at once.
 *
 * <p>Limits: {@code memory.max} and {@code cpu.max} from the attempt's resources when the
 * {@code memory} and {@code cpu} controllers can be enabled for the agent's cgroup. They cannot
 * when the agent's own cgroup is not the root and holds the agent itself (cgroup v2 enables
 * controllers only for cgroups without processes of their own), or when the hierarchy does not
 * offer them (a hybrid layout whose controllers are all on v1): the agent says so once at start.
 */
final class AttemptCgroups {

    private static final Logger LOG = Logger.getLogger(AttemptCgroups.class.getName());
    static final String AUTO = "auto";
    static final String NONE = "none";
    private static final List<String> LIMITED = List.of("memory", "cpu");
    /** cpu.max period, microseconds: a quota of cpu_millis * 100 µs per period is cpu_millis / 1000 cores. */
    private static final long CPU_PERIOD_MICROS = 100_000;

    /** The outcome of {@link #open}: the agent's cgroups, or why attempts are contained by process group only. */
    record Opened(Optional<AttemptCgroups> cgroups, String why) {
    }

    private final Path agentCgroup;
    private final Set<String> limits;

    private AttemptCgroups(Path agentCgroup, Set<String> limits) {
        this.agentCgroup = agentCgroup;
        this.limits = limits;
    }

    /** The agent's cgroup, under which each attempt gets its own. */
    Path path() {
        return agentCgroup;
    }

    /** Whether {@code memory.max} and {@code cpu.max} are set on attempts. */
    boolean enforcesLimits() {
        return limits.containsAll(LIMITED);
    }

    /** Says, for the start-up log, what containment attempts get. */
    String describe() {
        String where = "attempts run in their own cgroup under " + agentCgroup;
        if (enforcesLimits()) return where + " with memory.max and cpu.max from their resources";
        return where + "; memory and cpu limits are NOT enforced: the controllers "
                + LIMITED.stream().filter(c -> !limits.contains(c)).toList() + " cannot be enabled for it (cgroup.controllers of "
                + agentCgroup.getParent() + ": '" + read(agentCgroup.getParent().resolve("cgroup.controllers")).orElse("?").trim() + "')";
    }

    // --- deciding where, without I/O ---

    /** The mount point of the cgroup2 hierarchy in a {@code /proc/self/mountinfo} listing, if there is one. */
    static Optional<Path> cgroup2Mount(String mountinfo) {
        for (String line : mountinfo.split("\n")) {
            int dash = line.indexOf(" - ");
            if (dash < 0) continue;
            String[] after = line.substring(dash + 3).split(" ");
            String[] before = line.substring(0, dash).split(" ");
            if (after.length > 0 && after[0].equals("cgroup2") && before.length > 4) return Optional.of(Path.of(unescape(before[4])));
        }
        return Optional.empty();
    }

    /** This process's cgroup v2 path ({@code 0::/path} in {@code /proc/self/cgroup}), if it has one. */
    static Optional<String> ownCgroup(String procSelfCgroup) {
        return procSelfCgroup.lines().filter(l -> l.startsWith("0::")).map(l -> l.substring(3).trim()).findFirst();
    }

    /**
     * The base cgroup for {@code auto}: the agent's own cgroup, or {@code <mount>/spillway} when
     * that is the root (attempts are not put straight into the host's root cgroup).
     */
    static Path autoBase(Path mount, String own) {
        String rel = own.replaceFirst("^/+", "");
        if (rel.isEmpty() || own.contains("(deleted)")) return mount.resolve("spillway");
        return mount.resolve(rel);
    }

    /** {@code agent-<name>-<8 hex digits of the work directory's SHA-256>}, in characters a cgroup name may have. */
    static String agentCgroupName(String nodeName, Path workDir) {
        String safe = nodeName.replaceAll("[^A-Za-z0-9._-]", "_");
        if (safe.length() > 64) safe = safe.substring(0, 64);
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(workDir.toAbsolutePath().normalize().toString()
                    .getBytes(StandardCharsets.UTF_8));
            return "agent-" + safe + "-" + HexFormat.of().formatHex(digest, 0, 4);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // --- the OS ---

    /**
     * Creates the agent's cgroup as {@code setting} asks ({@code auto}, {@code none} or a path),
     * enabling the memory and cpu controllers for it where it can, and kills what an earlier run
     * of this agent left in it. Never throws: what cannot be done is said in {@link Opened#why}.
     */
    static Opened open(String setting, String nodeName, Path workDir) {
        if (setting.equals(NONE)) return new Opened(Optional.empty(), "--cgroup-root none");
        Path base;
        Path mount;
        try {
            Optional<Path> found = cgroup2Mount(Files.readString(Path.of("/proc/self/mountinfo")));
            if (found.isEmpty()) return new Opened(Optional.empty(), "no cgroup2 hierarchy is mounted (/proc/self/mountinfo)");
            mount = found.get();
            if (setting.equals(AUTO)) {
                Optional<String> own = ownCgroup(Files.readString(Path.of("/proc/self/cgroup")));
                if (own.isEmpty()) return new Opened(Optional.empty(), "this agent is in no cgroup v2 (/proc/self/cgroup)");
                base = autoBase(mount, own.get());
            } else {
                base = Path.of(setting).toAbsolutePath().normalize();
                if (!base.startsWith(mount)) {
                    return new Opened(Optional.empty(), "--cgroup-root " + setting + " is not under the cgroup2 mount " + mount);
                }
            }
        } catch (IOException e) {
            return new Opened(Optional.empty(), "cannot read /proc: " + e.getMessage());
        }
        Path agent = base.resolve(agentCgroupName(nodeName, workDir));
        try {
            Files.createDirectories(agent);
        } catch (IOException e) {
            return new Opened(Optional.empty(), "cannot create the cgroup " + agent + ": " + e);
        }
        if (!Files.exists(agent.resolve("cgroup.procs"))) {
            return new Opened(Optional.empty(), agent + " is not a cgroup (no cgroup.procs)");
        }
        // Enable the limit controllers from the base down to the agent's cgroup, each level that offers them (from the root
        // when the base is right under it); levels above the base are the system's and left alone.
        Path from = base.getParent() != null && base.getParent().equals(mount) ? mount : base;
        for (Path level = from; ; level = level.resolve(agent.getName(level.getNameCount()))) {
            Set<String> offered = Set.of(read(level.resolve("cgroup.controllers")).orElse("").trim().split("\\s+"));
            for (String c : LIMITED) {
                if (offered.contains(c)) write(level.resolve("cgroup.subtree_control"), "+" + c); // fails while level holds processes: fine
            }
            if (level.equals(agent)) break;
        }
        Set<String> enabled = Set.of(read(agent.resolve("cgroup.subtree_control")).orElse("").trim().split("\\s+"));
        AttemptCgroups cgroups = new AttemptCgroups(agent, enabled);
        cgroups.killLeftovers();
        return new Opened(Optional.of(cgroups), "");
    }

    /** Attempts' cgroups an earlier run of this agent left: their processes are killed and the cgroups removed. */
    private void killLeftovers() {
        try (Stream<Path> children = Files.list(agentCgroup)) {
            for (Path c : children.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)
                    && p.getFileName().toString().startsWith("attempt-")).toList()) {
                int killed = new Cgroup(c).killAndRemove();
                LOG.warning("killed " + killed + " process(es) left in " + c + " by an earlier run of this agent");
            }
        } catch (IOException e) {
            LOG.warning("cannot look for leftovers in " + agentCgroup + ": " + e.getMessage());
        }
    }

    /** Removes the agent's cgroup if no attempt's is left in it (the agent stops). */
    void close() {
        try {
            Files.deleteIfExists(agentCgroup);
        } catch (IOException stillInUse) {
            // an attempt's cgroup is still there: the next start kills what is in it
        }
    }

    /**
     * Creates the cgroup of attempt {@code id} (a leftover of the same name is emptied first), with
     * {@code resources} as its limits when they are enforced.
     */
    Cgroup create(AttemptId id, Resources resources) throws IOException {
        Cgroup cgroup = new Cgroup(agentCgroup.resolve("attempt-" + id.jobId() + "-" + id.taskIndex() + "-" + id.attempt()));
        if (Files.exists(cgroup.dir)) cgroup.killAndRemove();
        Files.createDirectory(cgroup.dir);
        if (limits.contains("memory") && resources.getMemoryMib() > 0) {
            Files.writeString(cgroup.dir.resolve("memory.max"), Long.toString(resources.getMemoryMib() * 1024 * 1024));
            write(cgroup.dir.resolve("memory.swap.max"), "0"); // the limit is on memory, not on memory plus swap
        }
        if (limits.contains("cpu") && resources.getCpuMillis() > 0) {
            long quota = Math.max(1000, resources.getCpuMillis() * (CPU_PERIOD_MICROS / 1000));
            Files.writeString(cgroup.dir.resolve("cpu.max"), quota + " " + CPU_PERIOD_MICROS);
        }
        return cgroup;
    }

    /** One attempt's cgroup. */
    static final class Cgroup {
        private final Path dir;

        Cgroup(Path dir) {
            this.dir = dir;
        }

        Path dir() {
            return dir;
        }

        /**
         * {@code command}, started so that its first process moves itself into this cgroup and
         * only then execs {@code command}: exit code 125 and a line on stderr if it cannot.
         */
        List<String> enter(List<String> command) {
            List<String> entering = new ArrayList<>(List.of("/bin/sh", "-c",
                    "echo $$ > \"$0\" || { echo \"spillway: cannot enter the attempt's cgroup $0\" >&2; exit 125; }; exec \"$@\"",
                    procs().toString()));
            entering.addAll(command);
            return entering;
        }

        /** The file a process writes its pid to to enter this cgroup. */
        Path procs() {
            return dir.resolve("cgroup.procs");
        }

        /** Live processes in the cgroup. */
        List<Long> pids() {
            return read(dir.resolve("cgroup.procs")).map(s -> s.lines().filter(l -> !l.isBlank()).map(Long::parseLong).toList())
                    .orElse(List.of());
        }

        /**
         * CPU time (ms) and resident memory (MiB) of the attempt: the CPU of every process that ran
         * in the cgroup so far ({@code usage_usec} of {@code cpu.stat}, which cgroup v2 keeps with or
         * without the cpu controller; else the sum over the processes in it now), and the sum of the
         * resident memory of the processes in it now. Reads only the attempt's own processes: walking
         * a process's descendants reads every process on the host, each time, for each attempt.
         */
        long[] usage() {
            List<Long> pids = pids();
            long cpu = cpuStatMillis().orElseGet(() -> pids.stream().mapToLong(ProcessTree::cpuMillis).sum());
            long rssKib = pids.stream().mapToLong(ProcessTree::rssKib).sum();
            return new long[] {cpu, rssKib / 1024};
        }

        private Optional<Long> cpuStatMillis() {
            return read(dir.resolve("cpu.stat")).flatMap(s -> s.lines().filter(l -> l.startsWith("usage_usec "))
                    .map(l -> Long.parseLong(l.substring("usage_usec ".length()).trim()) / 1000).findFirst());
        }

        /** SIGTERM to every process in the cgroup (the grace before {@link #killAndRemove}). */
        void terminate() {
            pids().forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy));
        }

        /**
         * SIGKILL to every process in the cgroup ({@code cgroup.kill}, or each pid of
         * {@code cgroup.procs} until none is left on kernels before 5.14), then removes it once empty.
         * Returns how many processes were in it.
         */
        int killAndRemove() {
            int found = pids().size();
            long deadline = System.nanoTime() + 10_000_000_000L;
            boolean killFile = Files.exists(dir.resolve("cgroup.kill"));
            while (System.nanoTime() < deadline) {
                List<Long> pids = pids();
                if (pids.isEmpty() && populated().equals(Optional.of(false)) || !Files.exists(dir)) break;
                if (killFile) write(dir.resolve("cgroup.kill"), "1");
                else pids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
                sleep(20);
            }
            while (System.nanoTime() < deadline) {
                try {
                    Files.deleteIfExists(dir);
                    return found;
                } catch (IOException busy) {
                    sleep(20); // EBUSY until the last killed process is gone
                }
            }
            LOG.warning("cannot remove " + dir + ": processes are still in it " + pids());
            return found;
        }

        private Optional<Boolean> populated() {
            return read(dir.resolve("cgroup.events")).flatMap(s -> s.lines().filter(l -> l.startsWith("populated "))
                    .map(l -> l.endsWith(" 1")).findFirst());
        }
    }

    private static Optional<String> read(Path file) {
        try {
            return Optional.of(Files.readString(file));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static boolean write(Path file, String value) {
        try {
            Files.writeString(file, value);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** mountinfo escapes blanks and backslashes as octal ({@code \040}). */
    private static String unescape(String field) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && i + 3 < field.length() && field.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
