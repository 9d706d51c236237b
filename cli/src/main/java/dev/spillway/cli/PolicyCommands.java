package dev.spillway.cli;

import com.google.rpc.BadRequest;
import dev.spillway.api.v1.ApplyPoliciesRequest;
import dev.spillway.api.v1.ApplyPoliciesResponse;
import dev.spillway.api.v1.GetPoliciesRequest;
import dev.spillway.api.v1.GetPoliciesResponse;
import dev.spillway.api.v1.ListPolicyVersionsRequest;
import dev.spillway.api.v1.ListPolicyVersionsResponse;
import dev.spillway.api.v1.PolicyFile;
import dev.spillway.api.v1.PolicyOfferingTrial;
import dev.spillway.api.v1.PolicyPoolTrial;
import dev.spillway.api.v1.PolicyRuleOutcome;
import dev.spillway.api.v1.PolicyServiceGrpc;
import dev.spillway.api.v1.PolicyVersion;
import dev.spillway.api.v1.PolicyVetoCount;
import dev.spillway.api.v1.TestPoliciesRequest;
import dev.spillway.api.v1.TestPoliciesResponse;
import dev.spillway.client.FilterText;
import dev.spillway.core.text.LineDiff;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Policy commands: apply, get, history, diff, test, rollback. */
final class PolicyCommands {

    private PolicyCommands() {}

    @Command(name = "policy", description = "Cost and locality policies (YAML, apiVersion spillway.dev/v1): apply them, read them, roll back.",
            subcommands = {Apply.class, Get.class, History.class, Diff.class, Test.class, WhatIf.class, Rollback.class})
    static final class Policy {
    }

    @Command(name = "apply", description = {"Replace the policy set with these files, as a new version (finops or admin).",
            "Every document and CEL expression is checked first; if any is wrong nothing is stored, and each problem is printed as FILE:LINE:COLUMN: what."})
    static final class Apply extends ClusterCommands.Base {
        @Parameters(paramLabel = "FILE", arity = "1..*", description = "Policy files; together they are the whole set.")
        List<Path> files;

        @Option(names = "--comment", defaultValue = "", description = "Why, for the history.")
        String comment;

        @Override
        Integer run(ManagedChannel channel) {
            ApplyPoliciesRequest.Builder request = ApplyPoliciesRequest.newBuilder().setComment(comment);
            for (Path f : files) request.addFiles(PolicyFile.newBuilder().setName(f.toString()).setText(read(f)));
            return applied(channel, request.build(), spec.commandLine().getErr(), out(), root());
        }
    }

    @Command(name = "get", description = "The policy files in force (or of --version), each after a '# file: NAME' line.")
    static final class Get extends ClusterCommands.Base {
        @Option(names = "--version", defaultValue = "0", description = "A version from 'policy history' (default: the one in force).")
        long version;

        @Override
        Integer run(ManagedChannel channel) {
            GetPoliciesResponse r = PolicyServiceGrpc.newBlockingStub(channel).getPolicies(GetPoliciesRequest.newBuilder().setVersion(version).build());
            if (Output.structured(root().output, r, out())) return Spillway.OK;
            if (!r.hasVersion()) {
                spec.commandLine().getErr().println("no policy was ever applied: every job is admitted, placed and burst by the broker's configuration alone");
                return Spillway.OK;
            }
            spec.commandLine().getErr().println("policy version " + r.getVersion().getVersion() + " (" + describe(r.getVersion()) + ")");
            for (PolicyFile f : r.getFilesList()) {
                out().println("# file: " + f.getName());
                out().print(f.getText());
                if (!f.getText().endsWith("\n")) out().println();
            }
            return Spillway.OK;
        }
    }

    @Command(name = "history", description = "Every version of the policy set, newest first.")
    static final class History extends ClusterCommands.Base {
        @Option(names = "--limit", defaultValue = "50", description = "At most this many (default ${DEFAULT-VALUE}).")
        int limit;

        @Override
        Integer run(ManagedChannel channel) {
            if (limit < 1) throw new Spillway.CliException(Spillway.INVALID, "--limit: 1 or more");
            var stub = PolicyServiceGrpc.newBlockingStub(channel);
            ListPolicyVersionsResponse.Builder all = ListPolicyVersionsResponse.newBuilder();
            String token = "";
            do {
                ListPolicyVersionsResponse page = stub.listPolicyVersions(ListPolicyVersionsRequest.newBuilder()
                        .setPageSize(Math.min(500, limit - all.getVersionsCount())).setPageToken(token).build());
                all.addAllVersions(page.getVersionsList());
                token = page.getNextPageToken();
            } while (!token.isEmpty() && all.getVersionsCount() < limit);
            ListPolicyVersionsResponse r = all.build();
            if (Output.structured(root().output, r, out())) return Spillway.OK;
            Output.Table t = new Output.Table("VERSION", "APPLIED", "BY", "HOLDS", "COMMENT");
            for (PolicyVersion v : r.getVersionsList()) {
                t.row(v.getVersion(), Output.time(v.getApplyTime()), v.getAppliedBy(), describe(v), v.getComment().isEmpty() ? "-" : v.getComment());
            }
            t.print(out());
            return Spillway.OK;
        }
    }

    @Command(name = "diff", description = {"What changed between two versions of the policy set, as a unified diff per file.",
            "policy diff V1 V2: from V1 to V2. policy diff V1: from V1 to the version in force. "
                    + "policy diff --files FILE...: from the version in force (or --from V) to these files, before applying them."})
    static final class Diff extends ClusterCommands.Base {
        @Parameters(paramLabel = "VERSION", arity = "0..2", description = "One or two versions from 'policy history'.")
        List<Long> versions = new ArrayList<>();

        @Option(names = "--files", arity = "1..*", paramLabel = "FILE", description = "Local policy files to compare with the version in force.")
        List<Path> files = new ArrayList<>();

        @Override
        Integer run(ManagedChannel channel) {
            if (versions.size() + (files.isEmpty() ? 0 : 1) == 0 || (!files.isEmpty() && versions.size() > 1)) {
                throw new Spillway.CliException(Spillway.INVALID, "give two versions, one version (compared with the one in force), "
                        + "or --files FILE... (compared with the one in force, or with a version given before them)");
            }
            for (long v : versions) {
                if (v < 1) throw new Spillway.CliException(Spillway.INVALID, "VERSION: a version number from 'policy history' (1 or more)");
            }
            var stub = PolicyServiceGrpc.newBlockingStub(channel);
            GetPoliciesResponse from = stub.getPolicies(GetPoliciesRequest.newBuilder().setVersion(versions.isEmpty() ? 0 : versions.get(0)).build());
            String fromLabel = from.hasVersion() ? "v" + from.getVersion().getVersion() : "none";
            List<PolicyFile> toFiles;
            String toLabel;
            if (!files.isEmpty()) {
                toFiles = new ArrayList<>();
                for (Path f : files) toFiles.add(PolicyFile.newBuilder().setName(f.toString()).setText(read(f)).build());
                toLabel = "local";
            } else {
                GetPoliciesResponse to = stub.getPolicies(GetPoliciesRequest.newBuilder().setVersion(versions.size() == 2 ? versions.get(1) : 0).build());
                toFiles = to.getFilesList();
                toLabel = to.hasVersion() ? "v" + to.getVersion().getVersion() : "none";
            }
            String diff = diff(fromLabel, from.getFilesList(), toLabel, toFiles);
            if (diff.isEmpty()) {
                spec.commandLine().getErr().println("no difference between " + fromLabel + " and " + toLabel);
            } else {
                out().print(diff);
            }
            return Spillway.OK;
        }
    }

    /** The unified diff of two sets of files, file by file in name order: a file only one side has is all removed or all added. */
    static String diff(String fromLabel, List<PolicyFile> from, String toLabel, List<PolicyFile> to) {
        java.util.Map<String, String> a = new java.util.TreeMap<>();
        java.util.Map<String, String> b = new java.util.TreeMap<>();
        from.forEach(f -> a.put(f.getName(), f.getText()));
        to.forEach(f -> b.put(f.getName(), f.getText()));
        return LineDiff.files(fromLabel, a, toLabel, b);
    }

    @Command(name = "test", description = {"What a policy set would do with one job, storing nothing (finops or admin):",
            "the admission rules that match, each pool's nodes that could take a task now under the placement rules (or why not),",
            "and which cloud offerings the burst rules allow. Without FILEs: the set in force."})
    static final class Test extends ClusterCommands.Base {
        @Parameters(paramLabel = "FILE", arity = "0..*", description = "Candidate policy files (default: the set in force).")
        List<Path> files = new ArrayList<>();

        @Option(names = "--job", required = true, paramLabel = "JOB.yaml", description = "The job, as 'spillway submit' takes it.")
        Path job;

        @Option(names = "--tenant", description = "Try it as this tenant's job (overrides the file's tenant).")
        String tenant;

        /** Offerings printed in the table; -o json has all. */
        private static final int OFFERINGS_SHOWN = 15;

        @Override
        Integer run(ManagedChannel channel) {
            dev.spillway.client.JobSpecFile jobFile;
            try {
                jobFile = dev.spillway.client.JobSpecFile.read(job);
            } catch (dev.spillway.client.JobSpecFile.InvalidSpecException e) {
                e.problems().forEach(p -> spec.commandLine().getErr().println(p));
                return Spillway.INVALID;
            } catch (IOException e) {
                throw new Spillway.CliException(Spillway.INVALID, "cannot read " + job + ": " + e.getMessage());
            }
            dev.spillway.api.v1.JobSpec js = tenant == null ? jobFile.spec() : jobFile.spec().toBuilder().setTenant(tenant).build();
            TestPoliciesRequest.Builder request = TestPoliciesRequest.newBuilder().setJob(js);
            for (Path f : files) request.addFiles(PolicyFile.newBuilder().setName(f.toString()).setText(read(f)));
            TestPoliciesResponse r;
            try {
                r = PolicyServiceGrpc.newBlockingStub(channel).testPolicies(request.build());
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.INVALID_ARGUMENT || Spillway.violations(e).isEmpty()) throw e;
                PrintWriter err = spec.commandLine().getErr();
                for (BadRequest.FieldViolation v : Spillway.violations(e)) {
                    err.println(v.getField().startsWith("files") ? problem(v) : job + ": " + v.getField() + ": " + v.getDescription());
                }
                return Spillway.INVALID;
            }
            if (Output.structured(root().output, r, out())) return Spillway.OK;
            PrintWriter out = out();
            out.println("admission: " + (r.getAdmitted() ? "admitted" : "refused"));
            for (PolicyRuleOutcome o : r.getAdmissionList()) out.println("  " + o.getAction() + "  " + o.getRule() + ": " + o.getMessage());
            out.println();
            out.println("placement (one task, on the nodes connected now):");
            Output.Table pools = new Output.Table("POOL", "NODES", "FEASIBLE", "BEST SCORE", "DATA MOVED", "WHY NOT");
            for (PolicyPoolTrial p : r.getPoolsList()) {
                List<String> why = new ArrayList<>();
                for (PolicyVetoCount v : p.getVetoesList()) {
                    why.add(v.getNodes() + " " + v.getReason() + (v.getFilter().startsWith("policy") ? " [" + v.getFilter() + "]" : "")
                            + (v.getTransient() ? " (busy now)" : ""));
                }
                pools.row(p.getPool(), p.getNodes(), p.getFeasible(), p.getFeasible() > 0 ? String.format(java.util.Locale.ROOT, "%.2f", p.getBestScore()) : "-",
                        p.getDataMove().isEmpty() ? "-" : p.getDataMove(), why.isEmpty() ? "-" : String.join("; ", why));
            }
            if (r.getPoolsCount() == 0) out.println("  no node is connected");
            else pools.print(out);
            out.println();
            out.println("bursting" + (r.hasBurstAfter() ? " (after waiting " + r.getBurstAfter().getSeconds() + " s for on-prem capacity)" : "") + ":");
            if (r.getOfferingsCount() == 0) {
                out.println("  no cloud offering fits a task of this job");
            } else {
                Output.Table offers = new Output.Table("OFFERING", "USD/H", "DATA MOVED", "VERDICT");
                r.getOfferingsList().stream().limit(OFFERINGS_SHOWN).forEach(o -> offers.row(o.getOffering(),
                        String.format(java.util.Locale.ROOT, "%.4f", dev.spillway.api.Usd.dollars(o.getPricePerHour())), o.getDataMove().isEmpty() ? "-" : o.getDataMove(),
                        o.getAllowed() ? "allowed" : "refused: " + o.getRule() + ": " + o.getReason()));
                offers.print(out);
                if (r.getOfferingsCount() > OFFERINGS_SHOWN) {
                    out.println("  ... " + (r.getOfferingsCount() - OFFERINGS_SHOWN) + " more (-o json lists them all); "
                            + r.getOfferingsList().stream().filter(PolicyOfferingTrial::getAllowed).count() + " of " + r.getOfferingsCount() + " allowed");
                }
            }
            return Spillway.OK;
        }
    }

    @Command(name = "what-if", description = {"Replay a workload under the set in force and under these files, side by side (finops or admin):",
            "jobs refused, waits per tenant, cloud spend per tenant and pool, quota borrowing, residency violations (must be 0)",
            "and why the results differ. The workload: the jobs submitted in the last --since (default 30d), or an SWF --trace.",
            "Runs on the broker's simulator; nothing is stored, placed or launched."})
    static final class WhatIf extends ClusterCommands.Base {
        @Parameters(paramLabel = "FILE", arity = "1..*", description = "The candidate policy files.")
        List<Path> files = new ArrayList<>();

        @Option(names = "--since", description = "Replay the jobs submitted in this last period: 12h, 7d, 30d (default), at most 90d.")
        String since;

        @Option(names = "--trace", paramLabel = "FILE.swf", description = "Replay this trace (Standard Workload Format) instead of the history.")
        Path trace;

        @Option(names = "--tenant-by", defaultValue = "user", description = "With --trace: the field that names a job's tenant: user, group or queue "
                + "(tenants user-<id>, ...; default ${DEFAULT-VALUE}).")
        String tenantBy;

        @Option(names = "--task-memory", defaultValue = "1Gi", description = "With --trace: memory each task asks for (default ${DEFAULT-VALUE}).")
        String taskMemory;

        @Option(names = "--spot-tolerant", description = "With --trace: the trace's tasks may run on spot capacity.")
        boolean spotTolerant;

        @Option(names = "--speedup", defaultValue = "1", description = "With --trace: arrivals come this many times faster (default ${DEFAULT-VALUE}).")
        double speedup;

        /** Tenants printed in the table; -o json has all. */
        private static final int TENANTS_SHOWN = 30;

        @Override
        Integer run(ManagedChannel channel) {
            if (since != null && trace != null) throw new Spillway.CliException(Spillway.INVALID, "give --since or --trace, not both");
            dev.spillway.api.v1.WhatIfRequest.Builder request = dev.spillway.api.v1.WhatIfRequest.newBuilder();
            for (Path f : files) request.addFiles(PolicyFile.newBuilder().setName(f.toString()).setText(read(f)));
            if (trace != null) {
                long mib;
                try {
                    mib = dev.spillway.api.Quantities.parseMemoryMib(taskMemory);
                } catch (IllegalArgumentException e) {
                    throw new Spillway.CliException(Spillway.INVALID, "--task-memory: " + e.getMessage());
                }
                if (!(speedup > 0)) throw new Spillway.CliException(Spillway.INVALID, "--speedup: a positive number");
                request.setTrace(dev.spillway.api.v1.SwfWorkload.newBuilder().setText(read(trace)).setTenantBy(tenantBy).setTaskMemoryMib(mib)
                        .setSpotTolerant(spotTolerant).setSpeedup(speedup));
            } else {
                java.time.Duration period = Decisions.period(since == null ? "30d" : since.trim());
                if (period == null) throw new Spillway.CliException(Spillway.INVALID, "--since: a period such as 12h, 7d or 30d, not '" + since + "'");
                request.setSince(com.google.protobuf.Duration.newBuilder().setSeconds(period.getSeconds()));
            }
            dev.spillway.api.v1.WhatIfResponse r;
            try {
                r = PolicyServiceGrpc.newBlockingStub(channel).withDeadlineAfter(15, java.util.concurrent.TimeUnit.MINUTES).whatIf(request.build());
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.INVALID_ARGUMENT || Spillway.violations(e).isEmpty()) throw e;
                PrintWriter err = spec.commandLine().getErr();
                for (BadRequest.FieldViolation v : Spillway.violations(e)) {
                    err.println(v.getField().startsWith("files") ? problem(v) : v.getField().startsWith("trace")
                            ? trace + ": " + v.getDescription() : "spillway: " + v.getField() + ": " + v.getDescription());
                }
                return Spillway.INVALID;
            }
            if (Output.structured(root().output, r, out())) return Spillway.OK;
            print(r, out());
            return Spillway.OK;
        }

        static void print(dev.spillway.api.v1.WhatIfResponse r, PrintWriter out) {
            var a = r.getCurrent();
            var b = r.getCandidate();
            out.printf(java.util.Locale.ROOT, "What-if over %d jobs (%d tasks): %s (in force) vs candidate, replayed in %.1f s%n", r.getJobs(),
                    r.getTasks(), a.getPolicyVersion(), r.getElapsed().getSeconds() + r.getElapsed().getNanos() / 1e9);
            out.println();
            Output.Table t = new Output.Table("", a.getPolicyVersion().toUpperCase(java.util.Locale.ROOT), "CANDIDATE");
            t.row("jobs refused", a.getRefusedJobs(), b.getRefusedJobs());
            t.row("tasks run", a.getTasksRun(), b.getTasksRun());
            t.row("tasks never placed", a.getTasksNeverPlaced(), b.getTasksNeverPlaced());
            t.row("mean wait", seconds(a.getMeanWaitSeconds()), seconds(b.getMeanWaitSeconds()));
            t.row("p95 wait", seconds(a.getP95WaitSeconds()), seconds(b.getP95WaitSeconds()));
            t.row("cloud spend", usd(dev.spillway.api.Usd.dollars(a.getCloudCost())), usd(dev.spillway.api.Usd.dollars(b.getCloudCost())));
            t.row("instances launched", a.getInstances(), b.getInstances());
            t.row("tasks by pool", new java.util.TreeMap<>(a.getTasksByPoolMap()), new java.util.TreeMap<>(b.getTasksByPoolMap()));
            t.row("residency violations", a.getResidencyViolations(), b.getResidencyViolations());
            t.print(out);
            for (String v : b.getResidencyViolationExamplesList()) out.println("  violation: " + v);
            out.println();
            out.println("Differences:");
            if (r.getDifferencesCount() == 0) out.println("  none: both sets place this workload alike");
            for (String d : r.getDifferencesList()) out.println("  " + d);
            out.println();
            out.println("Tenants (in force -> candidate):");
            Output.Table tenants = new Output.Table("TENANT", "JOBS", "REFUSED", "MEAN WAIT", "P95 WAIT", "CLOUD USD", "PEAK BORROWED CPU");
            r.getTenantsList().stream().limit(TENANTS_SHOWN).forEach(x -> {
                var c = x.getCurrent();
                var d = x.getCandidate();
                tenants.row(x.getTenant().isEmpty() ? "(none)" : x.getTenant(), c.getJobs(), c.getRefused() + " -> " + d.getRefused(),
                        seconds(c.getMeanWaitSeconds()) + " -> " + seconds(d.getMeanWaitSeconds()),
                        seconds(c.getP95WaitSeconds()) + " -> " + seconds(d.getP95WaitSeconds()),
                        usd(dev.spillway.api.Usd.dollars(c.getCloudCost())) + " -> " + usd(dev.spillway.api.Usd.dollars(d.getCloudCost())),
                        String.format(java.util.Locale.ROOT, "%.1f -> %.1f", c.getPeakBorrowedCpu(), d.getPeakBorrowedCpu()));
            });
            tenants.print(out);
            if (r.getTenantsCount() > TENANTS_SHOWN) out.println("  ... " + (r.getTenantsCount() - TENANTS_SHOWN) + " more (-o json lists them all)");
            out.println();
            out.println("Notes:");
            for (String n : r.getNotesList()) out.println("  " + n);
            out.flush();
        }

        private static String seconds(double s) {
            return String.format(java.util.Locale.ROOT, "%.0f s", s);
        }

        private static String usd(double usd) {
            return String.format(java.util.Locale.ROOT, "%.2f USD", usd);
        }
    }

    @Command(name = "rollback", description = "Apply the files of an earlier version again, as a new version (finops or admin).")
    static final class Rollback extends ClusterCommands.Base {
        @Parameters(paramLabel = "VERSION", description = "The version to go back to (from 'policy history').")
        long version;

        @Override
        Integer run(ManagedChannel channel) {
            if (version < 1) throw new Spillway.CliException(Spillway.INVALID, "VERSION: a version number from 'policy history' (1 or more)");
            GetPoliciesResponse old = PolicyServiceGrpc.newBlockingStub(channel).getPolicies(GetPoliciesRequest.newBuilder().setVersion(version).build());
            ApplyPoliciesRequest request = ApplyPoliciesRequest.newBuilder().addAllFiles(old.getFilesList())
                    .setComment("rollback to version " + version).build();
            return applied(channel, request, spec.commandLine().getErr(), out(), root());
        }
    }

    private static int applied(ManagedChannel channel, ApplyPoliciesRequest request, PrintWriter err, PrintWriter out, Spillway root) {
        ApplyPoliciesResponse r;
        try {
            r = PolicyServiceGrpc.newBlockingStub(channel).applyPolicies(request);
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() != Status.Code.INVALID_ARGUMENT) throw e;
            List<BadRequest.FieldViolation> problems = Spillway.violations(e);
            if (problems.isEmpty()) throw e;
            problems.forEach(v -> err.println(problem(v)));
            err.println("spillway: nothing was applied (" + problems.size() + (problems.size() == 1 ? " problem)" : " problems)"));
            return Spillway.INVALID;
        }
        if (Output.structured(root.output, r, out)) return Spillway.OK;
        err.println(r.getChanged()
                ? "policy version " + r.getVersion().getVersion() + " applied: " + describe(r.getVersion())
                : "unchanged: version " + r.getVersion().getVersion() + " is these files already");
        return Spillway.OK;
    }

    private static final Pattern FILE_PLACE = Pattern.compile("files\\[(.+)\\](:\\d+:\\d+)?");

    /** A problem the broker found, as compilers print them: {@code FILE:LINE:COLUMN: what}. */
    static String problem(BadRequest.FieldViolation v) {
        Matcher m = FILE_PLACE.matcher(v.getField());
        if (m.matches()) return m.group(1) + (m.group(2) == null ? "" : m.group(2)) + ": " + v.getDescription();
        return "spillway: " + v.getField() + ": " + v.getDescription();
    }

    static String describe(PolicyVersion v) {
        List<String> parts = new ArrayList<>();
        add(parts, v.getAdmissionRules(), "admission rule");
        add(parts, v.getPlacementFilters(), "placement filter");
        add(parts, v.getPlacementScorers(), "scorer");
        add(parts, v.getBurstRules(), "burst rule");
        add(parts, v.getTenants(), "tenant");
        add(parts, v.getDatasets(), "dataset");
        return parts.isEmpty() ? "nothing" : String.join(", ", parts);
    }

    private static void add(List<String> parts, int n, String what) {
        if (n > 0) parts.add(n + " " + what + (n == 1 ? "" : "s"));
    }

    private static String read(Path f) {
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(f))).toString();
        } catch (NoSuchFileException e) {
            throw new Spillway.CliException(Spillway.INVALID, "no such file: " + f);
        } catch (CharacterCodingException e) {
            throw new Spillway.CliException(Spillway.INVALID, f + ": not UTF-8 text");
        } catch (IOException e) {
            throw new Spillway.CliException(Spillway.INVALID, "cannot read " + f + ": " + e.getMessage());
        }
    }

    @Command(name = "decisions", description = {"The decision log, newest first: where each attempt ran, the policy version in force and",
            "what each rule said of it there (the residency proof). Your own tenant's (finops and admin: every tenant's)."})
    static final class Decisions extends ClusterCommands.Base {
        @Option(names = "--tenant", description = "Only this tenant's attempts.")
        String tenant;

        @Option(names = "--job", description = "Only this job's attempts.")
        String job;

        @Option(names = "--since", description = "Only attempts placed since then: a time ago (30m, 12h, 7d) or an RFC 3339 time.")
        String since;

        @Option(names = "--filter", description = {"Only attempts this filter (AIP-160) holds for, e.g. 'pool = aws-burst AND jurisdiction = EU'.",
                "Fields: tenant, pool, node, region, jurisdiction, task, attempt, policy_version, decide_time."})
        String filter;

        @Option(names = "--limit", defaultValue = "100", description = "At most this many (default ${DEFAULT-VALUE}).")
        int limit;

        @Override
        Integer run(ManagedChannel channel) {
            if (limit < 1) throw new Spillway.CliException(Spillway.INVALID, "--limit: 1 or more");
            dev.spillway.api.v1.ListDecisionsRequest.Builder req = dev.spillway.api.v1.ListDecisionsRequest.newBuilder();
            if (job != null) req.setParent(job);
            com.google.protobuf.Timestamp from = since == null ? null : since(since, java.time.Instant.now());
            req.setFilter(new FilterText().equal("tenant", tenant)
                    .time("decide_time", ">=", from == null ? null : java.time.Instant.ofEpochSecond(from.getSeconds(), from.getNanos()))
                    .written(filter).text());
            var stub = PolicyServiceGrpc.newBlockingStub(channel);
            var all = dev.spillway.api.v1.ListDecisionsResponse.newBuilder();
            String token = "";
            do {
                var page = stub.listDecisions(req.setPageToken(token).setPageSize(Math.min(1000, limit - all.getDecisionsCount())).build());
                all.addAllDecisions(page.getDecisionsList());
                token = page.getNextPageToken();
            } while (!token.isEmpty() && all.getDecisionsCount() < limit);
            if (Output.structured(root().output, all.build(), out())) return Spillway.OK;
            print(all.getDecisionsList(), out());
            return Spillway.OK;
        }

        /** One block per attempt: where, under which version, and what each rule said. */
        static void print(List<dev.spillway.api.v1.AttemptDecision> decisions, java.io.PrintWriter out) {
            if (decisions.isEmpty()) {
                out.println("No attempts were placed that match.");
                return;
            }
            for (var d : decisions) {
                out.printf("%s  %s/%d attempt %d  tenant %s%n", Output.time(d.getDecideTime()), d.getJob().substring("jobs/".length()), d.getTaskIndex(), d.getAttempt(), d.getTenant());
                out.printf("  on %s (pool %s, %s, jurisdiction %s)  policy version %s%n", d.getNode(), d.getPool(), d.getLocation(),
                        d.getJurisdiction().isEmpty() ? "none" : d.getJurisdiction(), d.getPolicyVersion() == 0 ? "none" : d.getPolicyVersion());
                out.println("  residency: " + d.getResidency());
                for (var r : d.getRulesList()) {
                    out.println("  " + r.getOutcome() + "  " + r.getRule() + (r.getDetail().isEmpty() ? "" : ": " + r.getDetail()));
                }
            }
            out.flush();
        }

        /** "30m", "12h", "7d" as a duration; null when the text is not one. */
        static java.time.Duration period(String t) {
            if (!t.matches("\\d{1,9}[dhm]")) return null;
            long n = Long.parseLong(t.substring(0, t.length() - 1));
            return switch (t.charAt(t.length() - 1)) {
                case 'd' -> java.time.Duration.ofDays(n);
                case 'h' -> java.time.Duration.ofHours(n);
                default -> java.time.Duration.ofMinutes(n);
            };
        }

        /** "7d", "12h", "30m" ago, or an RFC 3339 time. */
        static com.google.protobuf.Timestamp since(String text, java.time.Instant now) {
            String t = text.trim();
            java.time.Instant at;
            try {
                java.time.Duration ago = period(t);
                at = ago != null ? now.minus(ago) : java.time.OffsetDateTime.parse(t).toInstant();
            } catch (RuntimeException e) {
                throw new Spillway.CliException(Spillway.INVALID, "--since: a time ago (30m, 12h, 7d) or an RFC 3339 time, not '" + text + "'");
            }
            return com.google.protobuf.Timestamp.newBuilder().setSeconds(at.getEpochSecond()).setNanos(at.getNano()).build();
        }
    }
}
