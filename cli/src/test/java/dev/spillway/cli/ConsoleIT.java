package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.api.v1.AccessServiceGrpc;
import dev.spillway.api.v1.CreateApiKeyRequest;
import dev.spillway.api.v1.JobSpec;
import dev.spillway.client.SpillwayClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web console in a real browser (Debian's Chromium, headless, driven by Selenium) against a
 * real broker with an on-prem agent and the local cloud: signing in, a job appearing and
 * finishing, its explanation, a burst seen on the overview as instances join and leave, and a
 * tenant refused another tenant's job. Each page is saved as a screenshot under
 * {@code target/screenshots}; with {@code -Dspillway.docs.screenshots=true} also under
 * {@code docs/} for the README.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleIT {

    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");

    private ClusterFixture fx;
    private WebDriver browser;
    private String base;
    private String alphaKey;
    private String betaKey;
    private String alphaJob;

    @BeforeAll
    void start() throws IOException {
        Assumptions.assumeTrue(Files.isExecutable(CHROMEDRIVER) && Files.isExecutable(CHROMIUM),
                "Debian's chromium and chromium-driver are not installed (.ci/run installs them)");
        fx = new ClusterFixture("console", 1, "20s", o -> {
            ClusterFixture.withLocalCloud(o, 2, "3s");
            o.brokerProperties.put("spillway.pools.aws-eu.burst-after", "1s");
            o.brokerProperties.put("spillway.console.refresh-interval", "500ms");
            o.brokerProperties.put("spillway.cost.rate-card.usd-per-cpu-hour", "0.05");
        });
        var access = AccessServiceGrpc.newBlockingStub(fx.channel);
        alphaKey = access.createApiKey(CreateApiKeyRequest.newBuilder().setTenant("alpha").setRole("submitter").setDisplayName("alpha ci").build()).getSecret();
        betaKey = access.createApiKey(CreateApiKeyRequest.newBuilder().setTenant("beta").setRole("submitter").setDisplayName("beta ci").build()).getSecret();
        base = "https://" + fx.cluster.brokerAddress();

        // Selenium Manager must never download anything: the driver and the browser are Debian's.
        System.setProperty("SE_OFFLINE", "true");
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile())
                .addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1440,1000",
                        "--user-data-dir=" + Files.createTempDirectory(Path.of("target"), "chromium-").toAbsolutePath());
        // The broker's certificate is signed by the CA it made in its data directory, which this browser profile does not know.
        options.setAcceptInsecureCerts(true);
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        browser.manage().window().setSize(new Dimension(1440, 1000));
        browser.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30));
    }

    @AfterAll
    void stop() {
        if (browser != null) browser.quit();
        if (fx != null) fx.close();
    }

    @Test
    @Order(1)
    void aWrongKeyIsRefusedAndTheRightOneSignsIn() {
        browser.get(base + "/console/jobs");
        assertThat(browser.getCurrentUrl()).contains("/console/login");

        signIn("spw_not-a-key-of-this-broker-at-all-000000000000");
        assertThat(text(By.id("login-error"))).contains("not valid");

        signIn(alphaKey);
        // Back where the browser was going, as alpha.
        await().atMost(Duration.ofSeconds(10)).until(() -> browser.getCurrentUrl().endsWith("/console/jobs"));
        assertThat(text(By.className("who"))).containsIgnoringCase("submitter").contains("alpha");
    }

    @Test
    @Order(2)
    void aSubmittedJobAppearsFinishesAndIsExplained() throws IOException {
        try (SpillwayClient alpha = client(alphaKey)) {
            JobSpec hello = ClusterFixture.shellJob(3, 500, "echo \"console task $SPILLWAY_TASK_INDEX\"; sleep 1");
            alphaJob = alpha.submit(hello.toBuilder().setName("console-hello").putLabels("team", "console").setTask(hello.getTask().toBuilder()
                    .setMaxRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(60))
                    .setExpectedRuntime(com.google.protobuf.Duration.newBuilder().setSeconds(2))).build()).getUid();
        }
        browser.get(base + "/console/jobs");
        assertThat(browser.findElement(By.cssSelector("tr[data-job='" + alphaJob + "']")).getText()).contains("console-hello");
        screenshot("console-jobs");

        follow(By.cssSelector("tr[data-job='" + alphaJob + "'] a"));
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).until(() -> {
            browser.navigate().refresh();
            return text(By.id("job-state")).equals("succeeded");
        });
        assertThat(text(By.id("explain"))).contains("succeeded on agent-1: exited with code 0");
        assertThat(browser.findElements(By.cssSelector("#tasks tr[data-task]"))).hasSize(3);
        assertThat(text(By.id("decisions"))).contains("agent-1");
        assertThat(browser.findElement(By.id("job-cost")).getAttribute("data-micros")).isNotNull();
        // The quote it was admitted with, as the API keeps it, beside what it cost.
        try (SpillwayClient alpha = client(alphaKey)) {
            var kept = alpha.getJob(alphaJob).getQuote();
            WebElement quoted = browser.findElement(By.id("job-quote"));
            assertThat(Long.parseLong(quoted.getAttribute("data-bound-micros"))).isEqualTo(dev.spillway.api.Usd.micros(kept.getNotToExceedCost())).isPositive();
            assertThat(Long.parseLong(quoted.getAttribute("data-expected-micros"))).isEqualTo(dev.spillway.api.Usd.micros(kept.getExpectedCost())).isPositive();
            assertThat(quoted.getText()).contains("expected " + CostCommands.Cost.usd(kept.getExpectedCost()));
        }
        // The quote is asked for when wanted (it places the spec on the cluster as it is now).
        browser.findElement(By.cssSelector("#quote button")).click();
        await().atMost(Duration.ofSeconds(10)).until(() -> text(By.id("quote")).contains("not to exceed"));
        screenshot("console-job");

        follow(By.cssSelector("#tasks tr[data-task='2'] a"));
        assertThat(text(By.id("log"))).contains("console task 2");
    }

    @Test
    @Order(3)
    void anotherTenantCannotOpenTheJobByItsAddress() {
        signOut();
        browser.get(base + "/console/jobs/" + alphaJob);
        signIn(betaKey);
        await().atMost(Duration.ofSeconds(10)).until(() -> browser.getCurrentUrl().endsWith("/console/jobs/" + alphaJob));
        assertThat(text(By.tagName("h1"))).isEqualTo("Not found");
        assertThat(browser.getPageSource()).doesNotContain("console-hello");

        browser.get(base + "/console/jobs");
        assertThat(browser.findElements(By.cssSelector("tr[data-job='" + alphaJob + "']"))).isEmpty();
    }

    @Test
    @Order(4)
    void theOverviewShowsABurstComeAndGo() throws IOException {
        signOut();
        browser.get(base + "/console/");
        signIn(Files.readString(fx.cluster.dataDir().resolve("admin-key")).trim());
        await().atMost(Duration.ofSeconds(10)).until(() -> !browser.findElements(By.cssSelector("tr[data-pool='onprem']")).isEmpty());

        // More than the one 2-CPU agent holds: the rest bursts to the local cloud.
        JobSpec spec = ClusterFixture.shellJob(6, 1000, "sleep 6");
        String id = fx.submit(spec.toBuilder().setTask(spec.getTask().toBuilder().setSpotTolerant(true)).build());

        // The page is not reloaded: its live part updates itself.
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(250)).until(() -> instanceStates().contains("joined"));
        assertThat(browser.getPageSource()).contains("data-pool=\"aws-eu\"");
        screenshot("console-overview");

        fx.awaitFinished(id, Duration.ofSeconds(120));
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(250)).until(() -> {
            List<String> states = instanceStates();
            return !states.isEmpty() && states.stream().allMatch("terminated"::equals);
        });

        // The job's page says which instances its tasks ran on and why each was bought.
        browser.get(base + "/console/jobs/" + id);
        assertThat(text(By.id("bursts"))).contains("aws-eu");
    }

    @Test
    @Order(5)
    void theCostsPageAddsUpToTheApiAndDrawsItsCharts() throws IOException {
        dev.spillway.api.v1.BudgetServiceGrpc.newBlockingStub(fx.channel).setBudget(dev.spillway.api.v1.SetBudgetRequest.newBuilder()
                .setBudget(dev.spillway.api.v1.Budget.newBuilder().setName("alpha-monthly").setTenant("alpha").setLimit(dev.spillway.api.Usd.of(5)))
                .build());
        browser.get(base + "/console/costs?range=24h&by=pool");
        WebElement totals = browser.findElement(By.id("totals"));
        var report = dev.spillway.api.v1.CostServiceGrpc.newBlockingStub(fx.channel).getCostReport(dev.spillway.api.v1.GetCostReportRequest.newBuilder()
                .setGroupBy("pool").setStartTime(timestamp(totals.getAttribute("data-start"))).setEndTime(timestamp(totals.getAttribute("data-end"))).build());

        assertThat(micros(By.id("total-cloud"))).isEqualTo(dev.spillway.api.Usd.micros(report.getTotal().getCloudCost())).isPositive();
        assertThat(micros(By.id("total-onprem"))).isEqualTo(dev.spillway.api.Usd.micros(report.getTotal().getOnPremCost())).isPositive();
        assertThat(micros(By.id("total-idle"))).isEqualTo(dev.spillway.api.Usd.micros(report.getTotal().getIdleCost()));
        assertThat(browser.findElements(By.cssSelector("#groups tr[data-group]"))).hasSize(report.getGroupsCount());
        // The spend charts and the budget's burn-down are drawn (uPlot canvases).
        await().atMost(Duration.ofSeconds(10)).until(() -> browser.findElements(By.cssSelector(".chart canvas")).size() >= 2);
        assertThat(browser.findElements(By.cssSelector("[data-budget='alpha-monthly'] canvas"))).isNotEmpty();
        screenshot("console-costs");
    }

    @Test
    @Order(6)
    void policyVersionsShowTheirDiffAndAWhatIfComparesACandidate() throws IOException {
        var policies = dev.spillway.api.v1.PolicyServiceGrpc.newBlockingStub(fx.channel);
        String admission = Files.readString(Path.of(System.getProperty("spillway.home", "..")).resolve("examples/policies/admission.yaml"));
        policies.applyPolicies(dev.spillway.api.v1.ApplyPoliciesRequest.newBuilder().setComment("starter set")
                .addFiles(dev.spillway.api.v1.PolicyFile.newBuilder().setName("admission.yaml").setText(admission)).build());
        policies.applyPolicies(dev.spillway.api.v1.ApplyPoliciesRequest.newBuilder().setComment("big jobs denied")
                .addFiles(dev.spillway.api.v1.PolicyFile.newBuilder().setName("admission.yaml").setText(admission.replace("action: Audit", "action: Deny"))).build());

        browser.get(base + "/console/policies");
        assertThat(browser.findElements(By.cssSelector("#versions tr[data-version]"))).hasSize(2);
        assertThat(text(By.cssSelector("#versions tr[data-version='2']"))).contains("in force").contains("big jobs denied");
        follow(By.cssSelector("#versions tr[data-version='2'] a"));
        assertThat(text(By.id("diff"))).contains("-      action: Audit").contains("+      action: Deny");
        screenshot("console-policy-version");

        // A candidate that does not compile is refused with where it is wrong; nothing is replayed.
        browser.get(base + "/console/policies");
        candidate(text -> text + "# --- file: broken.yaml ---\napiVersion: spillway.dev/v1\nkind: Policy\nmetadata:\n  name: broken\nspec:\n"
                + "  admission:\n    - name: broken\n      match: 'job.tenant =='\n      message: '\"x\"'\n      action: Deny\n");
        assertThat(text(By.id("problems"))).contains("files[broken.yaml]");
        assertThat(browser.findElements(By.id("whatif-result"))).isEmpty();

        // One that refuses tenant alpha: the replay of the recorded jobs shows alpha's refused beside the set in force.
        browser.get(base + "/console/policies");
        candidate(text -> text + "# --- file: pause-alpha.yaml ---\napiVersion: spillway.dev/v1\nkind: Policy\nmetadata:\n  name: pause-alpha\nspec:\n"
                + "  admission:\n    - name: pause-alpha\n      match: job.tenant == \"alpha\"\n      message: '\"alpha is paused\"'\n      action: Deny\n");
        await().atMost(Duration.ofSeconds(60)).until(() -> !browser.findElements(By.id("whatif-result")).isEmpty());
        WebElement refused = browser.findElement(By.xpath("//div[@id='whatif-result']//tr[th='Jobs refused']"));
        List<WebElement> cells = refused.findElements(By.tagName("td"));
        assertThat(Integer.parseInt(cells.get(1).getText())).isGreaterThan(Integer.parseInt(cells.get(0).getText()));
        screenshot("console-policies");
    }

    /** Edits the what-if form's candidate and runs it. */
    private void candidate(java.util.function.UnaryOperator<String> edit) {
        WebElement area = browser.findElement(By.id("candidate"));
        String text = edit.apply(area.getAttribute("value"));
        ((JavascriptExecutor) browser).executeScript("arguments[0].value = arguments[1];", area, text);
        follow(By.cssSelector("#whatif-form button[type='submit']"));
    }

    private long micros(By by) {
        return Long.parseLong(browser.findElement(by).getAttribute("data-micros"));
    }

    private static com.google.protobuf.Timestamp timestamp(String iso) {
        java.time.Instant t = java.time.Instant.parse(iso);
        return com.google.protobuf.Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }

    /** The states of the overview's instance rows, read at once (the live part is swapped under the test's feet). */
    @SuppressWarnings("unchecked")
    private List<String> instanceStates() {
        return (List<String>) ((JavascriptExecutor) browser).executeScript(
                "return Array.from(document.querySelectorAll('#instances tr[data-state]')).map(r => r.dataset.state)");
    }

    private void signIn(String key) {
        await().atMost(Duration.ofSeconds(10)).until(() -> !browser.findElements(By.id("key")).isEmpty());
        WebElement field = browser.findElement(By.id("key"));
        field.clear();
        field.sendKeys(key);
        follow(By.cssSelector("form button[type='submit']"));
    }

    private void signOut() {
        browser.get(base + "/console/");
        follow(By.cssSelector("form[action='/console/logout'] button"));
        await().atMost(Duration.ofSeconds(10)).until(() -> browser.getCurrentUrl().contains("/console/login"));
    }

    /**
     * Clicks what leads to another page and waits until the browser has left this one: a click returns as soon as it is
     * dispatched, and reading the next page before it replaced this one reads this one.
     */
    private void follow(By by) {
        WebElement page = browser.findElement(By.tagName("html"));
        browser.findElement(by).click();
        new WebDriverWait(browser, Duration.ofSeconds(60)).until(ExpectedConditions.stalenessOf(page));
        await().atMost(Duration.ofSeconds(60)).until(() -> "complete".equals(((JavascriptExecutor) browser).executeScript("return document.readyState")));
    }

    private String text(By by) {
        try {
            return browser.findElement(by).getText();
        } catch (org.openqa.selenium.NoSuchElementException e) {
            throw new AssertionError("no " + by + " on " + browser.getCurrentUrl() + ", which reads:\n" + browser.findElement(By.tagName("body")).getText(), e);
        }
    }

    private SpillwayClient client(String key) {
        return SpillwayClient.builder().target(fx.cluster.brokerAddress()).trustCa(BrokerTls.caFileIn(fx.cluster.dataDir())).token(key).build();
    }

    private void screenshot(String name) throws IOException {
        byte[] png = ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES);
        Path dir = Files.createDirectories(Path.of("target", "screenshots"));
        Files.write(dir.resolve(name + ".png"), png);
        if (Boolean.getBoolean("spillway.docs.screenshots")) {
            Path docs = Files.createDirectories(Path.of(System.getProperty("spillway.home", "..")).resolve("docs"));
            Files.write(docs.resolve(name + ".png"), png);
        }
    }
}
