package dev.spillway.agent;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Watches the cloud's instance metadata service for a spot interruption notice, so the agent can
 * drain before the machine goes away:
 * <ul>
 *   <li><b>aws</b>: EC2 IMDSv2: a session token ({@code PUT /latest/api/token}), then
 *       {@code GET /latest/meta-data/spot/instance-action}: 404 while nothing is planned, then
 *       {@code {"action":"terminate","time":"..."}} about two minutes ahead;</li>
 *   <li><b>azure</b>: Scheduled Events ({@code GET /metadata/scheduledevents}, header
 *       {@code Metadata: true}): a {@code Preempt} event for this VM with its {@code NotBefore}
 *       time, about 30 seconds ahead.</li>
 * </ul>
 * Polls every few seconds; reports the first notice once.
 */
final class InterruptionWatcher implements Runnable {

    private static final Logger LOG = Logger.getLogger(InterruptionWatcher.class.getName());
    private static final Pattern JSON_TIME = Pattern.compile("\"time\"\\s*:\\s*\"([^\"]+)\"");
    private static final Pattern JSON_ACTION = Pattern.compile("\"action\"\\s*:\\s*\"([^\"]+)\"");
    private static final Pattern EVENT = Pattern.compile("\\{[^{}]*\"EventType\"\\s*:\\s*\"Preempt\"[^{}]*}");
    private static final Pattern NOT_BEFORE = Pattern.compile("\"NotBefore\"\\s*:\\s*\"([^\"]*)\"");
    private static final Pattern RESOURCES = Pattern.compile("\"Resources\"\\s*:\\s*\\[([^]]*)]");

    /** A notice: the machine goes away at {@code at} (best known), for {@code why}. */
    record Notice(String why, Instant at) {
    }

    enum Cloud { AWS, AZURE }

    private final Cloud cloud;
    private final URI endpoint;
    private final Duration every;
    private final Consumer<Notice> onNotice;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private String awsToken;
    private Instant awsTokenExpires = Instant.EPOCH;
    private String azureVmName;

    InterruptionWatcher(Cloud cloud, URI endpoint, Duration every, Consumer<Notice> onNotice) {
        this.cloud = cloud;
        this.endpoint = endpoint;
        this.every = every;
        this.onNotice = onNotice;
    }

    @Override
    public void run() {
        boolean warned = false;
        while (!Thread.currentThread().isInterrupted()) {
            try {
                Optional<Notice> notice = poll();
                if (notice.isPresent()) {
                    onNotice.accept(notice.get());
                    return;
                }
                warned = false;
            } catch (IOException e) {
                if (!warned) LOG.warning("spot watch: the metadata service did not answer (" + e.getMessage() + "); still trying");
                warned = true;
            } catch (InterruptedException e) {
                return;
            }
            try {
                Thread.sleep(every.toMillis());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** One look at the metadata service. */
    Optional<Notice> poll() throws IOException, InterruptedException {
        return cloud == Cloud.AWS ? pollAws() : pollAzure();
    }

    private Optional<Notice> pollAws() throws IOException, InterruptedException {
        if (awsToken == null || Instant.now().isAfter(awsTokenExpires)) {
            HttpResponse<String> token = http.send(HttpRequest.newBuilder(endpoint.resolve("/latest/api/token"))
                    .timeout(Duration.ofSeconds(2))
                    .header("X-aws-ec2-metadata-token-ttl-seconds", "21600")
                    .PUT(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            if (token.statusCode() != 200) throw new IOException("IMDSv2 token: HTTP " + token.statusCode());
            awsToken = token.body().trim();
            awsTokenExpires = Instant.now().plus(Duration.ofHours(5));
        }
        HttpResponse<String> action = http.send(HttpRequest.newBuilder(endpoint.resolve("/latest/meta-data/spot/instance-action"))
                .timeout(Duration.ofSeconds(2))
                .header("X-aws-ec2-metadata-token", awsToken).GET().build(), HttpResponse.BodyHandlers.ofString());
        if (action.statusCode() == 404) return Optional.empty();
        if (action.statusCode() == 401) {
            awsToken = null; // expired: a new one next time
            return Optional.empty();
        }
        if (action.statusCode() != 200) throw new IOException("spot/instance-action: HTTP " + action.statusCode());
        String what = find(JSON_ACTION, action.body()).orElse("terminate");
        Instant at = find(JSON_TIME, action.body()).flatMap(InterruptionWatcher::instant).orElse(Instant.now().plusSeconds(120));
        return Optional.of(new Notice("EC2 spot interruption (" + what + ")", at));
    }

    private Optional<Notice> pollAzure() throws IOException, InterruptedException {
        if (azureVmName == null) azureVmName = azureName();
        HttpResponse<String> events = http.send(HttpRequest.newBuilder(endpoint.resolve("/metadata/scheduledevents?api-version=2020-07-01"))
                .timeout(Duration.ofSeconds(2))
                .header("Metadata", "true").GET().build(), HttpResponse.BodyHandlers.ofString());
        if (events.statusCode() != 200) throw new IOException("scheduled events: HTTP " + events.statusCode());
        Matcher m = EVENT.matcher(events.body());
        while (m.find()) {
            String event = m.group();
            String resources = find(RESOURCES, event).orElse("");
            if (!azureVmName.isEmpty() && !resources.isBlank() && !resources.contains("\"" + azureVmName + "\"")) continue;
            Instant at = find(NOT_BEFORE, event).flatMap(InterruptionWatcher::instant).orElse(Instant.now().plusSeconds(30));
            return Optional.of(new Notice("Azure spot eviction (Preempt scheduled event)", at));
        }
        return Optional.empty();
    }

    /** This VM's name from the instance metadata; empty (every Preempt counts) if it cannot be read. */
    private String azureName() throws InterruptedException {
        try {
            HttpResponse<String> name = http.send(HttpRequest.newBuilder(
                            endpoint.resolve("/metadata/instance/compute/name?api-version=2021-02-01&format=text"))
                    .timeout(Duration.ofSeconds(2)).header("Metadata", "true").GET().build(), HttpResponse.BodyHandlers.ofString());
            return name.statusCode() == 200 ? name.body().trim() : "";
        } catch (IOException e) {
            return "";
        }
    }

    private static Optional<String> find(Pattern p, String text) {
        Matcher m = p.matcher(text);
        return m.find() ? Optional.of(m.group(1)) : Optional.empty();
    }

    /** ISO-8601 (EC2) or RFC 1123 (Azure's NotBefore); empty when blank or unreadable. */
    static Optional<Instant> instant(String text) {
        if (text == null || text.isBlank()) return Optional.empty();
        try {
            return Optional.of(Instant.parse(text));
        } catch (DateTimeParseException notIso) {
            try {
                return Optional.of(ZonedDateTime.parse(text, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
            } catch (DateTimeParseException unreadable) {
                return Optional.empty();
            }
        }
    }
}
