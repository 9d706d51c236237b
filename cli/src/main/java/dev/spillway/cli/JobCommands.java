package dev.spillway.cli;

import com.google.protobuf.util.JsonFormat;
import dev.spillway.api.v1.CancelJobRequest;
import dev.spillway.api.v1.GetJobRequest;
import dev.spillway.api.v1.GetTaskLogsRequest;
import dev.spillway.api.v1.GetTaskLogsResponse;
import dev.spillway.api.v1.Job;
import dev.spillway.api.v1.JobServiceGrpc;
import dev.spillway.api.v1.JobState;
import dev.spillway.api.v1.ListJobsRequest;
import dev.spillway.api.v1.ListJobsResponse;
import dev.spillway.api.v1.ListTasksRequest;
import dev.spillway.api.v1.ListTasksResponse;
import dev.spillway.api.v1.LogStream;
import dev.spillway.api.v1.SubmitJobRequest;
import dev.spillway.api.v1.Task;
import dev.spillway.api.v1.TaskState;
import dev.spillway.api.v1.WatchJobRequest;
import dev.spillway.api.v1.WatchJobResponse;
import dev.spillway.client.FilterText;
import dev.spillway.client.JobSpecFile;
import dev.spillway.client.SpillwayClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** Job commands: submit, jobs, job, watch, logs, cancel. */
final class JobCommands {

    private JobCommands() {}

    abstract static class Base implements Callable<Integer> {
        @ParentCommand
        Spillway root;

        @Spec
        CommandSpec spec;

        PrintWriter out() {
            return spec.commandLine().getOut();
        }

        /** The broker, for the duration of {@link #run}. */
        SpillwayClient client;

        @Override
        public Integer call() throws Exception {
            try (SpillwayClient c = root.client(spec.commandLine().getErr())) {
                client = c;
                return run(JobServiceGrpc.newBlockingStub(c.channel()));
            }
        }

        abstract Integer run(JobServiceGrpc.JobServiceBlockingStub jobs) throws Exception;
    }

    @Command(name = "estimate", description = {"What a job would cost, and where its tasks would run, as things stand now; nothing is stored.",
            "Expected cost: each task once for its expectedRuntime (else maxRuntime). Not to exceed: every attempt its retries allow, each to "
                    + "maxRuntime, on the instances the planner would buy (booting for their whole join timeout), plus on-prem work at the rate card."})
    static final class Estimate extends Base {
        @Parameters(paramLabel = "FILE", description = "Job spec file.")
        Path file;

        @Override
        Integer run(JobServiceGrpc.JobServiceBlockingStub jobs) throws Exception {
            JobSpecFile spec = JobSpecFile.read(file);
            var quote = quote(client, spec, file, spec().commandLine().getErr());
            if (quote == null) return Spillway.INVALID;
            if (Output.structured(root.output, quote, out())) return Spillway.OK;
            print(quote, spec.spec().getTaskCount(), out());
            return Spillway.OK;
        }

        private CommandSpec spec() {
            return super.spec;
        }

        /** The broker's quote, or null after printing where the file is wrong (the broker refused it). */
        static dev.spillway.api.v1.EstimateJobResponse quote(SpillwayClient client, JobSpecFile spec, Path file, PrintWriter err) {
            try {
                return client.estimate(spec.spec());
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.INVALID_ARGUMENT || Spillway.violations(e).isEmpty()) throw e;
                err.println("spillway: the broker refused " + file + ":");
                spec.locate(Spillway.violations(e)).forEach(p -> err.println(p.toString()));
                return null;
            }
        }

        static void print(dev.spillway.api.v1.EstimateJobResponse q, int tasks, PrintWriter out) {
            out.printf("%d task(s): ", tasks);
            List<String> parts = new java.util.ArrayList<>();
            q.getPlacedNowMap().entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .forEach(e -> parts.add(e.getValue() + " on " + e.getKey() + " now"));
            if (q.getBurst() > 0) parts.add(q.getBurst() + " on new cloud instances");
            if (q.getWaiting() > 0) parts.add(q.getWaiting() + " waiting for capacity");
            out.println(String.join(", ", parts));
            for (var p : q.getPurchasesList()) {
                out.printf(Locale.ROOT, "  buy %d × %s%s in %s at %.4f USD/h (%d task(s) at once)%n", p.getInstances(), p.getInstanceType(),
                        p.getSpot() ? " spot" : "", p.getPool(), dev.spillway.api.Usd.dollars(p.getPricePerHour()), p.getTasks());
            }
            out.println("  expected cost:     " + (q.hasExpectedCost() ? CostCommands.Cost.usd(q.getExpectedCost()) + " USD"
                    + " (runtime from " + (q.getRuntimeBasis() == dev.spillway.api.v1.RuntimeBasis.RUNTIME_BASIS_EXPECTED_RUNTIME ? "expectedRuntime" : "maxRuntime") + ")" : "unknown: give expectedRuntime or maxRuntime"));
            out.println("  not to exceed:     " + (q.hasNotToExceedCost() ? CostCommands.Cost.usd(q.getNotToExceedCost()) + " USD"
                    : "unbounded: " + q.getUnboundedReason()));
            if (q.hasExpectedStart()) out.println("  expected start:    in " + seconds(q.getExpectedStart()));
            if (q.hasExpectedFinish()) out.println("  expected finish:   in " + seconds(q.getExpectedFinish()));
            out.flush();
        }

        private static String seconds(com.google.protobuf.Duration d) {
            long s = d.getSeconds();
            return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60) : s >= 60 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60) : s + "s";
        }
    }

    @Command(name = "submit", description = "Submit a job spec (YAML); prints the job id.")
    static final class Submit extends Base {
        @Parameters(paramLabel = "FILE", description = "Job spec file.")
        Path file;

        @Option(names = "--watch", description = "Then follow the job until it finishes (exit 1 if it fails).")
        boolean watch;

        @Option(names = "--request-id", description = "Makes the submission safe to repeat: the same id within 24 hours returns the job "
                + "it created instead of a new one (default: a random id, reused by this command's own retries).")
        String requestId;

        @Option(names = "--max-cost", paramLabel = "USD", description = "Refuse (exit 2, nothing stored) unless the job's not-to-exceed cost, "
                + "as 'spillway estimate' quotes it now, is at most this many US dollars; a job without maxRuntime has no bound and is refused.")
        java.math.BigDecimal maxCost;


        @Override
        Integer run(JobServiceGrpc.JobServiceBlockingStub jobs) throws Exception {
            JobSpecFile spec = JobSpecFile.read(file);
            if (maxCost != null) {
                if (maxCost.signum() < 0) throw new Spillway.CliException(Spillway.INVALID, "--max-cost: 0 or more US dollars");
                var quote = Estimate.quote(client, spec, file, spec().commandLine().getErr());
                if (quote == null) return Spillway.INVALID;
                if (!quote.hasNotToExceedCost()) {
                    throw new Spillway.CliException(Spillway.INVALID, "refused: " + file + " has no cost bound (" + quote.getUnboundedReason()
                            + "); nothing was submitted");
                }
                java.math.BigDecimal bound = java.math.BigDecimal.valueOf(dev.spillway.api.Usd.micros(quote.getNotToExceedCost()), 6);
                if (bound.compareTo(maxCost) > 0) {
                    throw new Spillway.CliException(Spillway.INVALID, "refused: the job may cost up to " + bound.toPlainString()
                            + " USD, above --max-cost " + maxCost.toPlainString() + "; nothing was submitted (see 'spillway estimate " + file + "')");
                }
            }
            Job response;
            try {
                // Retried with the same request id when the outcome is unknown: the broker stores the job once.
                response = client.submit(spec.spec(), requestId != null ? requestId : java.util.UUID.randomUUID().toString());
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.INVALID_ARGUMENT || Spillway.violations(e).isEmpty()) throw e;
                PrintWriter err = spec().commandLine().getErr();
                err.println("spillway: the broker refused " + file + ":");
                spec.locate(Spillway.violations(e)).forEach(p -> err.println(p.toString()));
                return Spillway.INVALID;
            }
            if (!Output.structured(root.output, response, out())) out().println(response.getUid());
            out().flush();
            return watch ? Watch.follow(client, response.getUid(), out()) : Spillway.OK;
        }

        private CommandSpec spec() {
            return super.spec;
        }

    }

    @Command(name = "jobs", description = "List jobs, newest first.")
    static final class Jobs extends Base {
        @Option(names = "--state", split = ",", description = "Only these states (queued, running, succeeded, failed, cancelled).")
        List<String> states = List.of();

        @Option(names = "--tenant", description = "Only this tenant.")
        String tenant;

        @Option(names = "--label", description = "Only jobs with this label key=value (repeatable).")
        Map<String, String> labels = Map.of();

        @Option(names = "--filter", description = {"Only jobs this filter (AIP-160) holds for, e.g. 'state = FAILED AND create_time >= 2026-12-01T00:00:00Z'.",
                "Fields: state, tenant, labels.<key>, create_time, finish_time."})
        String filter;

        @Option(names = "--limit", defaultValue = "50", description = "At most this many jobs (default ${DEFAULT-VALUE}).")
        int limit;

        @Override
        Integer run(JobServiceGrpc.JobServiceBlockingStub jobs) {
            for (String s : states) {
                try {
                    JobState.valueOf("JOB_STATE_" + s.toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    throw new Spillway.CliException(Spillway.INVALID, "unknown state '" + s + "' (queued, running, succeeded, failed, cancelled)");
                }
            }
            String written = new FilterText().anyOf("state", states.stream().map(s -> s.toUpperCase(Locale.ROOT)).toList())
                    .equal("tenant", tenant).labels(labels).written(filter).text();
            ListJobsResponse all;
            try (var listed = client.listJobs(written)) {
                all = ListJobsResponse.newBuilder().addAllJobs(listed.limit(limit).toList()).build();
            }
            if (Output.structured(root.output, all, out())) return Spillway.OK;
            Output.Table t = new Output.Table("JOB", "NAME", "TENANT", "STATE", "TASKS", "DONE", "CREATED");
            for (Job j : all.getJobsList()) {
                t.row(j.getUid(), j.getSpec().getName().isEmpty() ? "-" : j.getSpec().getName(), j.getSpec().getTenant(),
                        Output.state(j.getState(), "JOB_STATE_"), j.getSpec().getTaskCount(), done(j), Output.time(j.getCreateTime()));
            }
            t.print(out());
            return Spillway.OK;
        }
    }

    static String done(Job j) {
        int finished = 0;
        for (String s : List.of("SUCCEEDED", "FAILED", "LOST", "CANCELLED")) finished += j.getTaskCountsOrDefault("TASK_STATE_" + s, 0);
        return finished + "/" + j.getSpec().getTaskCount();
    }

    @Command(name = "job", description = "One job: its state, why it waits, and its first tasks (--tasks for more).")
    static final class JobDetail extends Base {
        @Parameters(paramLabel = "JOB", description = "Job id.")
        String id;

        @Option(names = "--tasks", defaultValue = "20", description = "How many tasks to list: a number, or all (default ${DEFAULT-VALUE}).")
        String tasks;

        @Option(names = "--state", split = ",", description = "Only tasks in these states (queued, assigned, running, succeeded, failed, lost, cancelled).")
        List<String> states = List.of();

        @Override
        Integer run(JobServiceGrpc.JobServiceBlockingStub jobs) {
            int limit;
            if (tasks.equalsIgnoreCase("all")) {
                limit = Integer.MAX_VALUE;
            } else {
                try {
                    limit = Integer.parseInt(tasks);
                } catch (NumberFormatException e) {
                    limit = -1;
                }
                if (limit < 0) throw new Spillway.CliException(Spillway.INVALID, "--tasks takes a number or 'all', not '" + tasks + "'");
            }
            Job j = jobs.getJob(GetJobRequest.newBuilder().setName(id).build());
            List<Task> listed = limit == 0 ? List.of() : tasks(jobs, id, limit, taskStates(states));
            if (Output.structured(root.output, Map.of("job", j, "tasks", listed), out())) return Spillway.OK;
            PrintWriter out = out();
            out.println("Job:      " + j.getUid() + (j.getSpec().getName().isEmpty() ? "" : " (" + j.getSpec().getName() + ")"));
            out.println("Tenant:   " + j.getSpec().getTenant());
            out.println("State:    " + Output.state(j.getState(), "JOB_STATE_") + "  " + Output.counts(j.getTaskCountsMap()));
            out.println("Created:  " + Output.time(j.getCreateTime()) + "   Finished: " + Output.time(j.getFinishTime()));
            if (j.hasQuote()) {
                var q = j.getQuote();
                out.println("Quoted:   expected " + (q.hasExpectedCost() ? CostCommands.Cost.usd(q.getExpectedCost()) + " USD" : "unknown")
                        + ", not to exceed " + (q.hasNotToExceedCost() ? CostCommands.Cost.usd(q.getNotToExceedCost()) + " USD" : "unbounded (" + q.getUnboundedReason() + ")")
                        + " at admission (what it cost: spillway cost --job " + j.getUid() + ")");
            }
            if (!j.getPendingReason().isEmpty()) out.println("Waiting:  " + j.getPendingReason());
            out.println();
            Output.Table t = new Output.Table("TASK", "STATE", "ATTEMPT", "NODE", "EXIT", "STARTED", "FINISHED", "REASON");
            for (Task task : listed) {
                t.row(task.getIndex(), Output.state(task.getState(), "TASK_STATE_"), task.getAttempt(),
                        task.getNode().isEmpty() ? "-" : task.getNode(), task.hasExitCode() ? task.getExitCode() : "-",
                        Output.time(task.getStartTime()), Output.time(task.getFinishTime()),
                        task.getMessage().isEmpty() ? Output.reason(task.getReason()) : task.getMessage());
            }
            t.print(out);
            int shown = listed.size();
            int total = states.isEmpty() ? j.getSpec().getTaskCount() : -1;
            if (shown < total) out.println("(" + shown + " of " + total + " tasks; --tasks all lists every one)");
            return Spillway.OK;
        }
    }

    /** Up to {@code limit} of a job's tasks by index (ListTasks, a page at a time). */
    static List<Task> tasks(JobServiceGrpc.JobServiceBlockingStub jobs, String id, int limit, List<TaskState> states) {
        SpillwayClient client = SpillwayClient.builder().channel(jobs.getChannel()).build();
        try (var listed = client.listTasks(id, new FilterText().anyOf("state", states.stream().map(Enum::name).toList()).text())) {
            return listed.limit(limit).toList();
        }
    }

    static List<TaskState> taskStates(List<String> names) {
        List<TaskState> out = new java.util.ArrayList<>();
        for (String s : names) {
            try {
                out.add(TaskState.valueOf("TASK_STATE_" + s.toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new Spillway.CliException(Spillway.INVALID,
                        "unknown task state '" + s + "' (queued, assigned, running, succeeded, failed, lost, cancelled)");
            }
        }
        return out;
    }

    @Command(name = "explain", description = "Why a job's tasks are where they are, or why they wait, and what bursting did for it.")
    static final class Explain extends Base {
        @Parameters(paramLabel = "JOB", description = "Job id.")
        String id;

        @Option(names = {"--attempt", "--attempts"}, description = "Also each attempt's entry in the decision log: its node and location, the "
                + "policy version in force and what each rule said of it there (the residency proof).")
        boolean attempts;

        @Override
        Integer run(JobServiceGrpc.JobServiceBlockingStub jobs) {
            Job j = jobs.getJob(GetJobRequest.newBuilder().setName(id).build());
            var instances = Listings.instances(jobs.getChannel(), null, List.of());
            Map<String, dev.spillway.api.v1.CloudInstance> byNode = new java.util.HashMap<>();
            instances.forEach(i -> byNode.put(i.getNode(), i));
            PrintWriter out = out();
            out.println("Job " + j.getUid() + " is " + Output.state(j.getState(), "JOB_STATE_").toLowerCase(Locale.ROOT)
                    + ": " + Output.counts(j.getTaskCountsMap()));
            if (!j.getPendingReason().isEmpty()) {
                out.println();
                out.println("Waiting tasks:");
                for (String part : j.getPendingReason().split("; ")) out.println("  " + part);
            }
            // Tasks grouped by where they are and why (the latest transition's message).
            Map<String, Integer> groups = new java.util.TreeMap<>();
            Map<String, java.util.List<Integer>> examples = new java.util.HashMap<>();
            for (Task t : tasks(jobs, id, Integer.MAX_VALUE, List.of())) {
                String where = t.getNode().isEmpty() ? "no node" : t.getNode();
                dev.spillway.api.v1.CloudInstance cloud = byNode.get(t.getNode());
                if (cloud != null) {
                    where += String.format(Locale.ROOT, " (%s %s%s, %.4f USD/h, burst because: %s)", cloud.getPool(), cloud.getInstanceType(),
                            cloud.getSpot() ? " spot" : "", dev.spillway.api.Usd.dollars(cloud.getPricePerHour()), cloud.getDecision());
                }
                String key = Output.state(t.getState(), "TASK_STATE_") + " on " + where + ": "
                        + (t.getMessage().isEmpty() ? Output.reason(t.getReason()) : t.getMessage());
                groups.merge(key, 1, Integer::sum);
                examples.computeIfAbsent(key, k -> new java.util.ArrayList<>()).add(t.getIndex());
            }
            out.println();
            out.println("Tasks:");
            groups.forEach((key, n) -> {
                var idx = examples.get(key);
                out.printf("  %4d  %s  [tasks %s%s]%n", n, key, idx.subList(0, Math.min(5, idx.size())).toString().replaceAll("[\\[\\]]", ""),
                        idx.size() > 5 ? ", ..." : "");
            });
            if (attempts) {
                var stub = dev.spillway.api.v1.PolicyServiceGrpc.newBlockingStub((io.grpc.Channel) jobs.getChannel());
                List<dev.spillway.api.v1.AttemptDecision> decisions = new java.util.ArrayList<>();
                String token = "";
                do {
                    var page = stub.listDecisions(dev.spillway.api.v1.ListDecisionsRequest.newBuilder().setParent(id).setPageSize(1000)
                            .setPageToken(token).build());
                    decisions.addAll(page.getDecisionsList());
                    token = page.getNextPageToken();
                } while (!token.isEmpty());
                out.println();
                out.println("Attempts (decision log, newest first):");
                PolicyCommands.Decisions.print(decisions, out);
            }
            out.flush();
            return Spillway.OK;
        }
    }

    @Command(name = "watch", description = "Follow a job's task events until it finishes (exit 1 if it did not succeed).")
    static final class Watch extends Base {
        @Parameters(paramLabel = "JOB", description = "Job id.")
        String id;

        @Override
        Integer run(JobServiceGrpc.JobServiceBlockingStub jobs) throws Exception {
            if (root.output == Output.Format.TABLE) return follow(client, id, out());
            JobState last = events(client, id, e -> {
                try {
                    out().println(JsonFormat.printer().omittingInsignificantWhitespace().print(e));
                } catch (com.google.protobuf.InvalidProtocolBufferException impossible) {
                    throw new IllegalStateException(impossible);
                }
                out().flush();
            });
            return last == JobState.JOB_STATE_SUCCEEDED ? Spillway.OK : Spillway.ERROR;
        }

        /**
         * Every message of the job's watch until it finishes, to {@code each}; the job state of the
         * last. The client resumes a stream the broker or the network breaks after the last event
         * received, so no event is shown twice or lost (and says so on standard error).
         */
        static JobState events(SpillwayClient client, String id, java.util.function.Consumer<WatchJobResponse> each) {
            JobState last = JobState.JOB_STATE_UNSPECIFIED;
            try (var events = client.watch(id)) {
                for (Iterator<WatchJobResponse> it = events.iterator(); it.hasNext(); ) {
                    WatchJobResponse e = it.next();
                    last = e.getJobState();
                    each.accept(e);
                }
            }
            return last;
        }

        static int follow(SpillwayClient client, String id, PrintWriter out) {
            JobState last = events(client, id, e -> {
                if (e.hasJob()) {
                    out.printf("%s  job %s %s  %s%n", Output.time(e.getTime()), id, Output.state(e.getJob().getState(), "JOB_STATE_"),
                            Output.counts(e.getJob().getTaskCountsMap()));
                } else {
                    out.printf("%s  task %-5d #%-2d %-10s %-12s %s%n", Output.time(e.getTime()), e.getTaskIndex(), e.getAttempt(),
                            Output.state(e.getState(), "TASK_STATE_"), e.getNode().isEmpty() ? "-" : e.getNode(), e.getMessage());
                }
                out.flush();
            });
            // The stream ends once the job has finished; its final state is the job's own (an event's job_state is as of that event).
            JobState end = client.getJob(id).getState();
            if (end != JobState.JOB_STATE_UNSPECIFIED) last = end;
            out.println("job " + id + " " + Output.state(last, "JOB_STATE_").toLowerCase(Locale.ROOT));
            out.flush();
            return last == JobState.JOB_STATE_SUCCEEDED ? Spillway.OK : Spillway.ERROR;
        }
    }

    @Command(name = "logs", description = "Print a task's output (from the node that ran it).")
    static final class Logs extends Base {
        @Parameters(paramLabel = "JOB", description = "Job id.")
        String id;

        @Option(names = "--task", required = true, description = "Task index.")
        int task;

        @Option(names = "--attempt", defaultValue = "0", description = "Attempt (default: the current one).")
        int attempt;

        @Option(names = {"-f", "--follow"}, description = "Keep printing new output until the attempt ends.")
        boolean follow;

        @Option(names = "--stderr", description = "Standard error instead of standard output.")
        boolean stderr;

        @Override
        Integer run(JobServiceGrpc.JobServiceBlockingStub jobs) throws Exception {
            java.util.stream.Stream<com.google.protobuf.ByteString> chunks;
            try {
                chunks = client.logs(id, task, attempt, stderr ? LogStream.LOG_STREAM_STDERR : LogStream.LOG_STREAM_STDOUT, follow);
            } catch (IllegalArgumentException e) {
                throw new Spillway.CliException(Spillway.INVALID, e.getMessage());
            }
            try (chunks) {
                for (Iterator<com.google.protobuf.ByteString> it = chunks.iterator(); it.hasNext(); ) {
                    System.out.write(it.next().toByteArray());
                    System.out.flush();
                }
            }
            return Spillway.OK;
        }
    }

    @Command(name = "cancel", description = "Cancel a job: queued tasks never start, running processes are killed.")
    static final class Cancel extends Base {
        @Parameters(paramLabel = "JOB", description = "Job id.")
        String id;

        @Override
        Integer run(JobServiceGrpc.JobServiceBlockingStub jobs) {
            Job r = client.cancel(id);
            if (!Output.structured(root.output, r, out())) {
                out().println("job " + r.getUid() + " " + Output.state(r.getState(), "JOB_STATE_").toLowerCase(Locale.ROOT) + ": "
                        + Output.counts(r.getTaskCountsMap()));
            }
            return Spillway.OK;
        }
    }
}
