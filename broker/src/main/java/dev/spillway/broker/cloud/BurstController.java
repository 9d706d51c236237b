package dev.spillway.broker.cloud;

import dev.spillway.api.v1.ConnectResponse;
import dev.spillway.api.v1.Drain;
import dev.spillway.broker.agent.AgentCredentials;
import dev.spillway.broker.agent.AgentSessions;
import dev.spillway.broker.agent.SchedulerWakeup;
import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.placement.SchedulingLoop;
import dev.spillway.broker.store.NodeStore;
import dev.spillway.core.burst.BurstPlanner;
import dev.spillway.core.burst.Demand;
import dev.spillway.core.burst.InstanceState;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.burst.PoolLimits;
import dev.spillway.core.burst.ProvisionPlan;
import dev.spillway.core.scheduling.Plan;
import dev.spillway.core.scheduling.Resources;
import dev.spillway.core.scheduling.Scorers;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.provider.spi.AgentBootstrap;
import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.Instance;
import dev.spillway.provider.spi.LaunchRequest;
import dev.spillway.provider.spi.Tags;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * The shell around the burst planner: turns waiting demand into cloud instances and hands them
 * back when idle. Each tick, on its own thread:
 * <ol>
 *   <li><b>reconcile</b> what the providers list with the records: instances that went away are
 *       closed, tagged instances nobody asked for are terminated, launches a crash interrupted are
 *       repeated (same idempotency key, so no duplicate);</li>
 *   <li><b>lifecycle</b>: instances whose agent registered are JOINED; those that never join in
 *       time are terminated;</li>
 *   <li><b>scale down</b>: JOINED instances idle for the pool's scale-down time are drained and
 *       terminated, down to the pool's minimum;</li>
 *   <li><b>burst</b>: the scheduler's unplaced tasks that may burst (no on-prem node could ever
 *       take them, or they waited longer than burst-after), minus what instances on their way will
 *       hold, go to the planner; each planned instance is recorded (REQUESTED) before it is
 *       launched with its record id as idempotency key. An offering that hits a capacity error is
 *       hidden for a while, and the next plan falls back to the next best.</li>
 * </ol>
 */
@ApplicationScoped
public class BurstController {

    private static final Logger LOG = Logger.getLogger(BurstController.class);
    private static final Duration RECONCILE_EVERY = Duration.ofSeconds(10);

    private final CloudPools pools;
    private final InstanceStore instances;
    private final NodeStore nodes;
    private final SchedulingLoop scheduling;
    private final SchedulerWakeup wakeup;
    private final AgentSessions sessions;
    private final AgentCredentials credentials;
    private final BrokerConfig config;
    private final BurstPlanner planner = new BurstPlanner();
    private final Map<String, Instant> hiddenUntil = new ConcurrentHashMap<>();
    /** Pools whose launches failed for a reason retrying cannot fix (credentials, settings), and until when they rest. */
    private final Map<String, Pause> pausedUntil = new ConcurrentHashMap<>();
    private static final Duration PAUSE_ON_SETUP_ERROR = Duration.ofMinutes(5);

    private record Pause(Instant until, String why) {
    }
    private final Map<String, Instant> idleSince = new ConcurrentHashMap<>();
    private volatile Map<UUID, String> burstReasons = Map.of();
    private ScheduledExecutorService timer;
    /** Launches of one tick run side by side on these. */
    private final java.util.concurrent.ExecutorService launcher = Executors.newFixedThreadPool(8, r -> {
        Thread t = new Thread(r, "spillway-launch");
        t.setDaemon(true);
        return t;
    });
    private Instant lastReconcile = Instant.EPOCH;

    public BurstController(CloudPools pools, InstanceStore instances, NodeStore nodes, SchedulingLoop scheduling, SchedulerWakeup wakeup,
                           AgentSessions sessions, AgentCredentials credentials, BrokerConfig config) {
        this.pools = pools;
        this.instances = instances;
        this.nodes = nodes;
        this.scheduling = scheduling;
        this.wakeup = wakeup;
        this.sessions = sessions;
        this.credentials = credentials;
        this.config = config;
    }

    void start(@Observes StartupEvent event) {
        if (pools.all().isEmpty()) return;
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spillway-burst");
            t.setDaemon(true);
            return t;
        });
        long period = config.burstInterval().toMillis();
        timer.scheduleWithFixedDelay(this::tick, period, period, TimeUnit.MILLISECONDS);
        LOG.infof("burst controller on for cloud pools %s", pools.all().keySet());
    }

    void stop(@Observes ShutdownEvent event) {
        if (timer != null) timer.shutdownNow();
        launcher.shutdownNow();
    }

    /** How each cloud pool stands for bursting, by pool name. */
    public io.smallrye.mutiny.Uni<Map<String, dev.spillway.api.v1.CloudPoolStatus>> status() {
        return instances.live().map(live -> {
            Instant now = Instant.now();
            Map<String, dev.spillway.api.v1.CloudPoolStatus> out = new HashMap<>();
            for (CloudPool pool : pools.all().values()) {
                List<Offering> usable = pool.offerings().stream().filter(o -> !hidden(o.id(), now)).toList();
                List<InstanceStore.InstanceRow> mine = live.stream().filter(r -> r.pool().equals(pool.name())).toList();
                Pause pause = paused(pool.name(), now);
                String status = pause != null ? "resting until " + pause.until().truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + " after: " + pause.why()
                        : pool.refreshError() != null ? "cannot read its offerings: " + pool.refreshError()
                        : usable.isEmpty() ? "no offering can be had now" : "ok";
                out.put(pool.name(), dev.spillway.api.v1.CloudPoolStatus.newBuilder()
                        .setOfferings(usable.size())
                        .setCheapestUsdPerHour(usable.stream().mapToDouble(Offering::priceUsdPerHour).min().orElse(0))
                        .setInstances(mine.size())
                        .setMaxNodes(pool.settings().maxNodes())
                        .setSpendUsdPerHour(mine.stream().mapToDouble(InstanceStore.InstanceRow::priceUsdPerHour).sum())
                        .setMaxSpendUsdPerHour(pool.settings().maxSpendUsdPerHour().orElse(0.0))
                        .setStatus(status)
                        .build());
            }
            return out;
        });
    }

    /** What the last burst decision said about a job's waiting tasks; null if nothing. */
    public String burstReason(UUID jobId) {
        return burstReasons.get(jobId);
    }

    private void tick() {
        try {
            Instant now = Instant.now();
            for (CloudPool pool : pools.all().values()) pool.refreshIfOlderThan(pool.settings().offeringsRefresh(), now);
            if (Duration.between(lastReconcile, now).compareTo(RECONCILE_EVERY) >= 0) {
                lastReconcile = now;
                reconcile();
            }
            List<InstanceStore.InstanceRow> live = instances.live().await().indefinitely();
            lifecycle(live, now);
            scaleDown(instances.live().await().indefinitely(), now);
            burst(instances.live().await().indefinitely(), now);
        } catch (RuntimeException e) {
            LOG.errorf(e, "burst controller tick failed; trying again");
        }
    }

    // ---- reconciliation ------------------------------------------------------------------------

    private void reconcile() {
        List<InstanceStore.InstanceRow> live = instances.live().await().indefinitely();
        Map<String, InstanceStore.InstanceRow> byRequest = new HashMap<>();
        live.forEach(r -> byRequest.put(r.id().toString(), r));
        for (CloudPool pool : pools.all().values()) {
            List<Instance> listed;
            try {
                listed = pool.provider().list(config.cluster());
            } catch (CapacityException e) {
                LOG.warnf("pool %s: cannot list instances (%s); reconciling later", pool.name(), e.getMessage());
                continue;
            }
            Set<String> seen = new HashSet<>();
            for (Instance i : listed) {
                if (!pool.name().equals(i.tags().get(Tags.POOL))) continue;
                String request = i.tags().get(Tags.REQUEST);
                seen.add(request);
                InstanceStore.InstanceRow row = byRequest.get(request);
                if (row == null && i.state() != Instance.State.TERMINATED) {
                    LOG.warnf("pool %s: instance %s carries our cluster tag but no live record asked for it: terminating the orphan",
                            pool.name(), i.id());
                    terminateQuietly(pool, i.id());
                } else if (row != null && i.state() == Instance.State.TERMINATED) {
                    closeGone(row, "the instance went away (terminated by the cloud, e.g. a spot interruption)");
                } else if (row != null && row.state() == InstanceState.REQUESTED) {
                    // Launched, but the broker stopped before recording it: adopt it rather than launch again.
                    instances.transition(row.id(), InstanceState.PROVISIONING, "launched before a broker restart; adopted", i.id())
                            .await().indefinitely();
                    LOG.infof("pool %s: adopted instance %s (%s) launched before a restart", pool.name(), i.id(), row.nodeName());
                }
            }
            for (InstanceStore.InstanceRow row : live) {
                if (!row.pool().equals(pool.name()) || seen.contains(row.id().toString())) continue;
                if (row.state() == InstanceState.REQUESTED) {
                    launch(pool, row, "repeating a launch that did not complete"); // same key: idempotent
                } else {
                    closeGone(row, "the instance no longer exists");
                }
            }
        }
    }

    private void closeGone(InstanceStore.InstanceRow row, String why) {
        if (instances.transition(row.id(), InstanceState.TERMINATED, why, null).await().indefinitely()) {
            LOG.infof("instance %s (%s) closed: %s", row.nodeName(), row.instanceType(), why);
            wakeup.wake();
        }
    }

    // ---- lifecycle -------------------------------------------------------------------------------

    private void lifecycle(List<InstanceStore.InstanceRow> live, Instant now) {
        for (InstanceStore.InstanceRow row : live) {
            CloudPool pool = pools.get(row.pool());
            if (pool == null) continue;
            if (row.state() == InstanceState.REQUESTED && Duration.between(row.requestedAt(), now).compareTo(Duration.ofMinutes(1)) > 0) {
                launch(pool, row, "retrying a launch");
            }
            if (row.state() != InstanceState.PROVISIONING) continue;
            if (sessions.get(row.nodeName()) != null) {
                if (instances.transition(row.id(), InstanceState.JOINED, "agent registered", null).await().indefinitely()) {
                    LOG.infof("instance %s joined pool %s (%s, %.4f USD/h)", row.nodeName(), row.pool(), row.instanceType(), row.priceUsdPerHour());
                }
            } else if (row.launchedAt() != null && Duration.between(row.launchedAt(), now).compareTo(pool.settings().joinTimeout()) > 0) {
                LOG.warnf("instance %s did not join within %s: terminating it", row.nodeName(), pool.settings().joinTimeout());
                terminateQuietly(pool, row.providerInstance());
                instances.transition(row.id(), InstanceState.FAILED, "never joined within " + pool.settings().joinTimeout(), null)
                        .await().indefinitely();
            }
        }
    }

    // ---- scale down ------------------------------------------------------------------------------

    private void scaleDown(List<InstanceStore.InstanceRow> live, Instant now) {
        Map<String, NodeStore.Allocation> busy = nodes.allocations().await().indefinitely();
        Map<String, Long> joinedPerPool = live.stream().filter(r -> r.state() == InstanceState.JOINED)
                .collect(Collectors.groupingBy(InstanceStore.InstanceRow::pool, Collectors.counting()));
        for (InstanceStore.InstanceRow row : live) {
            CloudPool pool = pools.get(row.pool());
            if (pool == null || row.state() != InstanceState.JOINED) continue;
            if (busy.containsKey(row.nodeName())) {
                idleSince.remove(row.nodeName());
                continue;
            }
            Instant idle = idleSince.computeIfAbsent(row.nodeName(), n -> now);
            long joined = joinedPerPool.getOrDefault(row.pool(), 0L);
            if (Duration.between(idle, now).compareTo(pool.settings().scaleDownAfter()) < 0 || joined <= pool.settings().minNodes()) continue;
            String why = "idle for " + pool.settings().scaleDownAfter().toSeconds() + " s";
            if (!instances.transition(row.id(), InstanceState.DRAINING, why, null).await().indefinitely()) continue;
            joinedPerPool.merge(row.pool(), -1L, Long::sum);
            idleSince.remove(row.nodeName());
            LOG.infof("scaling down pool %s: draining and terminating %s (%s)", row.pool(), row.nodeName(), why);
            sessions.send(row.nodeName(), ConnectResponse.newBuilder().setDrain(Drain.newBuilder().setReason(why)).build());
            terminateQuietly(pool, row.providerInstance());
            instances.transition(row.id(), InstanceState.TERMINATED, why, null).await().indefinitely();
        }
    }

    // ---- burst -------------------------------------------------------------------------------------

    private void burst(List<InstanceStore.InstanceRow> live, Instant now) {
        List<Demand> demand = burstableDemand(now);
        demand = withoutWhatIsComing(demand, live);
        Map<UUID, String> reasons = new HashMap<>();
        if (demand.isEmpty()) {
            burstReasons = reasons;
            return;
        }
        List<Offering> offerings = new ArrayList<>();
        List<PoolLimits> limits = new ArrayList<>();
        for (CloudPool pool : pools.all().values()) {
            if (paused(pool.name(), now) != null) continue;
            pool.offerings().stream().filter(o -> !hidden(o.id(), now)).forEach(offerings::add);
            List<InstanceStore.InstanceRow> mine = live.stream().filter(r -> r.pool().equals(pool.name())).toList();
            double spend = mine.stream().mapToDouble(InstanceStore.InstanceRow::priceUsdPerHour).sum();
            limits.add(new PoolLimits(pool.name(), Math.max(0, pool.settings().maxNodes() - mine.size()),
                    pool.settings().maxSpendUsdPerHour().map(cap -> Math.max(0, cap - spend)).orElse(Double.POSITIVE_INFINITY),
                    Set.copyOf(pool.settings().instanceTypes().orElse(List.of()))));
        }
        ProvisionPlan plan = planner.plan(demand, offerings, limits);
        List<java.util.concurrent.Future<?>> launching = new ArrayList<>();
        for (ProvisionPlan.Instance planned : plan.instances()) {
            CloudPool pool = pools.get(planned.offering().pool());
            UUID id = UUID.randomUUID();
            String nodeName = pool.name() + "-" + id.toString().substring(0, 8);
            Offering o = planned.offering();
            String why = String.format(Locale.ROOT, "%s%s in %s at %.4f USD/h for %d waiting task(s)", o.instanceType(),
                    o.spot() ? " (spot)" : "", o.zone(), o.priceUsdPerHour(), planned.tasks().size());
            LOG.infof("bursting to pool %s: %s", pool.name(), why);
            instances.insertRequested(id, pool.name(), nodeName, o.instanceType(), o.region(), o.zone(), o.spot(), o.priceUsdPerHour(),
                    o.shape(), why).await().indefinitely();
            planned.tasks().forEach(t -> reasons.merge(UUID.fromString(t.jobId()), "bursting: " + nodeName + " " + why, (a, b) -> a));
            InstanceStore.InstanceRow row = instances.live().await().indefinitely().stream().filter(r -> r.id().equals(id)).findFirst().orElseThrow();
            launching.add(launcher.submit(() -> launch(pool, row, why)));
        }
        // Cloud launches take seconds (Azure follows each VM's creation): they run side by side, and the tick waits for all.
        for (var f : launching) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (java.util.concurrent.ExecutionException e) {
                LOG.errorf(e.getCause(), "a launch failed unexpectedly; its record stays REQUESTED and is retried");
            }
        }
        String problems = poolProblems(now);
        plan.notCovered().forEach((task, why) -> reasons.putIfAbsent(UUID.fromString(task.jobId()), "not bursting: " + why + problems));
        burstReasons = reasons;
    }

    private Pause paused(String pool, Instant now) {
        Pause p = pausedUntil.get(pool);
        return p != null && p.until().isAfter(now) ? p : null;
    }

    /** Why some cloud pools are not planned with now, for the explanation of tasks left waiting; empty when none. */
    private String poolProblems(Instant now) {
        List<String> problems = new ArrayList<>();
        for (CloudPool pool : pools.all().values()) {
            Pause p = paused(pool.name(), now);
            if (p != null) {
                problems.add("pool " + pool.name() + " rests until " + p.until().truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + " after: " + p.why());
            } else if (pool.offerings().isEmpty() && pool.refreshError() != null) {
                problems.add("pool " + pool.name() + " cannot read its offerings: " + pool.refreshError());
            }
        }
        return problems.isEmpty() ? "" : " (" + String.join("; ", problems) + ")";
    }

    /** Unplaced tasks that policy lets burst: nothing on-prem could ever take them, or they waited past burst-after. */
    private List<Demand> burstableDemand(Instant now) {
        Duration burstAfter = pools.all().values().stream().map(p -> p.settings().burstAfter()).min(Duration::compareTo).orElseThrow();
        List<Demand> out = new ArrayList<>();
        for (Plan.Unplaced u : scheduling.lastUnplaced()) {
            boolean staticOnly = !u.why().waitingCanHelp();
            Duration waited = Duration.ofMillis(now.toEpochMilli() - u.task().queuedAtMillis());
            if (!staticOnly && waited.compareTo(burstAfter) < 0) continue;
            TaskShape shape = u.task().shape();
            if (!shape.pools().isEmpty() && shape.pools().stream().noneMatch(pools.all()::containsKey)) continue;
            out.add(new Demand(u.task().ref(), shape.request(), shape.jurisdictions(), shape.spotTolerant()));
        }
        return out;
    }

    /** Takes out the demand that instances already on their way (not yet joined) will hold, first fit. */
    private List<Demand> withoutWhatIsComing(List<Demand> demand, List<InstanceStore.InstanceRow> live) {
        List<long[]> room = new ArrayList<>();
        List<InstanceStore.InstanceRow> coming = new ArrayList<>();
        for (InstanceStore.InstanceRow r : live) {
            if (r.state() != InstanceState.REQUESTED && r.state() != InstanceState.PROVISIONING) continue;
            coming.add(r);
            room.add(new long[] {r.shape().cpuMillis(), r.shape().memoryMib(), r.shape().gpus()});
        }
        if (coming.isEmpty()) return demand;
        List<Demand> left = new ArrayList<>();
        for (Demand d : demand) {
            boolean placed = false;
            for (int i = 0; i < coming.size() && !placed; i++) {
                InstanceStore.InstanceRow r = coming.get(i);
                CloudPool pool = pools.get(r.pool());
                long[] free = room.get(i);
                Resources q = d.request();
                boolean allowed = (d.spotTolerant() || !r.spot())
                        && (d.jurisdictions().isEmpty() || (pool != null && d.jurisdictions().contains(pool.jurisdiction())));
                if (allowed && q.cpuMillis() <= free[0] && q.memoryMib() <= free[1] && q.gpus() <= free[2]) {
                    free[0] -= q.cpuMillis();
                    free[1] -= q.memoryMib();
                    free[2] -= q.gpus();
                    placed = true;
                }
            }
            if (!placed) left.add(d);
        }
        return left;
    }

    private boolean hidden(String offeringId, Instant now) {
        Instant until = hiddenUntil.get(offeringId);
        return until != null && until.isAfter(now);
    }

    private void launch(CloudPool pool, InstanceStore.InstanceRow row, String why) {
        String offeringId = pool.name() + ":" + row.zone() + ":" + row.instanceType() + (row.spot() ? ":spot" : ":on-demand");
        Map<String, String> labels = Map.of(
                Scorers.CLOUD_LABEL, "true",
                TaskShape.SPOT_LABEL, Boolean.toString(row.spot()),
                TaskShape.JURISDICTION_LABEL, pool.jurisdiction(),
                "spillway.dev/instance-type", row.instanceType(),
                "spillway.dev/zone", row.zone());
        try {
            var token = credentials.mintJoinToken(row.nodeName(), pool.name(), pool.settings().joinTimeout()).await().indefinitely();
            String broker = config.advertisedAddress().orElse(BrokerAddress.local());
            failpoint("burst.before-launch");
            Instance launched = pool.provider().launch(new LaunchRequest(row.id().toString(), row.instanceType(), row.region(), row.zone(),
                    row.spot(), row.spot() ? row.priceUsdPerHour() * 1.5 : 0,
                    Map.of(Tags.CLUSTER, config.cluster(), Tags.POOL, pool.name(), Tags.REQUEST, row.id().toString()),
                    new AgentBootstrap(broker, token.token(), row.nodeName(), pool.name(), labels)));
            failpoint("burst.after-launch");
            instances.transition(row.id(), InstanceState.PROVISIONING, why, launched.id()).await().indefinitely();
        } catch (CapacityException e) {
            if (e.offeringUnavailable()) {
                hiddenUntil.put(offeringId, Instant.now().plus(pool.settings().capacityErrorBackoff()));
                LOG.warnf("pool %s: %s (%s); hiding %s for %s and falling back", pool.name(), e.kind(), e.getMessage(), offeringId,
                        pool.settings().capacityErrorBackoff());
                instances.transition(row.id(), InstanceState.FAILED, e.kind() + ": " + e.getMessage(), null).await().indefinitely();
            } else if (e.kind() == CapacityException.Kind.UNAUTHORIZED || e.kind() == CapacityException.Kind.INVALID_CONFIGURATION) {
                // Retrying cannot help until someone fixes the credentials or the pool's settings.
                Instant until = Instant.now().plus(PAUSE_ON_SETUP_ERROR);
                pausedUntil.put(pool.name(), new Pause(until, e.getMessage()));
                LOG.errorf("pool %s: %s; no launches in this pool until %s", pool.name(), e.getMessage(), until);
                instances.transition(row.id(), InstanceState.FAILED, e.kind() + ": " + e.getMessage(), null).await().indefinitely();
            } else {
                // Unavailable or throttled: the record stays REQUESTED and the launch is retried with the same key.
                LOG.warnf("pool %s: launch of %s failed (%s: %s); retrying later", pool.name(), row.nodeName(), e.kind(), e.getMessage());
            }
        }
    }

    /** Crash-recovery testing: halt here, as kill -9 would, when configured to (see BrokerConfig#failpoint). */
    private void failpoint(String name) {
        if (config.failpoint().filter(name::equals).isPresent()) {
            LOG.warnf("failpoint %s: halting the broker", name);
            Runtime.getRuntime().halt(137);
        }
    }

    private void terminateQuietly(CloudPool pool, String providerInstance) {
        if (providerInstance == null) return;
        try {
            pool.provider().terminate(providerInstance);
        } catch (CapacityException e) {
            LOG.warnf("pool %s: terminating %s failed (%s); reconciliation will retry", pool.name(), providerInstance, e.getMessage());
        }
    }
}
