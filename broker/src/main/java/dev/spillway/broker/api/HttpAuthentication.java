package dev.spillway.broker.api;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.errors.PermissionDenied;
import dev.spillway.broker.errors.Unauthenticated;
import dev.spillway.broker.security.Authenticator;
import dev.spillway.broker.security.Secrets;
import dev.spillway.broker.store.JoinTokenStore;
import dev.spillway.core.access.Caller;
import dev.spillway.core.access.Permission;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Clock;
import java.util.Locale;

/**
 * Authenticates the HTTP routes before they run, as {@link CallerInterceptor} does for gRPC: the
 * REST API ({@code /api/...}), the agent jar and, unless {@code spillway.auth.open-metrics}, the
 * metrics. The agent jar also accepts a booting instance's unspent join token. Health probes
 * answer anyone (they tell nothing); so does the OpenAPI document (it describes the API, no data).
 */
@ApplicationScoped
public class HttpAuthentication {

    /** Where the REST resources find the authenticated caller. */
    static final String CALLER = "spillway.caller";
    private static final int BEFORE_EVERYTHING = -1000;

    private final Authenticator authenticator;
    private final JoinTokenStore joinTokens;
    private final boolean openMetrics;
    private final Clock clock;

    public HttpAuthentication(Authenticator authenticator, JoinTokenStore joinTokens, BrokerConfig config, Clock clock) {
        this.clock = clock;
        this.authenticator = authenticator;
        this.joinTokens = joinTokens;
        this.openMetrics = config.auth().openMetrics();
    }

    void routes(@Observes Router router) {
        router.route("/api/*").order(BEFORE_EVERYTHING).handler(rc -> authenticate(rc, apiPermission(rc.normalizedPath())));
        router.route(AgentJarResource.PATH).order(BEFORE_EVERYTHING).handler(this::agentJar);
        if (!openMetrics) router.route("/q/metrics*").order(BEFORE_EVERYTHING).handler(rc -> authenticate(rc, Permission.CLUSTER_READ));
    }

    /** The permission a REST route needs: every route is read-only today. */
    private static Permission apiPermission(String path) {
        if (path.startsWith("/api/v1/jobs")) return Permission.JOB_READ;
        if (path.startsWith("/api/v1/decisions")) return Permission.JOB_READ;
        if (path.startsWith("/api/v1/policies")) return Permission.POLICY_READ;
        if (path.startsWith("/api/v1/cost") || path.startsWith("/api/v1/budgets")) return Permission.COST_READ;
        return Permission.CLUSTER_READ;
    }

    private void authenticate(RoutingContext rc, Permission needed) {
        authenticator.authenticate(rc.request().getHeader("Authorization")).subscribe().with(caller -> {
            if (!caller.may(needed)) {
                refuse(rc, PermissionDenied.permission(needed.name().toLowerCase(Locale.ROOT), "role " + caller.role().label() + " may not " + needed.name().toLowerCase(Locale.ROOT)));
                return;
            }
            rc.put(CALLER, caller);
            rc.next();
        }, failure -> refuse(rc, failure));
    }

    /** The jar: for callers who may read the cluster, and for a booting instance holding its unspent join token. */
    private void agentJar(RoutingContext rc) {
        String header = rc.request().getHeader("Authorization");
        String bearer = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).trim() : "";
        if (!bearer.startsWith(dev.spillway.broker.agents.AgentCredentials.JOIN_PREFIX)) {
            authenticate(rc, Permission.CLUSTER_READ);
            return;
        }
        joinTokens.find(Secrets.sha256(bearer)).subscribe().with(minted -> {
            if (minted == null || minted.usedAt() != null || !minted.expiresAt().toInstant().isAfter(clock.instant())) {
                refuse(rc, new Unauthenticated("join token unknown, spent or expired"));
                return;
            }
            rc.next();
        }, failure -> refuse(rc, failure));
    }

    private static void refuse(RoutingContext rc, Throwable why) {
        if (rc.response().ended()) return;
        ApiErrors.Problem p = ApiErrors.problemOf(why);
        if (p.status() == 401) rc.response().putHeader("WWW-Authenticate", "Bearer");
        rc.response().setStatusCode(p.status()).putHeader("Content-Type", ApiErrors.Problem.MEDIA_TYPE).end(p.json());
    }

    /** The caller the route filter authenticated, for a REST resource. */
    static Caller caller(RoutingContext rc) {
        Caller c = rc.get(CALLER);
        if (c == null) throw new IllegalStateException("no authenticated caller on " + rc.normalizedPath());
        return c;
    }
}
