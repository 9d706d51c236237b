package dev.spillway.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.AccessServiceGrpc;
import dev.spillway.api.v1.CreateApiKeyRequest;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.RevokeApiKeyRequest;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.broker.api.console.ConsoleCosts;
import dev.spillway.broker.api.console.ConsoleJobs;
import dev.spillway.broker.api.console.ConsoleOverview;
import dev.spillway.broker.api.console.ConsolePolicies;
import dev.spillway.broker.api.console.ConsoleSignIn;
import dev.spillway.broker.security.ApiKeys;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import jakarta.ws.rs.FormParam;
import jakarta.ws.rs.POST;
import java.lang.reflect.Method;
import java.net.URI;
import java.net.URL;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The console's doors, tried over HTTP against the broker on embedded PostgreSQL: no page without
 * a session, a session cookie that cannot be read or altered, forms refused without the session's
 * token or from another origin, and another tenant's job not found, whatever the page or form.
 * After every refused form the job is as it was.
 */
@QuarkusTest
class ConsoleAccessTest {

    private static final Pattern CSRF = Pattern.compile("name=\"_csrf\" value=\"([^\"]+)\"");

    @TestHTTPResource
    URL url;

    @Inject
    ApiKeys keys;

    private final HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
    private final List<ManagedChannel> opened = new ArrayList<>();

    @AfterEach
    void close() {
        opened.forEach(ManagedChannel::shutdownNow);
    }

    @Test
    void withoutASessionEveryPageSendsToSignInAndNoFormIsTaken() throws Exception {
        String job = submit(TestCallers.key(keys, "console-a", Role.SUBMITTER));

        HttpResponse<String> page = send(get("/console/jobs?state=queued"));
        assertThat(page.statusCode()).isEqualTo(303);
        assertThat(page.headers().firstValue("Location")).hasValue("/console/login?next=%2Fconsole%2Fjobs%3Fstate%3Dqueued");

        HttpResponse<String> partial = send(get("/console/overview/live").header("HX-Request", "true"));
        assertThat(partial.statusCode()).isEqualTo(401);
        assertThat(partial.headers().firstValue("HX-Redirect")).hasValueSatisfying(v -> assertThat(v).startsWith("/console/login"));

        HttpResponse<String> cancel = send(post("/console/jobs/" + job + "/cancel", "_csrf=anything").header("Origin", origin()));
        assertThat(cancel.statusCode()).isEqualTo(303);
        assertThat(state(job)).isEqualTo(JobState.JOB_STATE_QUEUED);
    }

    @Test
    void signingInTakesAValidKeyFromTheFormItselfAndSetsAGuardedCookie() throws Exception {
        String key = TestCallers.key(keys, "console-a", Role.VIEWER);
        Form form = loginForm();

        // Without the form's own cookie (a form posted from elsewhere), or with a key that is not one: refused.
        assertThat(send(post("/console/login", "key=" + key + "&_csrf=" + form.nonce).header("Origin", origin())).statusCode()).isEqualTo(403);
        HttpResponse<String> wrong = send(post("/console/login", "key=spw_nonsense&_csrf=" + form.nonce).header("Origin", origin())
                .header("Cookie", form.cookie));
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(wrong.body()).contains("That key is not valid").doesNotContain("spw_nonsense");

        // Never sent back to another site after signing in.
        form = loginForm();
        HttpResponse<String> in = send(post("/console/login", "key=" + enc(key) + "&_csrf=" + form.nonce + "&next=" + enc("//evil.example/steal"))
                .header("Origin", origin()).header("Cookie", form.cookie));
        assertThat(in.statusCode()).isEqualTo(303);
        assertThat(in.headers().firstValue("Location")).hasValue(origin() + "/console/");
        String setCookie = in.headers().allValues("Set-Cookie").stream().filter(c -> c.startsWith("spillway_console=")).findFirst().orElseThrow();
        assertThat(setCookie).containsIgnoringCase("HttpOnly").contains("SameSite=Strict").contains("Path=/console").doesNotContain(key);

        HttpResponse<String> overview = send(get("/console/").header("Cookie", cookieOf(setCookie)));
        assertThat(overview.statusCode()).isEqualTo(200);
        assertThat(overview.headers().firstValue("Content-Security-Policy")).hasValueSatisfying(v -> assertThat(v).contains("script-src 'self'")
                .contains("frame-ancestors 'none'"));
        assertThat(overview.headers().firstValue("Cache-Control")).hasValue("no-store");
        assertThat(overview.body()).contains("console-a").doesNotContain(key);
    }

    @Test
    void anAlteredSessionIsNoSession() throws Exception {
        String session = signIn(TestCallers.key(keys, "console-a", Role.VIEWER));
        char[] altered = session.toCharArray();
        int i = altered.length - 5;
        altered[i] = altered[i] == 'A' ? 'B' : 'A';
        HttpResponse<String> page = send(get("/console/").header("Cookie", new String(altered)));
        assertThat(page.statusCode()).isEqualTo(303);
    }

    @Test
    void aFormNeedsTheSessionsTokenAndThisOrigin() throws Exception {
        String key = TestCallers.key(keys, "console-a", Role.SUBMITTER);
        String job = submit(key);
        String session = signIn(key);
        String token = csrf(send(get("/console/jobs/" + job).header("Cookie", session)).body());

        assertThat(send(post("/console/jobs/" + job + "/cancel", "_csrf=" + token).header("Cookie", session)).statusCode())
                .as("no Origin nor Referer").isEqualTo(403);
        assertThat(send(post("/console/jobs/" + job + "/cancel", "_csrf=" + token).header("Cookie", session).header("Origin", "https://evil.example"))
                .statusCode()).as("another origin").isEqualTo(403);
        assertThat(send(post("/console/jobs/" + job + "/cancel", "_csrf=not-the-token").header("Cookie", session).header("Origin", origin()))
                .statusCode()).as("another token").isEqualTo(403);
        assertThat(state(job)).isEqualTo(JobState.JOB_STATE_QUEUED);

        HttpResponse<String> cancelled = send(post("/console/jobs/" + job + "/cancel", "_csrf=" + token).header("Cookie", session)
                .header("Origin", origin()));
        assertThat(cancelled.statusCode()).isEqualTo(303);
        assertThat(state(job)).isEqualTo(JobState.JOB_STATE_CANCELLED);
    }

    @Test
    void anotherTenantsJobIsNotFoundAndARoleThatMayNotCancelCannot() throws Exception {
        String job = submit(TestCallers.key(keys, "console-a", Role.SUBMITTER));

        String other = signIn(TestCallers.key(keys, "console-b", Role.SUBMITTER));
        HttpResponse<String> page = send(get("/console/jobs/" + job).header("Cookie", other));
        assertThat(page.statusCode()).isEqualTo(404);
        assertThat(page.body()).contains("Not found").doesNotContain("console-a");
        String otherToken = csrf(send(get("/console/").header("Cookie", other)).body());
        assertThat(send(post("/console/jobs/" + job + "/cancel", "_csrf=" + otherToken).header("Cookie", other).header("Origin", origin()))
                .statusCode()).isEqualTo(404);
        assertThat(send(get("/console/jobs/" + job + "/tasks/0/log").header("Cookie", other)).statusCode()).isEqualTo(404);
        assertThat(send(get("/console/jobs").header("Cookie", other)).body()).doesNotContain(job);

        String viewer = signIn(TestCallers.key(keys, "console-a", Role.VIEWER));
        String viewerToken = csrf(send(get("/console/").header("Cookie", viewer)).body());
        HttpResponse<String> refused = send(post("/console/jobs/" + job + "/cancel", "_csrf=" + viewerToken).header("Cookie", viewer).header("Origin", origin()));
        assertThat(refused.statusCode()).isEqualTo(403);
        assertThat(refused.body()).contains("Not allowed");
        assertThat(state(job)).isEqualTo(JobState.JOB_STATE_QUEUED);

        // The costs and policies pages are the API's to refuse: a viewer reads its own costs, never the policy versions.
        assertThat(send(get("/console/policies").header("Cookie", viewer)).statusCode()).isEqualTo(403);
    }

    @Test
    void aRevokedKeyEndsItsSessionsAtTheNextPage() throws Exception {
        ManagedChannel admin = channel(TestCallers.key(keys, "default", Role.ADMIN));
        var created = AccessServiceGrpc.newBlockingStub(admin).createApiKey(CreateApiKeyRequest.newBuilder().setTenant("console-a").setRole("viewer").build());
        String session = signIn(created.getSecret());
        assertThat(send(get("/console/").header("Cookie", session)).statusCode()).isEqualTo(200);

        AccessServiceGrpc.newBlockingStub(admin).revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(created.getKey().getName()).build());

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            HttpResponse<String> page = send(get("/console/").header("Cookie", session));
            assertThat(page.statusCode()).isEqualTo(303);
            assertThat(page.headers().firstValue("Location")).hasValueSatisfying(l -> assertThat(l).startsWith(origin() + "/console/login"));
        });
    }

    @Test
    void everyFormButSignInTakesTheSessionsToken() {
        List<String> unguarded = new ArrayList<>();
        int forms = 0;
        for (Class<?> pages : List.of(ConsoleOverview.class, ConsoleJobs.class, ConsoleCosts.class, ConsolePolicies.class)) {
            for (Method m : pages.getDeclaredMethods()) {
                if (!m.isAnnotationPresent(POST.class)) continue;
                forms++;
                boolean takesToken = Arrays.stream(m.getParameters()).map(p -> p.getAnnotation(FormParam.class))
                        .anyMatch(f -> f != null && f.value().equals("_csrf"));
                if (!takesToken) unguarded.add(pages.getSimpleName() + "." + m.getName());
            }
        }
        assertThat(unguarded).isEmpty();
        assertThat(forms).isGreaterThanOrEqualTo(3);
        // Signing in takes no session token (there is no session yet): its form carries a token of its own.
        assertThat(Arrays.stream(ConsoleSignIn.class.getDeclaredMethods()).filter(m -> m.isAnnotationPresent(POST.class)))
                .allSatisfy(m -> assertThat(m.getParameters()).anyMatch(p -> p.isAnnotationPresent(FormParam.class)
                        && p.getAnnotation(FormParam.class).value().equals("_csrf")));
    }

    // ---- helpers ----

    private record Form(String nonce, String cookie) {
    }

    private Form loginForm() throws Exception {
        HttpResponse<String> form = send(get("/console/login"));
        String cookie = form.headers().allValues("Set-Cookie").stream().filter(c -> c.startsWith("spillway_console_login=")).findFirst().orElseThrow();
        return new Form(csrf(form.body()), cookieOf(cookie));
    }

    /** Signs in with {@code key}; the session cookie ({@code name=value}). */
    private String signIn(String key) throws Exception {
        Form form = loginForm();
        HttpResponse<String> in = send(post("/console/login", "key=" + enc(key) + "&_csrf=" + form.nonce).header("Origin", origin()).header("Cookie", form.cookie));
        assertThat(in.statusCode()).as(in.body()).isEqualTo(303);
        return cookieOf(in.headers().allValues("Set-Cookie").stream().filter(c -> c.startsWith("spillway_console=")).findFirst().orElseThrow());
    }

    private static String cookieOf(String setCookie) {
        return setCookie.substring(0, setCookie.indexOf(';'));
    }

    private static String csrf(String html) {
        Matcher m = CSRF.matcher(html);
        assertThat(m.find()).as("a form with a token in:\n%s", html).isTrue();
        return m.group(1);
    }

    private String submit(String key) {
        return JobServiceGrpc.newBlockingStub(channel(key)).submitJob(SubmitJobRequest.newBuilder().setSpec(JobApiTest.valid()).build()).getUid();
    }

    private JobState state(String job) {
        return JobServiceGrpc.newBlockingStub(channel(TestCallers.key(keys, "default", Role.ADMIN))).getJob(GetJobRequest.newBuilder().setName(job).build())
                .getState();
    }

    private ManagedChannel channel(String key) {
        ManagedChannel c = TestCallers.channel(url, key);
        opened.add(c);
        return c;
    }

    private String origin() {
        return "http://" + url.getHost() + ":" + url.getPort();
    }

    private HttpRequest.Builder get(String path) {
        return HttpRequest.newBuilder(URI.create(origin() + path));
    }

    private HttpRequest.Builder post(String path, String form) {
        return HttpRequest.newBuilder(URI.create(origin() + path)).header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form));
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return http.send(request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
