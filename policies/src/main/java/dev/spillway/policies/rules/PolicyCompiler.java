package dev.spillway.policies.rules;

import dev.spillway.policies.cel.CelBounds;
import dev.spillway.policies.cel.CelCompilation;
import dev.spillway.policies.cel.CompiledExpression;
import dev.spillway.policies.cel.ResultKind;
import dev.spillway.policies.document.DatasetDoc;
import dev.spillway.policies.document.Document;
import dev.spillway.policies.document.DocumentParser;
import dev.spillway.policies.document.EgressPricesDoc;
import dev.spillway.policies.document.Expression;
import dev.spillway.policies.document.ParseResult;
import dev.spillway.policies.document.PolicyDoc;
import dev.spillway.policies.document.Problem;
import dev.spillway.policies.document.QueueDoc;
import dev.spillway.policies.document.SourceFile;
import dev.spillway.policies.document.TenantDoc;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Applies policy files: parses every document, compiles and type-checks every CEL expression, and
 * returns either a complete {@link PolicySet} or every problem, each with its file, line and column.
 * Thread-safe.
 */
public final class PolicyCompiler {

    private final CelCompilation cel;

    public PolicyCompiler() {
        this(CelBounds.DEFAULT);
    }

    public PolicyCompiler(CelBounds bounds) {
        this.cel = new CelCompilation(bounds, Variables.TYPES);
    }

    public CompileResult compile(String fileName, String text) {
        return compile(List.of(new SourceFile(fileName, text)));
    }

    public CompileResult compile(List<SourceFile> files) {
        ParseResult parsed = DocumentParser.parse(files);
        if (!parsed.ok()) return new CompileResult(null, parsed.problems());
        List<Problem> problems = new ArrayList<>();
        Map<String, TenantDoc> tenants = new LinkedHashMap<>();
        Map<String, QueueDoc> queues = new LinkedHashMap<>();
        Map<String, DatasetDoc> datasets = new LinkedHashMap<>();
        EgressCost egress = EgressCost.DEFAULTS;
        List<PolicySet.Admission> admission = new ArrayList<>();
        List<PolicySet.Filter> filters = new ArrayList<>();
        List<PolicySet.Scorer> scorers = new ArrayList<>();
        List<PolicySet.Burst> burst = new ArrayList<>();
        for (Document d : parsed.documents()) {
            if (d instanceof TenantDoc t) tenants.put(t.name(), t);
            else if (d instanceof QueueDoc q) queues.put(q.name(), q);
            else if (d instanceof DatasetDoc ds) datasets.put(ds.name(), ds);
            else if (d instanceof EgressPricesDoc e) egress = new EgressCost(e.prices());
            else if (d instanceof PolicyDoc p) compilePolicy(p, problems, admission, filters, scorers, burst);
        }
        if (!problems.isEmpty()) return new CompileResult(null, problems);
        return new CompileResult(new PolicySet(version(files), tenants, queues, datasets, egress, admission, filters, scorers, burst), List.of());
    }

    private void compilePolicy(PolicyDoc p, List<Problem> problems, List<PolicySet.Admission> admission, List<PolicySet.Filter> filters,
                               List<PolicySet.Scorer> scorers, List<PolicySet.Burst> burst) {
        for (PolicyDoc.AdmissionRule r : p.admission()) {
            CompiledExpression match = compile(r.match(), Variables.ADMISSION, ResultKind.BOOL, problems);
            CompiledExpression message = compile(r.message(), Variables.ADMISSION, ResultKind.STRING, problems);
            if (match != null && message != null) admission.add(new PolicySet.Admission(p.name(), r, match, message));
        }
        for (PolicyDoc.FilterRule r : p.filters()) {
            CompiledExpression match = compile(r.match(), Variables.PLACEMENT, ResultKind.BOOL, problems);
            CompiledExpression message = compile(r.message(), Variables.PLACEMENT, ResultKind.STRING, problems);
            if (match != null && message != null) {
                boolean cacheable = !match.selectsAny(Variables.NODE_LIVE_FIELDS) && !message.selectsAny(Variables.NODE_LIVE_FIELDS);
                filters.add(new PolicySet.Filter(p.name(), r, match, message, cacheable));
            }
        }
        for (PolicyDoc.ScorerRule r : p.scorers()) {
            CompiledExpression score = compile(r.score(), Variables.PLACEMENT, ResultKind.NUMBER, problems);
            if (score != null) scorers.add(new PolicySet.Scorer(p.name(), r, score, !score.selectsAny(Variables.NODE_LIVE_FIELDS)));
        }
        for (PolicyDoc.BurstRule r : p.burst()) {
            boolean ok = true;
            CompiledExpression match = null;
            CompiledExpression deny = null;
            CompiledExpression message = null;
            if (r.match() != null) ok &= (match = compile(r.match(), Variables.BURST_MATCH, ResultKind.BOOL, problems)) != null;
            if (r.deny() != null) ok &= (deny = compile(r.deny(), Variables.BURST_OFFERING, ResultKind.BOOL, problems)) != null;
            if (r.message() != null) ok &= (message = compile(r.message(), Variables.BURST_OFFERING, ResultKind.STRING, problems)) != null;
            if (r.message() != null && r.deny() == null) {
                problems.add(Problem.at(r.message().start(), "'message' of a burst rule is the reason given when 'deny' refuses; add 'deny' or remove it"));
                ok = false;
            }
            if (ok) burst.add(new PolicySet.Burst(p.name(), r, match, deny, message));
        }
    }

    private CompiledExpression compile(Expression e, CelCompilation.Scope scope, ResultKind kind, List<Problem> problems) {
        CelCompilation.Outcome outcome = cel.compile(e, scope, kind);
        problems.addAll(outcome.problems());
        return outcome.compiled();
    }

    /** SHA-256 over the files' names and texts, in order. */
    static String version(List<SourceFile> files) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            for (SourceFile f : files) {
                byte[] name = f.name().getBytes(StandardCharsets.UTF_8);
                byte[] text = f.text().getBytes(StandardCharsets.UTF_8);
                digest.update(longBytes(name.length));
                digest.update(name);
                digest.update(longBytes(text.length));
                digest.update(text);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java platform", e);
        }
    }

    private static byte[] longBytes(long v) {
        byte[] b = new byte[8];
        for (int i = 7; i >= 0; i--) {
            b[i] = (byte) v;
            v >>>= 8;
        }
        return b;
    }
}
