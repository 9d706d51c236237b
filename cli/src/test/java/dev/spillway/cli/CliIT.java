package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.api.v1.ListJobsRequest;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import picocli.CommandLine;

/** The CLI against a real broker: exit codes, messages naming file, line and field, nothing stored on error. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CliIT {

    private ClusterFixture fx;

    @BeforeAll
    void start() throws Exception {
        // On-prem work is priced (5 cents a core-hour), so that quotes have something to bound.
        fx = new ClusterFixture("cli", 1, "10s", o -> o.brokerProperties.put("spillway.cost.rate-card.usd-per-cpu-hour", "0.05"));
    }

    @AfterAll
    void stop() {
        if (fx != null) fx.close();
    }

    record Run(int exit, String out, String err) {
    }

    Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cmd = Spillway.commandLine();
        cmd.setOut(new PrintWriter(out));
        cmd.setErr(new PrintWriter(err));
        java.util.List<String> all = new java.util.ArrayList<>(java.util.List.of("--broker", fx.cluster.brokerAddress(),
                "--ca-file", BrokerTls.caFileIn(fx.cluster.dataDir()).toString()));
        if (!java.util.Arrays.asList(args).contains("--token")) {
            all.addAll(java.util.List.of("--token-file", fx.cluster.dataDir().resolve("admin-key").toString()));
        }
        all.addAll(java.util.List.of(args));
        int exit = cmd.execute(all.toArray(String[]::new));
        return new Run(exit, out.toString(), err.toString());
    }

    int jobCount() {
        return fx.jobs.listJobs(ListJobsRequest.newBuilder().setPageSize(1000).build()).getJobsCount();
    }

    @Test
    void aValidSpecIsSubmittedAndWatchedToTheEnd() throws Exception {
        Path spec = Files.writeString(Files.createTempFile("ok", ".yaml"), """
                name: ok
                tasks: 3
                command: echo "hi $SPILLWAY_TASK_INDEX"
                resources: {cpu: 500m, memory: 64Mi}
                """);
        Run submit = cli("submit", spec.toString(), "--watch");
        assertThat(submit.exit()).as(submit.out() + submit.err()).isZero();
        String id = submit.out().lines().findFirst().orElseThrow();
        assertThat(submit.out()).contains("job " + id + " succeeded");

        Run job = cli("job", id, "-o", "json");
        assertThat(job.exit()).isZero();
        assertThat(job.out()).contains("\"state\": \"JOB_STATE_SUCCEEDED\"");
        Run jobs = cli("jobs");
        assertThat(jobs.out()).contains(id).contains("SUCCEEDED");
        assertThat(cli("nodes").out()).contains("agent-1").contains("READY");
        assertThat(cli("pools", "-o", "yaml").out()).contains("name: pools/onprem").contains("kind: POOL_KIND_ON_PREM");

        // Each of the three attempts is in the decision log, with where it ran.
        Run explain = cli("explain", id, "--attempts");
        assertThat(explain.exit()).as(explain.err()).isZero();
        assertThat(explain.out()).contains("Attempts (decision log").contains(id + "/2 attempt 1").contains("on agent-1 (pool onprem");
        Run decisions = cli("decisions", "--job", id, "--since", "1h", "-o", "json");
        assertThat(decisions.exit()).as(decisions.err()).isZero();
        assertThat(decisions.out().split("\"job\": \"jobs/" + id + "\"", -1)).as("three attempts").hasSize(4);
        assertThat(decisions.out()).contains("\"node\": \"agent-1\"").contains("\"residency\": \"no jurisdiction required\"");
        Run bad = cli("decisions", "--since", "last week");
        assertThat(bad.exit()).isEqualTo(Spillway.INVALID);
        assertThat(bad.err()).contains("--since: a time ago (30m, 12h, 7d) or an RFC 3339 time");
    }

    @Test
    void anAttemptPastItsMaxRuntimeIsKilledAndFailsWithReasonTimeout() throws Exception {
        Path spec = Files.writeString(Files.createTempFile("slow", ".yaml"), """
                name: slow
                command: sleep 300
                resources: {cpu: 500m, memory: 64Mi}
                maxRuntime: 2s
                """);
        Run submit = cli("submit", spec.toString(), "--watch");
        assertThat(submit.exit()).as(submit.out() + submit.err()).isNotZero();
        String id = submit.out().lines().findFirst().orElseThrow();
        // The agent stopped it two seconds in, long before sleep 300 would end: the job is over when the watch returns.
        var task = fx.job(id).getTasks(0);
        assertThat(task.getState()).isEqualTo(dev.spillway.api.v1.TaskState.TASK_STATE_FAILED);
        assertThat(task.getReason()).isEqualTo(dev.spillway.api.v1.Reason.REASON_TIMEOUT);
        assertThat(task.getMessage()).isEqualTo("ran past its maxRuntime of 2s; killed");
        Run bad = cli("submit", Files.writeString(Files.createTempFile("bad", ".yaml"), """
                command: "true"
                resources: {cpu: 500m, memory: 64Mi}
                maxRuntime: forever
                """).toString());
        assertThat(bad.exit()).isEqualTo(Spillway.INVALID);
        assertThat(bad.err()).contains("maxRuntime: not a duration: 'forever'");
    }

    @Test
    void aQuoteBoundsWhatASubmissionMayCostAndAnUnboundedJobIsRefusedABound() throws Exception {
        // Two tasks of half a core, up to an hour and one retry each, 30 minutes expected: on the agent now, at 0.05 per core-hour.
        Path spec = Files.writeString(Files.createTempFile("quoted", ".yaml"), """
                name: quoted
                tasks: 2
                command: sleep 1
                resources: {cpu: 500m, memory: 64Mi}
                maxRuntime: 1h
                expectedRuntime: 30m
                retries: 1
                """);
        Run json = cli("estimate", spec.toString(), "-o", "json");
        assertThat(json.exit()).as(json.err()).isZero();
        assertThat(json.out()).contains("\"onprem\": 2").contains("\"expectedCost\": {\n    \"currencyCode\": \"USD\",\n    \"units\": \"0\",\n    \"nanos\": 25000000\n  }")
                .contains("\"notToExceedCost\": {\n    \"currencyCode\": \"USD\",\n    \"units\": \"0\",\n    \"nanos\": 100000000\n  }").contains("\"runtimeBasis\": \"RUNTIME_BASIS_EXPECTED_RUNTIME\"");
        Run table = cli("estimate", spec.toString());
        assertThat(table.out()).contains("2 task(s): 2 on onprem now").contains("expected cost:     0.025000 USD")
                .contains("not to exceed:     0.100000 USD").contains("expected finish:   in 30m00s");

        int before = jobCount();
        Run refused = cli("submit", "--max-cost", "0.05", spec.toString());
        assertThat(refused.exit()).isEqualTo(Spillway.INVALID);
        assertThat(refused.err()).contains("may cost up to 0.100000 USD, above --max-cost 0.05; nothing was submitted");
        assertThat(jobCount()).isEqualTo(before);
        Run taken = cli("submit", "--max-cost", "0.10", spec.toString(), "--watch");
        assertThat(taken.exit()).as(taken.out() + taken.err()).isZero();
        assertThat(jobCount()).isEqualTo(before + 1);

        Path unbounded = Files.writeString(Files.createTempFile("unbounded", ".yaml"), """
                name: unbounded
                command: sleep 1
                resources: {cpu: 500m, memory: 64Mi}
                """);
        Run noBound = cli("submit", "--max-cost", "100", unbounded.toString());
        assertThat(noBound.exit()).isEqualTo(Spillway.INVALID);
        assertThat(noBound.err()).contains("has no cost bound (spec.task.max_runtime is not set");
        assertThat(cli("estimate", unbounded.toString()).out()).contains("not to exceed:     unbounded: spec.task.max_runtime is not set");
        assertThat(jobCount()).isEqualTo(before + 1);
    }

    @Test
    void policyFilesAreCheckedAppliedAndEnforced() throws Exception {
        Path starter = Path.of("..", "examples", "policies", "admission.yaml");
        Path broken = Files.writeString(Files.createTempFile("broken", ".yaml"), """
                apiVersion: spillway.dev/v1
                kind: Policy
                metadata: {name: broken}
                spec:
                  admission:
                    - name: words
                      match: job.priority > "high"
                      message: '"no"'
                      action: Deny
                """);
        Run refused = cli("policy", "apply", starter.toString(), broken.toString());
        assertThat(refused.exit()).isEqualTo(Spillway.INVALID);
        assertThat(refused.err()).contains(broken + ":7:").contains("nothing was applied");

        Run applied = cli("policy", "apply", starter.toString(), "--comment", "starter set");
        assertThat(applied.exit()).as(applied.err()).isZero();
        assertThat(applied.err()).containsPattern("policy version \\d+ applied: 3 admission rules");
        assertThat(cli("policy", "history").out()).contains("starter set");
        assertThat(cli("policy", "get").out()).contains("# file: " + starter).contains("pii-needs-jurisdictions");
        // What applying one more file would change: that file, all added; the one in force is unchanged.
        Path bursting = Path.of("..", "examples", "policies", "bursting.yaml");
        Run diff = cli("policy", "diff", "--files", starter.toString(), bursting.toString());
        assertThat(diff.exit()).as(diff.err()).isZero();
        assertThat(diff.out()).contains("--- /dev/null\n+++ local/" + bursting).contains("+      match: job.tenant == \"sandbox\"")
                .doesNotContain("local/" + starter);
        Run noVersion = cli("policy", "diff", "0");
        assertThat(noVersion.exit()).isEqualTo(Spillway.INVALID);

        Path pii = Files.writeString(Files.createTempFile("pii", ".yaml"), """
                name: export-customers
                labels: {pii: "true"}
                tasks: 1
                command: "true"
                resources: {cpu: 100m, memory: 64Mi}
                """);
        int before = jobCount();
        Run submit = cli("submit", pii.toString());
        assertThat(submit.exit()).isEqualTo(Spillway.INVALID);
        assertThat(submit.err()).contains("pii-needs-jurisdictions").contains("list the jurisdictions");
        assertThat(jobCount()).isEqualTo(before);
        // The same job tried against the set in force: refused by the same rule, placeable, nothing submitted.
        Run trial = cli("policy", "test", "--job", pii.toString());
        assertThat(trial.exit()).as(trial.err()).isZero();
        assertThat(trial.out()).contains("admission: refused").contains("DENY  data-and-hours/pii-needs-jurisdictions")
                .contains("placement (one task, on the nodes connected now)").contains("POOL");
        assertThat(jobCount()).isEqualTo(before);

        // What-if: a trace replayed under the set in force and under a candidate that refuses user 2's wide jobs; nothing is submitted.
        Path trace = Files.writeString(Files.createTempFile("trace", ".swf"), """
                ; MaxProcs: 2
                1 0 -1 30 1 -1 -1 1 -1 -1 1 1 1 -1 1 -1 -1 -1
                2 5 -1 30 4 -1 -1 4 -1 -1 1 2 1 -1 1 -1 -1 -1
                """);
        Path narrow = Files.writeString(Files.createTempFile("narrow", ".yaml"), """
                apiVersion: spillway.dev/v1
                kind: Policy
                metadata: {name: finops}
                spec:
                  admission:
                    - name: narrow
                      match: job.tenant == "user-2" && job.tasks > 2
                      message: '"user-2 submits at most 2 tasks a job"'
                      action: Deny
                """);
        Run whatIf = cli("policy", "what-if", narrow.toString(), "--trace", trace.toString());
        assertThat(whatIf.exit()).as(whatIf.err()).isZero();
        assertThat(whatIf.out()).contains("What-if over 2 jobs (5 tasks)").contains("jobs refused at submission: 0 -> 1")
                .contains("+1 jobs: refused: finops/narrow: user-2 submits at most 2 tasks a job").contains("residency violations  0");
        Run bothWorkloads = cli("policy", "what-if", narrow.toString(), "--trace", trace.toString(), "--since", "1d");
        assertThat(bothWorkloads.exit()).isEqualTo(Spillway.INVALID);
        assertThat(jobCount()).isEqualTo(before);
    }

    @Test
    void anUnknownFieldIsReportedWithItsLineAndNothingIsSent() throws Exception {
        int before = jobCount();
        Path spec = Files.writeString(Files.createTempFile("bad", ".yaml"), """
                name: bad
                tasks: 3
                colour: red
                command: "true"
                resources: {cpu: 1, memory: 64Mi}
                """);
        Run r = cli("submit", spec.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains(spec + ":3:1: colour: unknown field");
        assertThat(jobCount()).isEqualTo(before);
    }

    @Test
    void theBrokersFieldViolationsPointAtTheLinesTheyCameFrom() throws Exception {
        int before = jobCount();
        Path spec = Files.writeString(Files.createTempFile("zero", ".yaml"), """
                name: zero
                tasks: 2
                command: "true"
                resources:
                  cpu: 0
                  memory: 64Mi
                env:
                  9LIVES: "no"
                """);
        Run r = cli("submit", spec.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains(spec + ":5:3: resources.cpu: must be positive (got 0)");
        assertThat(r.err()).contains(spec + ":8:3: env[9LIVES]: names must match");
        assertThat(jobCount()).isEqualTo(before);
    }

    @Test
    void aNodeJoinsWithAOneTimeTokenAndComesBackWithItsOwnCredential() throws Exception {
        Run token = cli("token", "create", "--node", "joined-1", "--pool", "onprem", "--ttl", "5m");
        assertThat(token.exit()).as(token.err()).isZero();
        String secret = token.out().trim();
        assertThat(secret).startsWith("join.");

        fx.cluster.startAgent("joined-1", secret);
        java.nio.file.Path credential = fx.cluster.dataDir().resolve("agents/joined-1/node-credential");
        java.nio.file.Path brokerLog = fx.cluster.logDir().resolve("broker.log");
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> java.nio.file.Files.exists(credential));
        // Restarted, it still presents the spent join token, but reconnects with the node credential it was given.
        fx.cluster.killAgent("joined-1");
        fx.cluster.startAgent("joined-1", secret);
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() ->
                java.nio.file.Files.readString(brokerLog).split("node joined-1 joined pool", -1).length - 1 == 2);
        assertThat(java.nio.file.Files.readString(brokerLog)).doesNotContain("refused node joined-1");
        assertThat(java.nio.file.Files.readString(fx.cluster.logDir().resolve("broker.log"))).doesNotContain(secret.substring(5));
        fx.cluster.stopAgent("joined-1");
    }

    @Test
    void anApiKeyIsMadeUsedAndRevokedFromTheCommandLine() throws Exception {
        Run created = cli("apikey", "create", "--tenant", "cli-team", "--role", "submitter", "--name", "cli-it");
        assertThat(created.exit()).as(created.err()).isZero();
        String key = created.out().trim();
        assertThat(key).startsWith("spw_");
        assertThat(created.err()).contains("shown once");

        Run me = cli("whoami", "--token", key);
        assertThat(me.exit()).as(me.err()).isZero();
        assertThat(me.out()).contains("role:    submitter").contains("tenants: cli-team").contains("credential from --token");

        Path spec = Files.writeString(Files.createTempFile("key", ".yaml"), """
                name: with-key
                tasks: 1
                command: "true"
                resources: {cpu: 100m, memory: 16Mi}
                """);
        Run submit = cli("submit", spec.toString(), "--token", key);
        assertThat(submit.exit()).as(submit.err()).isZero();
        String id = submit.out().lines().findFirst().orElseThrow();
        assertThat(cli("jobs", "--token", key).out()).contains(id);
        String other = cli("apikey", "create", "--tenant", "someone-else", "--role", "viewer").out().trim();
        assertThat(cli("jobs", "--token", other).out()).doesNotContain(id);
        assertThat(cli("job", id, "--token", other).exit()).isEqualTo(Spillway.INVALID);

        Run denied = cli("apikey", "list", "--token", key);
        assertThat(denied.exit()).isEqualTo(Spillway.ERROR);
        assertThat(denied.err()).contains("permission denied").contains("role submitter");

        Run audit = cli("audit", "--action", "job.submit");
        assertThat(audit.exit()).as(audit.err()).isZero();
        assertThat(audit.out()).contains(id).contains("cli-team");

        String listed = cli("apikey", "list").out();
        String row = listed.lines().filter(l -> l.contains("cli-it")).findFirst().orElseThrow();
        assertThat(cli("apikey", "revoke", row.split("\\s+")[0]).exit()).isZero();
        Run refused = cli("whoami", "--token", key);
        assertThat(refused.exit()).isEqualTo(Spillway.ERROR);
        assertThat(refused.err()).contains("refused the credential from --token").contains("revoked").doesNotContain(key);
    }

    @Test
    void anUnknownJobIsNotFoundWithExitCode2() {
        Run r = cli("job", "00000000-0000-0000-0000-000000000000");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("no job 00000000-0000-0000-0000-000000000000");
        assertThat(cli("cancel", "not-a-uuid").exit()).isEqualTo(2);
    }

    @Test
    void theCliTrustsOnlyTheBrokersCaAndNeverFallsBackToPlaintext() throws Exception {
        String token = fx.cluster.dataDir().resolve("admin-key").toString();
        // Another CA: the JVM's, or the one a broker of this machine's ~/.spillway made; never this broker's.
        CommandLine untrusting = Spillway.commandLine();
        StringWriter err = new StringWriter();
        untrusting.setErr(new PrintWriter(err));
        assertThat(untrusting.execute("--broker", fx.cluster.brokerAddress(), "--token-file", token, "jobs")).isEqualTo(Spillway.ERROR);
        assertThat(err.toString()).contains("not trusted").contains("--ca-file");

        CommandLine plaintext = Spillway.commandLine();
        StringWriter err2 = new StringWriter();
        plaintext.setErr(new PrintWriter(err2));
        assertThat(plaintext.execute("--broker", fx.cluster.brokerAddress(), "--token-file", token, "--insecure", "jobs"))
                .as("a TLS broker does not answer plaintext").isEqualTo(Spillway.ERROR);
        assertThat(err2.toString()).contains("cannot reach the broker");

        assertThat(cli("whoami").exit()).as("with its CA").isZero();
    }

    @Test
    void anUnreachableBrokerIsError1WithAHint() {
        CommandLine cmd = Spillway.commandLine();
        StringWriter err = new StringWriter();
        cmd.setErr(new PrintWriter(err));
        int exit = cmd.execute("--broker", "127.0.0.1:" + LocalCluster.freePort(), "jobs");
        assertThat(exit).isEqualTo(1);
        assertThat(err.toString()).contains("cannot reach the broker");
    }
}
