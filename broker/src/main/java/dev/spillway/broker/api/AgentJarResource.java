package dev.spillway.broker.api;

import dev.spillway.broker.burst.AgentJar;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Response;
import java.nio.file.Files;

/**
 * Serves the agent jar to booting cloud instances (their boot script downloads it), so a cloud
 * pool needs no artifact store. The jar holds no secret; the join token travels separately. What is
 * served is the copy {@link AgentJar} hashed at start, so it always has the SHA-256 boot scripts check.
 */
@Path(AgentJarResource.PATH)
public class AgentJarResource {

    public static final String PATH = dev.spillway.broker.burst.CloudPools.AGENT_JAR_PATH;

    private final java.nio.file.Path jar;

    public AgentJarResource(AgentJar agentJar) {
        this.jar = agentJar.file().orElse(null);
    }

    @GET
    @Produces("application/java-archive")
    public Response get() {
        if (jar == null || !Files.isRegularFile(jar)) {
            return Response.status(404).type("application/problem+json")
                    .entity("{\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404,\"detail\":\"this broker has no agent jar to serve; "
                            + "set spillway.agent-jar\"}")
                    .build();
        }
        return Response.ok(jar.toFile()).header("Content-Disposition", "attachment; filename=spillway-agent.jar").build();
    }
}
