package dev.spillway.policies.rules;

import dev.cel.common.types.CelType;
import dev.cel.common.types.ListType;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.spillway.core.burst.Offering;
import dev.spillway.core.scheduling.NodeSlot;
import dev.spillway.core.scheduling.Scorers;
import dev.spillway.core.scheduling.TaskShape;
import dev.spillway.policies.cel.CelCompilation;
import dev.spillway.policies.cel.StructDecl;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The typed variables policy expressions see, and which expressions see which. Field names are
 * part of the policy language: renaming one breaks written policies.
 */
final class Variables {

    private Variables() {}

    private static final CelType STRING_MAP = MapType.create(SimpleType.STRING, SimpleType.STRING);
    private static final CelType INT_MAP = MapType.create(SimpleType.STRING, SimpleType.INT);
    private static final CelType STRINGS = ListType.create(SimpleType.STRING);

    static final StructDecl<JobFacts> JOB = StructDecl.<JobFacts>named("spillway.Job")
            .field("name", SimpleType.STRING, JobFacts::name)
            .field("tenant", SimpleType.STRING, JobFacts::tenant)
            .field("queue", SimpleType.STRING, JobFacts::queue)
            .field("priority", SimpleType.INT, j -> (long) j.priority())
            .field("labels", STRING_MAP, JobFacts::labels)
            .field("tasks", SimpleType.INT, j -> (long) j.tasks())
            .field("cpuMillis", SimpleType.INT, j -> j.perTask().cpuMillis())
            .field("memoryMib", SimpleType.INT, j -> j.perTask().memoryMib())
            .field("gpus", SimpleType.INT, j -> (long) j.perTask().gpus())
            .field("datasets", STRINGS, JobFacts::datasets)
            .field("jurisdictions", STRINGS, j -> sorted(j.jurisdictions()))
            .field("estimatedCostUsd", SimpleType.DOUBLE, JobFacts::estimatedCostUsd)
            .build();

    static final StructDecl<TenantFacts> TENANT = StructDecl.<TenantFacts>named("spillway.Tenant")
            .field("name", SimpleType.STRING, TenantFacts::name)
            .field("cohort", SimpleType.STRING, TenantFacts::cohort)
            .field("usage", INT_MAP, TenantFacts::usage)
            .field("quota", INT_MAP, TenantFacts::quota)
            .field("budgetUsd", SimpleType.DOUBLE, TenantFacts::budgetUsd)
            .field("spentUsd", SimpleType.DOUBLE, TenantFacts::spentUsd)
            .field("budgetState", SimpleType.STRING, TenantFacts::budgetState)
            .build();

    static final StructDecl<TaskShape> TASK = StructDecl.<TaskShape>named("spillway.Task")
            .field("cpuMillis", SimpleType.INT, t -> t.request().cpuMillis())
            .field("memoryMib", SimpleType.INT, t -> t.request().memoryMib())
            .field("gpus", SimpleType.INT, t -> (long) t.request().gpus())
            .field("nodeSelector", STRING_MAP, TaskShape::nodeSelector)
            .field("pools", STRINGS, t -> sorted(t.pools()))
            .field("jurisdictions", STRINGS, t -> sorted(t.jurisdictions()))
            .field("spotTolerant", SimpleType.BOOL, TaskShape::spotTolerant)
            .build();

    /** Fields of {@code node} that change within a cycle: expressions reading them are evaluated every time, never remembered. */
    static final Set<String> NODE_LIVE_FIELDS = Set.of("freeCpuMillis", "freeMemoryMib", "freeGpus");

    static final StructDecl<NodeSubject> NODE = StructDecl.<NodeSubject>named("spillway.Node")
            .field("name", SimpleType.STRING, n -> n.slot().view().name())
            .field("pool", SimpleType.STRING, n -> n.slot().view().pool())
            .field("kind", SimpleType.STRING, n -> n.pool().kind())
            .field("region", SimpleType.STRING, n -> n.pool().region())
            .field("jurisdiction", SimpleType.STRING, NodeSubject::jurisdiction)
            .field("labels", STRING_MAP, n -> n.slot().view().labels())
            .field("spot", SimpleType.BOOL, n -> "true".equals(n.slot().view().labels().get(TaskShape.SPOT_LABEL)))
            .field("cloud", SimpleType.BOOL, n -> "true".equals(n.slot().view().labels().get(Scorers.CLOUD_LABEL)))
            .field("schedulable", SimpleType.BOOL, n -> n.slot().view().schedulable())
            .field("cpuMillis", SimpleType.INT, n -> n.slot().view().capacity().cpuMillis())
            .field("memoryMib", SimpleType.INT, n -> n.slot().view().capacity().memoryMib())
            .field("gpus", SimpleType.INT, n -> (long) n.slot().view().capacity().gpus())
            .field("freeCpuMillis", SimpleType.INT, n -> n.slot().freeCpuMillis())
            .field("freeMemoryMib", SimpleType.INT, n -> n.slot().freeMemoryMib())
            .field("freeGpus", SimpleType.INT, n -> (long) n.slot().freeGpus())
            .field("priceUsdPerHour", SimpleType.DOUBLE, n -> n.pool().priceUsdPerHour())
            .field("location", SimpleType.STRING, NodeSubject::location)
            .build();

    static final StructDecl<Offering> OFFERING = StructDecl.<Offering>named("spillway.Offering")
            .field("id", SimpleType.STRING, Offering::id)
            .field("pool", SimpleType.STRING, Offering::pool)
            .field("region", SimpleType.STRING, Offering::region)
            .field("zone", SimpleType.STRING, Offering::zone)
            .field("jurisdiction", SimpleType.STRING, Offering::jurisdiction)
            .field("instanceType", SimpleType.STRING, Offering::instanceType)
            .field("instanceFamily", SimpleType.STRING, o -> instanceFamily(o.instanceType()))
            .field("spot", SimpleType.BOOL, Offering::spot)
            .field("priceUsdPerHour", SimpleType.DOUBLE, Offering::priceUsdPerHour)
            .field("cpuMillis", SimpleType.INT, o -> o.shape().cpuMillis())
            .field("memoryMib", SimpleType.INT, o -> o.shape().memoryMib())
            .field("gpus", SimpleType.INT, o -> (long) o.shape().gpus())
            .build();

    static final List<dev.cel.common.types.StructType> TYPES =
            List.of(JOB.type(), TENANT.type(), TASK.type(), NODE.type(), OFFERING.type());

    static final CelCompilation.Scope ADMISSION = new CelCompilation.Scope("admission",
            Map.of("job", JOB.type(), "tenant", TENANT.type(), "now", SimpleType.TIMESTAMP));
    static final CelCompilation.Scope PLACEMENT = new CelCompilation.Scope("placement",
            Map.of("job", JOB.type(), "tenant", TENANT.type(), "task", TASK.type(), "node", NODE.type(), "now", SimpleType.TIMESTAMP));
    static final CelCompilation.Scope BURST_MATCH = ADMISSION;
    static final CelCompilation.Scope BURST_OFFERING = new CelCompilation.Scope("burst",
            Map.of("job", JOB.type(), "tenant", TENANT.type(), "offering", OFFERING.type(), "now", SimpleType.TIMESTAMP));

    /** The family of an instance type: the part before the first dot ({@code m6i.xlarge} → {@code m6i}), or all of it. */
    static String instanceFamily(String instanceType) {
        int dot = instanceType.indexOf('.');
        return dot < 0 ? instanceType : instanceType.substring(0, dot);
    }

    private static List<String> sorted(Set<String> s) {
        return s.isEmpty() ? List.of() : List.copyOf(new TreeSet<>(s));
    }

    /** A node during a cycle with its pool's facts. */
    record NodeSubject(NodeSlot slot, PoolFacts pool) {
        String jurisdiction() {
            if (pool.jurisdiction() != null) return pool.jurisdiction();
            String label = slot.view().labels().get(TaskShape.JURISDICTION_LABEL);
            return label == null ? "" : label;
        }

        /** Where the node is, for data gravity: {@link PoolFacts#location(String)}. */
        String location() {
            return pool.location(slot.view().labels().get(PoolFacts.SITE_LABEL));
        }
    }
}
