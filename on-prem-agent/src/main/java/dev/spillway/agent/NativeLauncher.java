package dev.spillway.agent;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The agent's one-exec launcher ({@code src/main/c/spillway-launch.c}, built into the jar where
 * the build had a C compiler): it enters the attempt's cgroup, starts a new session, drops the
 * agent's capabilities, switches to the task's user and enters the task's directory, then execs
 * the command; the same steps, in the same order, as the chain of {@code sh}, {@code setsid},
 * {@code setpriv} and {@code sh} it replaces ({@link Attempt#launch}), for one cheap exec instead
 * of four.
 *
 * <p>{@link #install} copies it out of the jar into {@code WORK_DIR/bin} (the agent's own
 * directory: tasks of another user cannot replace what the agent runs as root) and runs it once;
 * when it is absent, cannot be written or does not run on this host, the agent uses the chain.
 */
final class NativeLauncher {

    private static final Logger LOG = Logger.getLogger(NativeLauncher.class.getName());
    static final String NAME = "spillway-launch";

    private NativeLauncher() {
    }

    /** Where the launcher for this machine is in the jar, if this build has one. */
    static String resource(String osName, String osArch) {
        return "native/" + osName.toLowerCase(Locale.ROOT) + "-" + osArch + "/" + NAME;
    }

    /**
     * The launcher, written to {@code workDir/bin} and checked to run here; empty (and why, logged)
     * when this agent must use the chain of programs instead.
     */
    static Optional<Path> install(Path workDir) {
        String resource = resource(System.getProperty("os.name"), System.getProperty("os.arch"));
        try (InputStream in = NativeLauncher.class.getResourceAsStream(resource)) {
            if (in == null) {
                LOG.info("attempts start through sh, setsid and setpriv: this agent's jar has no " + NAME + " for this machine "
                        + "(the build had no C compiler)");
                return Optional.empty();
            }
            Path bin = workDir.resolve("bin");
            Files.createDirectories(bin);
            if (!Files.isDirectory(bin, LinkOption.NOFOLLOW_LINKS)) throw new IOException(bin + " is not a directory (a link?)");
            Files.setPosixFilePermissions(bin, PosixFilePermissions.fromString("rwxr-xr-x"));
            Path tmp = Files.createTempFile(bin, NAME, ".new");
            try {
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("r-xr-xr-x"));
                Path launcher = bin.resolve(NAME);
                Files.move(tmp, launcher, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                String why = check(launcher);
                if (why != null) {
                    LOG.warning("attempts start through sh, setsid and setpriv: " + launcher + " does not run here (" + why + ")");
                    return Optional.empty();
                }
                LOG.info("attempts start through " + launcher + " (one exec: cgroup, session, task user, directory)");
                return Optional.of(launcher);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warning("attempts start through sh, setsid and setpriv: cannot install " + NAME + " in " + workDir + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    /** Null when {@code launcher} runs a command here (a mount may forbid exec, or the binary may not suit the host); else why not. */
    private static String check(Path launcher) {
        try {
            Process p = new ProcessBuilder(launcher.toString(), "--new-session", "--", "true").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "it did not finish within 10 s";
            }
            return p.exitValue() == 0 ? null : "exit code " + p.exitValue() + (out.isEmpty() ? "" : ": " + out);
        } catch (IOException e) {
            return e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /**
     * The launcher's command line: its options for the steps asked for, then {@code command}.
     *
     * @param cgroupProcs the attempt's cgroup's {@code cgroup.procs}, or null
     * @param user        who the command runs as ({@link TaskUser#launcherOptions})
     * @param enterDir    a directory to enter after the user switch, or null
     */
    static List<String> command(Path launcher, Path cgroupProcs, boolean newSession, List<String> user, String enterDir, List<String> command) {
        List<String> c = new ArrayList<>();
        c.add(launcher.toString());
        if (cgroupProcs != null) c.addAll(List.of("--cgroup-procs", cgroupProcs.toString()));
        if (newSession) c.add("--new-session");
        c.addAll(user);
        if (enterDir != null) c.addAll(List.of("--chdir", enterDir));
        c.add("--");
        c.addAll(command);
        return c;
    }
}
