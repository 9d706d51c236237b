package dev.spillway.broker.api.console;

import dev.spillway.client.SpillwayClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.qute.CheckedTemplate;
import io.quarkus.qute.TemplateInstance;
import io.vertx.core.http.Cookie;
import io.vertx.core.http.CookieSameSite;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * What every console page shares: rendering a page for the signed-in caller through the API as
 * that caller ({@link ConsoleCalls}), the page that says what went wrong (never a stack trace),
 * sending a caller whose key no longer holds back to sign in, and the forms' CSRF check.
 */
@ApplicationScoped
public class ConsolePages {

    private static final Logger LOG = Logger.getLogger(ConsolePages.class);

    @CheckedTemplate(basePath = "console")
    static class Templates {
        static native TemplateInstance problem(Views.Chrome chrome, String heading, String message);
    }

    private final ConsoleCalls calls;

    public ConsolePages(ConsoleCalls calls) {
        this.calls = calls;
    }


    /** Renders a page for the signed-in caller, or the page that says what went wrong; the caller is sent to sign in again when its key no longer holds. */
    Response page(RoutingContext rc, String title, String section, Page render) {
        return page(rc, title, section, render, null);
    }

    Response page(RoutingContext rc, String title, String section, Page render, Response after) {
        ConsoleSessions.Session session = rc.get(ConsoleGate.SESSION);
        Views.Chrome chrome = new Views.Chrome(title, section, session.subject(), session.role(),
                session.allTenants() ? "every tenant" : String.join(", ", session.tenants()), session.finops(), session.csrf());
        try {
            TemplateInstance page = render.render(chrome, calls.as(session.credential()));
            return page == null ? after : Response.ok(page.render()).type(MediaType.TEXT_HTML_TYPE.withCharset("utf-8")).build();
        } catch (StatusRuntimeException e) {
            Status.Code code = e.getStatus().getCode();
            if (code == Status.Code.UNAUTHENTICATED) {
                return Response.seeOther(URI.create("/console/login?next=" + java.net.URLEncoder.encode(safeNext(rc.request().uri()), StandardCharsets.UTF_8)))
                        .header("Set-Cookie", cookie(rc, ConsoleSessions.COOKIE, "", 0, "/console")).build();
            }
            int status = switch (code) {
                case NOT_FOUND -> 404;
                case PERMISSION_DENIED -> 403;
                case INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE -> 400;
                case RESOURCE_EXHAUSTED -> 429;
                default -> 503;
            };
            String heading = switch (code) {
                case NOT_FOUND -> "Not found";
                case PERMISSION_DENIED -> "Not allowed";
                case INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE -> "Not possible";
                case RESOURCE_EXHAUSTED -> "Too many requests";
                default -> "The broker could not answer";
            };
            if (status == 503) LOG.warnf("console page %s failed: %s", rc.request().path(), e.getStatus());
            String message = code == Status.Code.INVALID_ARGUMENT ? invalid(e) : e.getStatus().getDescription() == null ? code.name() : e.getStatus().getDescription();
            return Response.status(status).entity(Templates.problem(chrome, heading, message).render()).type(MediaType.TEXT_HTML_TYPE.withCharset("utf-8")).build();
        }
    }

    @FunctionalInterface
    interface Page {
        TemplateInstance render(Views.Chrome chrome, SpillwayClient client);
    }

    /** Refuses a form without this session's CSRF token. */
    static void csrf(RoutingContext rc, String token) {
        ConsoleSessions.Session session = rc.get(ConsoleGate.SESSION);
        if (session == null || !session.csrfMatches(token)) {
            throw new jakarta.ws.rs.WebApplicationException(Response.status(403).type(MediaType.TEXT_PLAIN_TYPE)
                    .entity("refused: the form's anti-forgery token is missing or stale; reload the page and try again\n").build());
        }
    }

    static String invalid(StatusRuntimeException e) {
        List<String> parts = new ArrayList<>();
        SpillwayClient.violations(e).forEach(v -> parts.add(v.getField() + ": " + v.getDescription()));
        return parts.isEmpty() ? String.valueOf(e.getStatus().getDescription()) : String.join("; ", parts);
    }

    static String blank(String s) {
        return s == null ? "" : s;
    }

    /** Only a console path: never an address elsewhere (an open redirect). */
    static String safeNext(String next) {
        if (next == null || !next.startsWith("/console") || next.startsWith("//") || next.contains("\\") || next.contains("\r") || next.contains("\n")) {
            return "/console/";
        }
        return next;
    }

    static String cookie(RoutingContext rc, String name, String value, long maxAgeSeconds, String path) {
        Cookie c = Cookie.cookie(name, value).setPath(path).setHttpOnly(true).setSameSite(CookieSameSite.STRICT).setMaxAge(maxAgeSeconds)
                .setSecure(rc.request().isSSL());
        return c.encode();
    }

    static com.google.protobuf.Timestamp ts(Instant t) {
        return com.google.protobuf.Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }
}
