package dev.spillway.agent;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A cloud's instance metadata service on loopback, for one instance: EC2 IMDSv2 (session token
 * required, {@code spot/instance-action} 404 until an interruption is announced) and Azure's
 * instance metadata and Scheduled Events ({@code Metadata: true} required; a {@code Preempt} event
 * once announced). Records what it was asked.
 */
public final class MetadataLoopbackServer implements AutoCloseable {

    private final HttpServer server;
    private final String vmName;
    private final String token = UUID.randomUUID().toString();
    private final List<String> requests = new CopyOnWriteArrayList<>();
    private volatile Instant interruptionAt;
    private volatile String otherVmEvent;

    public MetadataLoopbackServer(String vmName) throws IOException {
        this.vmName = vmName;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    /** From now on, the service announces that the machine goes away at {@code at}. */
    public void announceInterruption(Instant at) {
        interruptionAt = at;
    }

    /** A Preempt event for another VM (Azure lists the events of the whole availability set). */
    public void announceInterruptionOfAnotherVm(String name) {
        otherVmEvent = name;
    }

    public List<String> requests() {
        return List.copyOf(requests);
    }

    @Override
    public void close() {
        server.stop(0);
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            String method = exchange.getRequestMethod();
            requests.add(method + " " + exchange.getRequestURI());
            if (path.equals("/latest/api/token")) {
                String ttl = exchange.getRequestHeaders().getFirst("X-aws-ec2-metadata-token-ttl-seconds");
                if (!method.equals("PUT") || ttl == null) {
                    send(exchange, 400, "text/plain", "");
                } else {
                    send(exchange, 200, "text/plain", token);
                }
            } else if (path.startsWith("/latest/meta-data/")) {
                if (!token.equals(exchange.getRequestHeaders().getFirst("X-aws-ec2-metadata-token"))) {
                    send(exchange, 401, "text/plain", "");
                } else if (path.equals("/latest/meta-data/spot/instance-action") && interruptionAt != null) {
                    send(exchange, 200, "application/json", "{\"action\": \"terminate\", \"time\": \""
                            + DateTimeFormatter.ISO_INSTANT.format(interruptionAt.truncatedTo(java.time.temporal.ChronoUnit.SECONDS)) + "\"}");
                } else {
                    send(exchange, 404, "text/html", "<?xml version=\"1.0\"?><title>404 - Not Found</title>");
                }
            } else if (path.startsWith("/metadata/")) {
                if (!"true".equals(exchange.getRequestHeaders().getFirst("Metadata"))) {
                    send(exchange, 400, "application/json", "{\"error\": \"Bad request. Required metadata header not specified\"}");
                } else if (path.equals("/metadata/instance/compute/name")) {
                    send(exchange, 200, "text/plain", vmName);
                } else if (path.equals("/metadata/scheduledevents")) {
                    StringBuilder events = new StringBuilder();
                    if (otherVmEvent != null) events.append(event(otherVmEvent, Instant.now().plusSeconds(30)));
                    if (interruptionAt != null) {
                        if (events.length() > 0) events.append(',');
                        events.append(event(vmName, interruptionAt));
                    }
                    send(exchange, 200, "application/json", "{\"DocumentIncarnation\": " + (events.length() > 0 ? 2 : 1)
                            + ", \"Events\": [" + events + "]}");
                } else {
                    send(exchange, 404, "application/json", "{\"error\": \"Not found\"}");
                }
            } else {
                send(exchange, 404, "text/plain", "");
            }
        }
    }

    private static String event(String vm, Instant notBefore) {
        return "{\"EventId\": \"" + UUID.randomUUID() + "\", \"EventStatus\": \"Scheduled\", \"EventType\": \"Preempt\", "
                + "\"ResourceType\": \"VirtualMachine\", \"Resources\": [\"" + vm + "\"], \"NotBefore\": \""
                + DateTimeFormatter.RFC_1123_DATE_TIME.format(notBefore.atOffset(ZoneOffset.UTC)) + "\", \"Description\": \"\", "
                + "\"EventSource\": \"Platform\", \"DurationInSeconds\": -1}";
    }

    private static void send(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }
}
