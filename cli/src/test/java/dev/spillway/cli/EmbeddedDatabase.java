package dev.spillway.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The embedded PostgreSQL a broker of a {@link LocalCluster} runs, seen from outside: a separate
 * postgres process tree whose postmaster wrote its pid (line 1) and port (line 4) into
 * {@code <data-dir>/postgres/data/postmaster.pid}; the superuser's password is in
 * {@code <data-dir>/db-password}. The broker owns its lifecycle (starts it, stops it at exit), so
 * tests can freeze it, thaw it or kill it, but not restart it under a running broker.
 */
final class EmbeddedDatabase {

    private final Path dataDir;

    EmbeddedDatabase(Path spillwayDataDir) {
        this.dataDir = spillwayDataDir;
    }

    private List<String> pidFile() {
        try {
            return Files.readAllLines(dataDir.resolve("postgres/data/postmaster.pid"));
        } catch (IOException e) {
            throw new UncheckedIOException("no running embedded PostgreSQL under " + dataDir, e);
        }
    }

    long postmasterPid() {
        return Long.parseLong(pidFile().get(0).trim());
    }

    int port() {
        return Integer.parseInt(pidFile().get(3).trim());
    }

    /** The running server's value of {@code setting} (SHOW), read over a fresh JDBC connection as the superuser. */
    String show(String setting) throws SQLException, IOException {
        if (!setting.matches("[a-z_]+")) throw new IllegalArgumentException(setting);
        String password = Files.readString(dataDir.resolve("db-password")).strip();
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port() + "/postgres?connectTimeout=10", "postgres", password);
             Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SHOW " + setting)) {
            r.next();
            return r.getString(1);
        }
    }

    /** The postmaster and every backend and helper it forked, the postmaster first. */
    List<ProcessHandle> processes() {
        ProcessHandle postmaster = ProcessHandle.of(postmasterPid())
                .orElseThrow(() -> new IllegalStateException("the embedded PostgreSQL (pid " + postmasterPid() + ") is not running"));
        List<ProcessHandle> all = new ArrayList<>();
        all.add(postmaster);
        postmaster.descendants().forEach(all::add);
        return all;
    }

    /**
     * SIGSTOP to the whole server (postmaster first, so it forks nothing meanwhile): it neither
     * answers nor closes a connection, as a database host that stalls. Returns the processes stopped,
     * for {@link #thaw}.
     */
    List<ProcessHandle> freeze() {
        List<ProcessHandle> stopped = new ArrayList<>(processes().subList(0, 1));
        signal("STOP", stopped);
        List<ProcessHandle> children = stopped.get(0).descendants().toList();
        signal("STOP", children);
        stopped.addAll(children);
        return stopped;
    }

    /** Whether {@code p} is stopped by a signal (state T in /proc/<pid>/stat). */
    static boolean stopped(ProcessHandle p) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).startsWith("T");
        } catch (IOException gone) {
            return false;
        }
    }

    /** SIGCONT to what {@link #freeze} stopped (children first). */
    static void thaw(List<ProcessHandle> stopped) {
        List<ProcessHandle> reversed = new ArrayList<>(stopped);
        java.util.Collections.reverse(reversed);
        signal("CONT", reversed);
    }

    /**
     * SIGKILL to one backend serving a client over TCP (the broker's connections), as the kernel's
     * OOM killer picks one. PostgreSQL then ends every other connection, recovers from its WAL and
     * takes connections again by itself: a crash and restart of the server that its owner survives.
     * Returns the pid killed. Works on a frozen server too (SIGKILL ends a stopped process).
     */
    long killOneClientBackend() {
        ProcessHandle backend = processes().stream().skip(1)
                .filter(p -> cmdline(p).contains("127.0.0.1("))
                .findFirst().orElseThrow(() -> new IllegalStateException("no client backend of the embedded PostgreSQL"));
        backend.destroyForcibly(); // not awaited: under a frozen postmaster it stays a zombie until the thaw
        return backend.pid();
    }

    private static String cmdline(ProcessHandle p) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline")).replace('\0', ' ');
        } catch (IOException gone) {
            return "";
        }
    }

    /** SIGKILL to the whole server at once, as a machine losing power takes it (its postmaster.pid stays behind). */
    void kill() {
        List<ProcessHandle> all = processes();
        all.forEach(ProcessHandle::destroyForcibly);
        for (ProcessHandle p : all) {
            p.onExit().orTimeout(30, TimeUnit.SECONDS).join();
        }
    }

    private static void signal(String signal, List<ProcessHandle> processes) {
        if (processes.isEmpty()) return;
        List<String> cmd = new ArrayList<>(List.of("kill", "-" + signal));
        processes.forEach(p -> cmd.add(Long.toString(p.pid())));
        try {
            Process kill = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            if (!kill.waitFor(Duration.ofSeconds(10).toMillis(), TimeUnit.MILLISECONDS)) {
                kill.destroyForcibly();
                throw new IllegalStateException(String.join(" ", cmd) + " did not finish");
            }
            String out = new String(kill.getInputStream().readAllBytes());
            // A backend may exit between listing and signalling; anything else is a failure of the test's own.
            if (kill.exitValue() != 0 && !out.contains("No such process")) {
                throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while signalling the embedded PostgreSQL", e);
        }
    }
}
