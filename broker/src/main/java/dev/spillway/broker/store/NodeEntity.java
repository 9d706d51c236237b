package dev.spillway.broker.store;

import dev.spillway.core.lifecycle.NodeState;
import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import java.util.Map;
import java.util.UUID;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

/**
 * A node row, read through Hibernate Reactive for the cluster views. Writes go through
 * {@link dev.spillway.broker.store.NodeStore}, which the agent sessions and the lease keeper use
 * from their own threads.
 */
@Entity
@Table(name = "node")
public class NodeEntity extends PanacheEntityBase {

    @Id
    public String name;

    @Column(name = "id")
    public UUID nodeId;

    public String pool;

    @Enumerated(EnumType.STRING)
    public NodeState state;

    @Column(name = "cpu_millis")
    public long cpuMillis;

    @Column(name = "memory_mib")
    public long memoryMib;

    public int gpus;

    @JdbcTypeCode(SqlTypes.JSON)
    public Map<String, String> labels;

    @Column(name = "agent_version")
    public String agentVersion;

    @Column(name = "registered_at")
    public OffsetDateTime registeredAt;

    @Column(name = "last_seen_at")
    public OffsetDateTime lastSeenAt;
}
