package dev.spillway.broker.api;

import dev.spillway.broker.security.ApiKeys;
import dev.spillway.core.access.Caller;
import dev.spillway.core.access.Role;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.net.URL;
import java.time.Duration;

/** Callers for the broker tests: real API keys made through the broker's own key service, and channels presenting them. */
final class TestCallers {

    private static final Caller MAKER = Caller.of("test", Role.ADMIN, "default");

    private TestCallers() {}

    /** A fresh API key for {@code tenant} with {@code role}. */
    static String key(ApiKeys keys, String tenant, Role role) {
        return keys.create(MAKER, tenant, role.label(), null, "test", null).await().atMost(Duration.ofSeconds(10)).secret();
    }

    /** A channel to the broker under test presenting {@code credential} (null: no credential at all). */
    static ManagedChannel channel(URL url, String credential) {
        Metadata headers = new Metadata();
        if (credential != null) headers.put(CallerInterceptor.AUTHORIZATION, "Bearer " + credential);
        return ManagedChannelBuilder.forAddress(url.getHost(), url.getPort()).usePlaintext()
                .intercept(MetadataUtils.newAttachHeadersInterceptor(headers)).build();
    }
}
