package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A broker and its agents never outlive the {@code spillway up} that started them, however that process ends. */
class UpParentIT {

    @Test
    void theBrokerAndItsAgentsStopWhenTheirUpIsKilled(@TempDir Path data) throws Exception {
        Path home = Path.of(System.getProperty("spillway.home", "..")).toAbsolutePath();
        String java = ProcessHandle.current().info().command().orElse("java");
        Path log = data.resolve("up.log");
        Process up = new ProcessBuilder(java, "-Dspillway.home=" + home, "-cp", System.getProperty("java.class.path"), Spillway.class.getName(),
                "up", "--agents", "1", "--port", String.valueOf(LocalCluster.freePort()), "--data", data.resolve("home").toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        List<ProcessHandle> children = List.of();
        try {
            await().atMost(Duration.ofMinutes(3)).until(() -> !up.isAlive() || Files.readString(log).contains("broker ready"));
            assertThat(up.isAlive()).as("up started its broker: %s", Files.readString(log)).isTrue();
            children = up.children().toList();
            assertThat(children).as("up's broker and agent").hasSize(2);
            // pg_ctl detaches the embedded PostgreSQL from the broker: its pid is in its data directory.
            long postmasterPid = Long.parseLong(Files.readAllLines(data.resolve("home/postgres/data/postmaster.pid")).get(0).trim());
            ProcessHandle database = ProcessHandle.of(postmasterPid).orElseThrow();

            up.destroyForcibly(); // SIGKILL: no shutdown hook runs
            List<ProcessHandle> started = children;
            await().atMost(Duration.ofMinutes(1)).untilAsserted(() -> assertThat(started).noneMatch(ProcessHandle::isAlive));
            await().atMost(Duration.ofSeconds(30)).until(() -> !database.isAlive());
        } finally {
            up.destroyForcibly();
            children.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
        }
    }
}
