package dev.spillway.broker.api.console;

import dev.spillway.api.v1.AccessServiceGrpc;
import dev.spillway.api.v1.WhoAmIRequest;
import dev.spillway.api.v1.WhoAmIResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.qute.CheckedTemplate;
import io.quarkus.qute.TemplateInstance;
import io.smallrye.common.annotation.Blocking;
import io.vertx.core.http.Cookie;
import io.vertx.core.http.CookieSameSite;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.FormParam;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/**
 * Signing in to the console: with an API key (a form guarded by a double-submit token), or
 * through the enterprise's identity provider ({@link ConsoleSignOn}). A session starts only for a
 * credential WhoAmI accepts.
 */
@Path("/console/login")
@Produces(MediaType.TEXT_HTML)
@Blocking
public class ConsoleSignIn {

    private static final org.jboss.logging.Logger LOG = org.jboss.logging.Logger.getLogger(ConsoleSignIn.class);

    @CheckedTemplate(basePath = "console")
    static class Templates {
        static native TemplateInstance login(String next, String nonce, String error, boolean sso);
    }

    private final ConsoleCalls calls;
    private final ConsoleSessions sessions;
    private final ConsoleSignOn signOn;

    public ConsoleSignIn(ConsoleCalls calls, ConsoleSessions sessions, ConsoleSignOn signOn) {
        this.calls = calls;
        this.sessions = sessions;
        this.signOn = signOn;
    }

    @GET
    public Response loginForm(@QueryParam("next") String next, @Context RoutingContext rc) {
        String nonce = dev.spillway.broker.security.Secrets.random();
        return Response.ok(Templates.login(ConsolePages.safeNext(next), nonce, "", signOn.enabled()).render())
                .header("Set-Cookie", ConsolePages.cookie(rc, ConsoleSessions.LOGIN_COOKIE, nonce, 600, "/console/login")).build();
    }

    @POST
    @jakarta.ws.rs.Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    public Response login(@FormParam("key") String key, @FormParam("next") String next, @FormParam("_csrf") String nonce,
                          @Context RoutingContext rc) {
        Cookie expected = rc.request().getCookie(ConsoleSessions.LOGIN_COOKIE);
        if (expected == null || nonce == null || !java.security.MessageDigest.isEqual(expected.getValue().getBytes(StandardCharsets.UTF_8),
                nonce.getBytes(StandardCharsets.UTF_8))) {
            return again(rc, next, "The sign-in form expired; please sign in again.", 403);
        }
        if (key == null || key.isBlank()) return again(rc, next, "Enter an API key.", 400);
        WhoAmIResponse me;
        try {
            me = calls.as(key.trim()).stub(AccessServiceGrpc::newBlockingStub).whoAmI(WhoAmIRequest.getDefaultInstance());
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == Status.Code.UNAUTHENTICATED) return again(rc, next, "That key is not valid (unknown, revoked or expired).", 401);
            LOG.warnf("console sign-in failed: %s", e.getStatus());
            return again(rc, next, "The broker could not check the key: " + e.getStatus().getCode() + ". Try again.", 503);
        }
        ConsoleSessions.Session session = sessions.start(key.trim(), me.getSubject(), me.getRole(), me.getTenantsList(), me.getAllTenants());
        return Response.seeOther(URI.create(ConsolePages.safeNext(next)))
                .header("Set-Cookie", ConsolePages.cookie(rc, ConsoleSessions.COOKIE, sessions.seal(session), sessions.ttl().toSeconds(), "/console"))
                .header("Set-Cookie", ConsolePages.cookie(rc, ConsoleSessions.LOGIN_COOKIE, "", 0, "/console/login")).build();
    }

    /** Single sign-on: to the identity provider, remembering (in a sealed cookie) the state and PKCE verifier sent. */
    @GET
    @Path("/oidc")
    public Response signOn(@QueryParam("next") String next, @Context RoutingContext rc) {
        if (!signOn.enabled()) return again(rc, next, "Single sign-on is not configured on this broker; use an API key.", 404);
        String scheme = rc.request().isSSL() ? "https" : "http";
        var authority = rc.request().authority();
        String callback = scheme + "://" + authority.host() + (authority.port() < 0 ? "" : ":" + authority.port()) + "/console/login/callback";
        try {
            ConsoleSignOn.Start start = signOn.begin(ConsolePages.safeNext(next), callback);
            // Lax, not Strict: the provider's redirect back is a navigation from another site.
            Cookie c = Cookie.cookie(ConsoleSignOn.COOKIE, start.cookie()).setPath("/console/login").setHttpOnly(true)
                    .setSameSite(CookieSameSite.LAX).setMaxAge(ConsoleSignOn.PENDING_FOR.toSeconds()).setSecure(rc.request().isSSL());
            return Response.seeOther(start.authorize()).header("Set-Cookie", c.encode()).build();
        } catch (ConsoleSignOn.SignOnFailed e) {
            return again(rc, next, e.getMessage(), 503);
        }
    }

    /** The identity provider's answer: the code is exchanged for an access token, which becomes the session's credential. */
    @GET
    @Path("/callback")
    public Response signedOn(@QueryParam("code") String code, @QueryParam("state") String state, @QueryParam("error") String error,
                             @Context RoutingContext rc) {
        Cookie cookie = rc.request().getCookie(ConsoleSignOn.COOKIE);
        var pending = signOn.pending(cookie == null ? null : cookie.getValue());
        if (pending.isEmpty() || !ConsoleSignOn.sameState(pending.get(), state)) {
            return again(rc, "/console/", "That sign-in was not started here, or took too long; please sign in again.", 403);
        }
        String next = pending.get().next();
        if (error != null && !error.isEmpty()) return again(rc, next, "The identity provider did not sign you in (" + error + ").", 401);
        if (code == null || code.isEmpty()) return again(rc, next, "The identity provider sent no code.", 400);
        WhoAmIResponse me;
        String token;
        try {
            token = signOn.exchange(pending.get(), code);
            me = calls.as(token).stub(AccessServiceGrpc::newBlockingStub).whoAmI(WhoAmIRequest.getDefaultInstance());
        } catch (ConsoleSignOn.SignOnFailed e) {
            return again(rc, next, e.getMessage(), 401);
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == Status.Code.UNAUTHENTICATED) {
                return again(rc, next, "The broker does not accept the identity provider's token: " + e.getStatus().getDescription(), 401);
            }
            return again(rc, next, "The broker could not check the sign-in: " + e.getStatus().getCode() + ". Try again.", 503);
        }
        ConsoleSessions.Session session = sessions.start(token, me.getSubject(), me.getRole(), me.getTenantsList(), me.getAllTenants());
        // A page of this site moves on: a redirect would still count as the provider's cross-site navigation, and the
        // browser would not send the new (SameSite=Strict) session cookie with it.
        String to = ConsoleExtensions.escape(ConsolePages.safeNext(next));
        String page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url=" + to
                + "\"><title>Signed in · Spillway</title></head><body><p>Signed in. <a href=\"" + to + "\">Continue</a></p></body></html>";
        return Response.ok(page, MediaType.TEXT_HTML_TYPE.withCharset("utf-8"))
                .header("Set-Cookie", ConsolePages.cookie(rc, ConsoleSessions.COOKIE, sessions.seal(session), sessions.ttl().toSeconds(), "/console"))
                .header("Set-Cookie", ConsolePages.cookie(rc, ConsoleSignOn.COOKIE, "", 0, "/console/login")).build();
    }

    private Response again(RoutingContext rc, String next, String error, int status) {
        String nonce = dev.spillway.broker.security.Secrets.random();
        return Response.status(status).entity(Templates.login(ConsolePages.safeNext(next), nonce, error, signOn.enabled()).render()).type(MediaType.TEXT_HTML)
                .header("Set-Cookie", ConsolePages.cookie(rc, ConsoleSessions.LOGIN_COOKIE, nonce, 600, "/console/login")).build();
    }
}
