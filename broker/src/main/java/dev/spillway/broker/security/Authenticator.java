package dev.spillway.broker.security;

import dev.spillway.broker.errors.Unauthenticated;
import dev.spillway.core.access.Caller;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Turns the {@code authorization} header of a client call into a {@link Caller}: an API key
 * ({@code Bearer spw_...}) or an OIDC access token ({@code Bearer <JWT>}). Agents authenticate
 * separately, with their join tokens and node credentials, on their own service.
 */
@ApplicationScoped
public class Authenticator {

    public static final String HOW = "send 'authorization: Bearer <API key or access token>' "
            + "(the CLI reads --token, SPILLWAY_TOKEN, ~/.spillway/config or <data-dir>/admin-key)";

    private final ApiKeys apiKeys;
    private final AccessTokens accessTokens;

    public Authenticator(ApiKeys apiKeys, AccessTokens accessTokens) {
        this.apiKeys = apiKeys;
        this.accessTokens = accessTokens;
    }

    /** The caller, or a failed Uni with {@link Unauthenticated} saying why (never echoing the credential). */
    public Uni<Caller> authenticate(String authorization) {
        if (authorization == null || authorization.isBlank()) return refuse("no credential: " + HOW);
        if (!authorization.regionMatches(true, 0, "Bearer ", 0, 7)) return refuse("the authorization header must be 'Bearer <credential>'");
        String credential = authorization.substring(7).trim();
        if (credential.startsWith(ApiKeys.PREFIX)) return apiKeys.authenticate(credential);
        if (looksLikeJwt(credential)) {
            if (!accessTokens.enabled()) return refuse("this broker accepts no access tokens (spillway.auth.oidc.issuer is unset); use an API key");
            Caller cached = accessTokens.cached(credential);
            if (cached != null) return Uni.createFrom().item(cached);
            // The first token of a key set may fetch the provider's JWKS: never on an event loop.
            return Uni.createFrom().item(() -> accessTokens.verify(credential)).runSubscriptionOn(Infrastructure.getDefaultWorkerPool());
        }
        return refuse("not a credential of this broker (agents' join tokens and node credentials are for agents only)");
    }

    private static boolean looksLikeJwt(String s) {
        int first = s.indexOf('.');
        return first > 0 && s.indexOf('.', first + 1) > first + 1 && s.chars().filter(c -> c == '.').count() == 2;
    }

    private static Uni<Caller> refuse(String why) {
        return Uni.createFrom().failure(new Unauthenticated(why));
    }
}
