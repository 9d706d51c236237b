package dev.spillway.broker.store;

import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;

/** A pool row, read through Hibernate Reactive for the cluster views. */
@Entity
@Table(name = "pool")
public class PoolEntity extends PanacheEntityBase {

    @Id
    public String name;

    /** {@code on-prem}, {@code local}, {@code aws} or {@code azure}. */
    public String kind;

    @Column(name = "created_at")
    public OffsetDateTime createdAt;
}
