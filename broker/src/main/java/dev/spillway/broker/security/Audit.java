package dev.spillway.broker.security;

import dev.spillway.broker.store.AuditStore;
import dev.spillway.core.access.Caller;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import org.jboss.logging.Logger;

/**
 * Who did what: a row in {@code audit_event} and a line in the log category {@code spillway.audit}
 * (route it to its own file or collector with {@code quarkus.log.category."spillway.audit"...}).
 * Never a secret: events name keys by id and tokens by the node they are for.
 */
@ApplicationScoped
public class Audit {

    private static final Logger LOG = Logger.getLogger("spillway.audit");

    private final AuditStore store;

    public Audit(AuditStore store) {
        this.store = store;
    }

    /** Writes the event; the returned Uni completes once it is stored. */
    public Uni<Void> record(String actor, String tenant, String action, String target, String detail, String remote) {
        log(actor, tenant, action, target, detail, remote);
        return store.append(actor, tenant, action, target, detail, remote);
    }

    public Uni<Void> record(Caller caller, String tenant, String action, String target, String detail, String remote) {
        return record(caller.subject(), tenant, action, target, detail, remote);
    }

    /** The log line only, for events whose row is written with the change itself. */
    public void log(String actor, String tenant, String action, String target, String detail, String remote) {
        LOG.infof("%s actor=%s tenant=%s target=%s remote=%s%s", action, actor, tenant == null ? "-" : tenant, target,
                remote == null ? "-" : remote, detail == null || detail.isEmpty() ? "" : " " + detail);
    }
}
