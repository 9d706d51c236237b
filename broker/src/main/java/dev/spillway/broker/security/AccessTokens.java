package dev.spillway.broker.security;

import dev.spillway.broker.config.BrokerConfig;
import dev.spillway.broker.errors.Unauthenticated;
import dev.spillway.core.access.Caller;
import dev.spillway.core.access.Role;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;
import org.jose4j.http.Get;
import org.jose4j.json.JsonUtil;
import org.jose4j.jwa.AlgorithmConstraints;
import org.jose4j.jwk.HttpsJwks;
import org.jose4j.jws.AlgorithmIdentifiers;
import org.jose4j.jwt.JwtClaims;
import org.jose4j.jwt.MalformedClaimException;
import org.jose4j.jwt.consumer.InvalidJwtException;
import org.jose4j.jwt.consumer.JwtConsumer;
import org.jose4j.jwt.consumer.JwtConsumerBuilder;
import org.jose4j.keys.resolvers.HttpsJwksVerificationKeyResolver;
import org.jose4j.lang.JoseException;

/**
 * OIDC access tokens (JWTs) from the enterprise's identity provider, verified with jose4j: the
 * signature against the provider's JWKS (fetched over HTTPS and cached; refetched when a token
 * names an unknown key), issuer, audience, expiry and not-before. The tenant(s) and the role come
 * from configurable claims. A verified token is remembered until it expires, so a client reusing
 * its token costs one map lookup per call.
 *
 * <p>{@link #verify} may block (the first JWKS fetch): call it off the event loop unless
 * {@link #cached} answered.
 */
@ApplicationScoped
public class AccessTokens {

    private static final Logger LOG = Logger.getLogger(AccessTokens.class);
    private static final int CACHE_MAX = 10_000;

    private record Verified(Caller caller, Instant expires) {
    }

    private final BrokerConfig.Auth.Oidc config;
    private final Clock clock;
    private final Map<String, Verified> verified = new ConcurrentHashMap<>();
    private volatile JwtConsumer consumer;

    public AccessTokens(BrokerConfig config, Clock clock) {
        this.config = config.auth().oidc();
        this.clock = clock;
        if (this.config.issuer().isPresent() && this.config.audience().map(List::isEmpty).orElse(true)) {
            throw new IllegalStateException("spillway.auth.oidc.audience is required when spillway.auth.oidc.issuer is set");
        }
    }

    /** Whether this broker accepts access tokens at all. */
    public boolean enabled() {
        return config.issuer().isPresent();
    }

    /** The caller of a token verified earlier and not expired since; null when it must be verified. */
    public Caller cached(String token) {
        Verified v = verified.get(Secrets.sha256(token));
        if (v == null) return null;
        if (!v.expires().isAfter(clock.instant())) {
            verified.remove(Secrets.sha256(token));
            return null;
        }
        return v.caller();
    }

    /** The caller a token stands for; Unauthenticated when it is not valid here. May block on a JWKS fetch. */
    public Caller verify(String token) {
        if (!enabled()) throw new Unauthenticated("this broker accepts no access tokens (spillway.auth.oidc.issuer is unset); use an API key");
        Caller known = cached(token);
        if (known != null) return known;
        JwtClaims claims;
        try {
            claims = consumer().processToClaims(token);
        } catch (InvalidJwtException e) {
            throw new Unauthenticated("access token refused: " + reason(e));
        }
        try {
            String subject = claims.getSubject();
            Set<String> tenants = tenants(claims.getClaimValue(config.tenantClaim()));
            if (tenants.isEmpty()) throw new Unauthenticated("access token refused: no tenant in claim '" + config.tenantClaim() + "'");
            for (String t : tenants) {
                if (!ApiKeys.TENANT.matcher(t).matches()) throw new Unauthenticated("access token refused: tenant '" + t + "' is not a valid name");
            }
            Role role = role(claims.getClaimValue(config.roleClaim()))
                    .orElseThrow(() -> new Unauthenticated("access token refused: claim '" + config.roleClaim()
                            + "' names no role (admin, operator, finops, submitter or viewer)"));
            Caller caller = new Caller("oidc:" + claims.getIssuer() + "#" + subject, role, tenants, tenants.iterator().next());
            if (verified.size() >= CACHE_MAX) verified.clear();
            verified.put(Secrets.sha256(token), new Verified(caller, Instant.ofEpochSecond(claims.getExpirationTime().getValue())));
            return caller;
        } catch (MalformedClaimException e) {
            throw new Unauthenticated("access token refused: " + e.getMessage());
        }
    }

    /** What went wrong, without echoing the token. */
    private static String reason(InvalidJwtException e) {
        if (e.hasExpired()) return "expired";
        if (e.hasErrorCode(org.jose4j.jwt.consumer.ErrorCodes.ISSUER_INVALID)) return "wrong issuer";
        if (e.hasErrorCode(org.jose4j.jwt.consumer.ErrorCodes.AUDIENCE_INVALID)
                || e.hasErrorCode(org.jose4j.jwt.consumer.ErrorCodes.AUDIENCE_MISSING)) return "wrong audience";
        if (e.hasErrorCode(org.jose4j.jwt.consumer.ErrorCodes.SIGNATURE_INVALID)) return "bad signature";
        if (e.hasErrorCode(org.jose4j.jwt.consumer.ErrorCodes.NOT_YET_VALID)) return "not yet valid";
        if (e.hasErrorCode(org.jose4j.jwt.consumer.ErrorCodes.SUBJECT_MISSING)) return "no subject";
        if (e.hasErrorCode(org.jose4j.jwt.consumer.ErrorCodes.EXPIRATION_MISSING)) return "no expiry";
        LOG.debugf("access token refused: %s", e.getMessage());
        return "not a valid token from the configured issuer";
    }

    private static Set<String> tenants(Object claim) {
        Set<String> out = new LinkedHashSet<>();
        if (claim instanceof String s && !s.isBlank()) out.add(s);
        if (claim instanceof Collection<?> c) {
            for (Object o : c) {
                if (o instanceof String s && !s.isBlank()) out.add(s);
            }
        }
        return out;
    }

    /** One role, or the most powerful of several. */
    private static Optional<Role> role(Object claim) {
        List<Object> values = claim instanceof Collection<?> c ? new ArrayList<>(c) : claim == null ? List.of() : List.of(claim);
        Role best = null;
        for (Object o : values) {
            Optional<Role> r = o instanceof String s ? Role.fromLabel(s) : Optional.empty();
            if (r.isPresent() && (best == null || r.get().ordinal() < best.ordinal())) best = r.get();
        }
        return Optional.ofNullable(best);
    }

    private JwtConsumer consumer() {
        JwtConsumer c = consumer;
        if (c != null) return c;
        synchronized (this) {
            if (consumer != null) return consumer;
            String issuer = config.issuer().orElseThrow();
            Get get = new Get();
            get.setConnectTimeout(5_000);
            get.setReadTimeout(10_000);
            config.jwksCaFile().ifPresent(file -> get.setTrustedCertificates(certificates(Path.of(file))));
            String jwksUrl = config.jwksUrl().orElseGet(() -> discover(get, issuer));
            HttpsJwks jwks = new HttpsJwks(jwksUrl);
            jwks.setSimpleHttpGet(get);
            consumer = new JwtConsumerBuilder()
                    .setRequireExpirationTime()
                    .setRequireSubject()
                    .setAllowedClockSkewInSeconds((int) config.clockSkew().toSeconds())
                    .setExpectedIssuer(issuer)
                    .setExpectedAudience(config.audience().orElseThrow().toArray(String[]::new))
                    .setVerificationKeyResolver(new HttpsJwksVerificationKeyResolver(jwks))
                    .setJwsAlgorithmConstraints(AlgorithmConstraints.ConstraintType.PERMIT,
                            AlgorithmIdentifiers.RSA_USING_SHA256, AlgorithmIdentifiers.RSA_USING_SHA384, AlgorithmIdentifiers.RSA_USING_SHA512,
                            AlgorithmIdentifiers.RSA_PSS_USING_SHA256, AlgorithmIdentifiers.ECDSA_USING_P256_CURVE_AND_SHA256,
                            AlgorithmIdentifiers.ECDSA_USING_P384_CURVE_AND_SHA384, AlgorithmIdentifiers.EDDSA)
                    .build();
            return consumer;
        }
    }

    private static String discover(Get get, String issuer) {
        String url = issuer.replaceAll("/+$", "") + "/.well-known/openid-configuration";
        try {
            Object jwksUri = JsonUtil.parseJson(get.get(url).getBody()).get("jwks_uri");
            if (!(jwksUri instanceof String s)) throw new Unauthenticated("the identity provider's " + url + " names no jwks_uri");
            return s;
        } catch (IOException | JoseException e) {
            LOG.warnf("cannot read the identity provider's configuration at %s: %s", url, e.getMessage());
            throw new Unauthenticated("the identity provider's keys cannot be read now; try again");
        }
    }

    private static X509Certificate[] certificates(Path pem) {
        try (InputStream in = Files.newInputStream(pem)) {
            return CertificateFactory.getInstance("X.509").generateCertificates(in).stream()
                    .map(X509Certificate.class::cast).toArray(X509Certificate[]::new);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read spillway.auth.oidc.jwks-ca-file " + pem, e);
        } catch (CertificateException e) {
            throw new IllegalStateException("spillway.auth.oidc.jwks-ca-file " + pem + " holds no PEM certificate: " + e.getMessage());
        }
    }
}
