import dev.spillway.api.v1.Job;
import dev.spillway.client.JobSpecs;
import dev.spillway.client.SpillwayClient;
import java.nio.file.Files;
import java.nio.file.Path;

public class Submit {
    public static void main(String[] args) throws Exception {
        Path home = Path.of(System.getProperty("user.home"), ".spillway");
        try (SpillwayClient spillway = SpillwayClient.builder().target(System.getenv().getOrDefault("SPILLWAY_BROKER", "127.0.0.1:7070"))
                .token(Files.readString(home.resolve("admin-key"))).trustCa(home.resolve("tls/ca.pem")).build()) {
            Job job = spillway.submit(JobSpecs.shell("echo hello from task $SPILLWAY_TASK_INDEX").name("hello-java").tasks(3).cpu("500m").build());
            spillway.watch(job.getName()).forEach(e -> System.out.println(e.getSequence() + " " + e.getMessage()));
            System.out.println(job.getUid() + " " + spillway.getJob(job.getName()).getState());
        }
    }
}
