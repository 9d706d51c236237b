package dev.spillway.broker.api;

import dev.spillway.broker.config.BrokerConfig;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Response;
import java.nio.file.Files;
import java.nio.file.Paths;

/**
 * Serves the agent jar to booting cloud instances (their boot script downloads it), so a cloud
 * pool needs no artifact store. The jar holds no secret; the join token travels separately.
 */
@Path(AgentJarResource.PATH)
public class AgentJarResource {

    public static final String PATH = dev.spillway.broker.burst.CloudPools.AGENT_JAR_PATH;

    private final java.nio.file.Path jar;

    public AgentJarResource(BrokerConfig config) {
        this.jar = config.agentJar().map(Paths::get)
                .orElseGet(() -> Paths.get(config.home().orElse("."), "on-prem-agent", "target", "spillway-agent.jar"));
    }

    @GET
    @Produces("application/java-archive")
    public Response get() {
        if (!Files.isRegularFile(jar)) {
            return Response.status(404).type("application/problem+json")
                    .entity("{\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404,\"detail\":\"this broker has no agent jar to serve; "
                            + "set spillway.agent-jar\"}")
                    .build();
        }
        return Response.ok(jar.toFile()).header("Content-Disposition", "attachment; filename=spillway-agent.jar").build();
    }
}
