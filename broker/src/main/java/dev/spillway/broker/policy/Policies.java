package dev.spillway.broker.policy;

import dev.spillway.api.v1.JobSpec;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.broker.errors.Violation;
import dev.spillway.broker.store.PolicyStore;
import dev.spillway.core.access.Caller;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.policies.document.Problem;
import dev.spillway.policies.document.SourceFile;
import dev.spillway.policies.rules.CompileResult;
import dev.spillway.policies.rules.JobFacts;
import dev.spillway.policies.rules.PolicyCompiler;
import dev.spillway.policies.rules.PolicySet;
import dev.spillway.policies.rules.PoolFacts;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * The policy set in force: compiled once when it is applied (or when the broker starts, from the
 * version stored last), then read by admission, placement and bursting. Applying checks every
 * document and expression first and stores nothing unless all of them hold.
 */
@ApplicationScoped
public class Policies {

    private static final Logger LOG = Logger.getLogger(Policies.class);
    /** Most files in one set. */
    static final int MAX_FILES = 100;
    /** Most bytes of UTF-8 in one file. */
    static final int MAX_FILE_BYTES = 1 << 20;
    static final int MAX_COMMENT = 500;
    private static final java.util.regex.Pattern QUEUE_NAME = java.util.regex.Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    /**
     * The set in force: none (nothing was ever applied), a compiled set, or a stored version this
     * broker cannot compile (it was applied by another broker version): then {@code problem} says
     * why, and admission refuses rather than run without the rules.
     */
    public record InForce(long version, PolicySet set, String problem) {
        static final InForce NONE = new InForce(0, null, null);
    }

    private final PolicyStore store;
    private final PolicyCompiler compiler = new PolicyCompiler();
    private volatile InForce inForce = InForce.NONE;

    public Policies(PolicyStore store) {
        this.store = store;
    }

    void load(@Observes StartupEvent started) {
        follow(store.current().await().atMost(Duration.ofSeconds(60)));
        follower = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spillway-policies");
            t.setDaemon(true);
            return t;
        });
        follower.scheduleWithFixedDelay(this::followQuietly, FOLLOW_EVERY.toMillis(), FOLLOW_EVERY.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    void stop(@Observes io.quarkus.runtime.ShutdownEvent event) {
        if (follower != null) follower.shutdownNow();
    }

    /** How often a broker looks for a version applied through another broker (the same database). */
    static final Duration FOLLOW_EVERY = Duration.ofSeconds(3);
    private java.util.concurrent.ScheduledExecutorService follower;

    /** Puts a version applied through another broker in force here too. */
    private void followQuietly() {
        try {
            long newest = store.currentVersion().await().atMost(Duration.ofSeconds(30));
            if (newest > inForce.version()) follow(store.current().await().atMost(Duration.ofSeconds(30)));
        } catch (RuntimeException e) {
            LOG.debugf("could not look for a newer policy version: %s", e.getMessage());
        }
    }

    private synchronized void follow(PolicyStore.Version stored) {
        if (stored == null || stored.version() <= inForce.version()) return;
        CompileResult compiled = compiler.compile(sources(stored.files()));
        if (compiled.policySet() == null) {
            String why = compiled.problems().size() + " problem(s), first " + compiled.problems().get(0);
            LOG.errorf("policy version %d does not compile with this broker (%s): jobs are refused until a set that does is applied",
                    stored.version(), why);
            inForce = new InForce(stored.version(), null, why);
        } else {
            inForce = new InForce(stored.version(), compiled.policySet(), null);
            LOG.infof("policy version %d in force: %s", stored.version(), compiled.policySet().summary());
        }
    }

    /**
     * The spec as its queue makes it: the queue's tenant when the spec names none, the queue's
     * {@code defaultPriority} when it sets no priority. A spec without a queue is returned as it
     * is. Refused ({@link InvalidRequest} on {@code spec.queue}) when no Queue document of that
     * name is in force, or the queue belongs to another tenant than the spec names.
     */
    public JobSpec withQueue(JobSpec spec) {
        if (spec.getQueue().isEmpty()) return spec;
        if (!QUEUE_NAME.matcher(spec.getQueue()).matches()) {
            throw InvalidRequest.of("spec.queue", "a queue's name is lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit");
        }
        PolicySet set = inForce.set();
        var queue = set == null ? null : set.queues().get(spec.getQueue());
        if (queue == null) {
            String known = set == null || set.queues().isEmpty() ? "no Queue document is in force"
                    : "queues in force: " + String.join(", ", new java.util.TreeSet<>(set.queues().keySet()));
            throw InvalidRequest.of("spec.queue", "no queue named '" + spec.getQueue() + "' (" + known + ")");
        }
        if (!spec.getTenant().isEmpty() && !spec.getTenant().equals(queue.tenant())) {
            throw InvalidRequest.of("spec.queue", "queue " + queue.name() + " belongs to tenant " + queue.tenant() + ", not " + spec.getTenant());
        }
        JobSpec.Builder b = spec.toBuilder().setTenant(queue.tenant());
        if (!spec.hasPriority()) b.setPriority(queue.defaultPriority());
        return b.build();
    }

    public InForce inForce() {
        return inForce;
    }

    /**
     * Checks and stores {@code files} as the new set. Fails with {@link InvalidRequest} (one
     * violation per problem, {@code files[NAME]:LINE:COLUMN}) and stores nothing when any document
     * or expression is wrong.
     */
    public Uni<PolicyStore.Applied> apply(List<PolicyStore.File> files, String comment, Caller by) {
        return compiled(files, comment).flatMap(set -> store.apply(set.version(), files, by.subject(), comment, set.summary()).invoke(applied -> {
            synchronized (this) {
                if (applied.version().version() >= inForce.version()) inForce = new InForce(applied.version().version(), set, null);
            }
            if (applied.changed()) {
                LOG.infof("policy version %d applied by %s: %s", applied.version().version(), by.subject(), set.summary());
            }
        }));
    }

    /**
     * The set {@code files} would be, checked and compiled as {@link #apply} does, stored nowhere;
     * the set in force when {@code files} is empty (null when none is).
     */
    public Uni<PolicySet> candidate(List<PolicyStore.File> files) {
        if (files.isEmpty()) {
            InForce now = inForce;
            if (now.set() == null && now.problem() != null) {
                return Uni.createFrom().failure(InvalidRequest.of("files", "the set in force (version " + now.version()
                        + ") cannot be evaluated by this broker: " + now.problem() + "; give the files to test"));
            }
            return Uni.createFrom().item(now.set());
        }
        return compiled(files, "");
    }

    /** Checks the files' sizes and names, then compiles them off the event loop; fails with every problem found. */
    private Uni<PolicySet> compiled(List<PolicyStore.File> files, String comment) {
        List<Violation> invalid = new ArrayList<>();
        if (files.isEmpty()) invalid.add(new Violation("files", "at least one policy file"));
        if (files.size() > MAX_FILES) invalid.add(new Violation("files", "at most " + MAX_FILES + " files"));
        if (comment.length() > MAX_COMMENT) invalid.add(new Violation("comment", "at most " + MAX_COMMENT + " characters"));
        if (hasControl(comment, false)) invalid.add(new Violation("comment", "no control characters"));
        Set<String> names = new HashSet<>();
        for (int i = 0; i < files.size(); i++) {
            PolicyStore.File f = files.get(i);
            String field = "files[" + i + "]";
            if (f.name().isBlank()) invalid.add(new Violation(field + ".name", "a file name, e.g. eu.yaml"));
            else if (!names.add(f.name())) invalid.add(new Violation(field + ".name", "file " + f.name() + " is given twice"));
            if (f.name().length() > 200 || hasControl(f.name(), false)) invalid.add(new Violation(field + ".name", "at most 200 characters, none of them control characters"));
            if (f.text().getBytes(StandardCharsets.UTF_8).length > MAX_FILE_BYTES) invalid.add(new Violation(field + ".text", "at most 1 MiB"));
            if (hasControl(f.text(), true)) invalid.add(new Violation(field + ".text", "no control characters other than tab, line feed and carriage return"));
        }
        if (!invalid.isEmpty()) return Uni.createFrom().failure(new InvalidRequest(invalid));
        // Compiling type-checks every expression: CPU work, off the event loop.
        return Uni.createFrom().item(() -> compiler.compile(sources(files)))
                .runSubscriptionOn(Infrastructure.getDefaultWorkerPool())
                .flatMap(compiled -> compiled.policySet() == null
                        ? Uni.createFrom().failure(new InvalidRequest(compiled.problems().stream().map(Policies::violation).toList()))
                        : Uni.createFrom().item(compiled.policySet()));
    }

    /** What the rules may know of each configured pool ({@code node.kind}, {@code node.region}, ...); no prices yet. */
    public static Map<String, PoolFacts> poolFacts(BrokerConfig config) {
        Map<String, PoolFacts> facts = new HashMap<>();
        config.pools().forEach((name, p) -> facts.put(name, new PoolFacts(name, p.kind(), p.region().orElse(""), p.jurisdiction().orElse(null), 0)));
        return Map.copyOf(facts);
    }

    /** What the rules may know of a job ({@code job} in CEL), from its spec; no cost estimate yet. */
    public static JobFacts jobFacts(JobSpec spec) {
        var r = spec.getTask().getResources();
        return new JobFacts(spec.getName(), spec.getTenant(), spec.getQueue(), spec.getPriority(), spec.getLabelsMap(), spec.getTaskCount(),
                new Resources(r.getCpuMillis(), r.getMemoryMib(), r.getGpus()), spec.getDatasetsList(),
                Set.copyOf(spec.getTask().getJurisdictionsList()), 0);
    }

    static Violation violation(Problem p) {
        String where = "files[" + p.file() + "]" + (p.line() > 0 ? ":" + p.line() + ":" + p.column() : "");
        return new Violation(where, p.message());
    }

    private static List<SourceFile> sources(List<PolicyStore.File> files) {
        return files.stream().map(f -> new SourceFile(f.name(), f.text())).toList();
    }

    private static boolean hasControl(String s, boolean text) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (text && (c == '\n' || c == '\t' || c == '\r')) continue;
            if (c < 0x20 || c == 0x7f) return true;
        }
        return false;
    }
}
