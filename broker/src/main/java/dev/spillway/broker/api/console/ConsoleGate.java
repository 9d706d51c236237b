package dev.spillway.broker.api.console;

import dev.spillway.broker.config.BrokerConfig;
import io.vertx.core.http.Cookie;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Runs before every console route: security headers on every answer; a POST must come from a
 * page of this origin ({@code Origin} or, failing it, {@code Referer}, as browsers send on every
 * form post and fetch); and every page but sign-in needs a session ({@link ConsoleSessions}). A
 * request without one is sent to the sign-in page (htmx requests are told to go there with
 * {@code HX-Redirect}). The forms' own CSRF tokens are checked by the resource that takes them.
 */
@ApplicationScoped
public class ConsoleGate {

    /** Where the console resources find the session. */
    static final String SESSION = "spillway.console.session";
    private static final int BEFORE_EVERYTHING = -900;

    /**
     * Scripts and styles from this origin only (no inline script, no eval), nothing framed, no
     * form posted elsewhere; uPlot sizes its canvas with inline styles, hence style-src's
     * 'unsafe-inline' (styles cannot run code).
     */
    static final String CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            + "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

    private final ConsoleSessions sessions;
    private final ConsoleCalls calls;
    private final boolean enabled;

    public ConsoleGate(ConsoleSessions sessions, ConsoleCalls calls, BrokerConfig config) {
        this.sessions = sessions;
        this.calls = calls;
        this.enabled = config.console().enabled();
    }

    void routes(@Observes Router router) {
        router.route("/console*").order(BEFORE_EVERYTHING).handler(this::gate);
    }

    private void gate(RoutingContext rc) {
        HttpServerRequest request = rc.request();
        if (!enabled) {
            rc.response().setStatusCode(404).putHeader("Content-Type", "text/plain; charset=utf-8").end("the console is turned off on this broker\n");
            return;
        }
        rc.response().putHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY).putHeader("X-Content-Type-Options", "nosniff")
                .putHeader("Referrer-Policy", "same-origin").putHeader("X-Frame-Options", "DENY");
        String path = rc.normalizedPath();
        if (path.startsWith("/console/static/")) {
            rc.next();
            return;
        }
        rc.response().putHeader("Cache-Control", "no-store");
        calls.learnAddress(request.localAddress());
        if (request.method() != HttpMethod.GET && request.method() != HttpMethod.HEAD && !sameOrigin(request)) {
            rc.response().setStatusCode(403).putHeader("Content-Type", "text/plain; charset=utf-8")
                    .end("refused: this form was not sent from this console's own pages\n");
            return;
        }
        if (path.equals("/console/login") || path.startsWith("/console/login/")) {
            rc.next();
            return;
        }
        Cookie cookie = request.getCookie(ConsoleSessions.COOKIE);
        Optional<ConsoleSessions.Session> session = sessions.open(cookie == null ? null : cookie.getValue());
        if (session.isEmpty()) {
            toLogin(rc);
            return;
        }
        rc.put(SESSION, session.get());
        rc.next();
    }

    /** To the sign-in page, coming back here afterwards (for a page, not for a partial update or a form). */
    static void toLogin(RoutingContext rc) {
        HttpServerRequest request = rc.request();
        String back = request.method() == HttpMethod.GET && request.getHeader("HX-Request") == null ? request.uri() : "/console/";
        String login = "/console/login?next=" + URLEncoder.encode(back, StandardCharsets.UTF_8);
        if (request.getHeader("HX-Request") != null) {
            rc.response().setStatusCode(401).putHeader("HX-Redirect", login).end();
        } else {
            rc.response().setStatusCode(303).putHeader("Location", login).end();
        }
    }

    /** Whether a state-changing request comes from this origin, by the headers browsers set themselves. */
    static boolean sameOrigin(HttpServerRequest request) {
        String from = request.getHeader("Origin");
        if (from == null || from.equals("null")) from = request.getHeader("Referer");
        if (from == null) return false;
        try {
            URI u = URI.create(from);
            var authority = request.authority();
            if (u.getScheme() == null || u.getHost() == null || authority == null || !u.getScheme().equals(request.scheme())) return false;
            int defaultPort = request.scheme().equals("https") ? 443 : 80;
            int theirs = u.getPort() < 0 ? defaultPort : u.getPort();
            int ours = authority.port() < 0 ? defaultPort : authority.port();
            return u.getHost().equalsIgnoreCase(authority.host()) && theirs == ours;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
