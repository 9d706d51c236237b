package dev.spillway.broker.burst;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.broker.config.BrokerConfig;
import java.lang.reflect.Proxy;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A cloud pool whose instances would be told to call a loopback address refuses to start. */
class AdvertisedAddressTest {

    @Test
    void anAwsPoolWithTheDefaultLoopbackAddressIsRefusedNamingTheSetting() {
        assertThatThrownBy(() -> CloudPools.requireReachableAddress("awseu", settings("aws", Optional.empty()), config(Optional.empty())))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("pool awseu (kind aws)")
                .hasMessageContaining("127.0.0.1:7070, a loopback address")
                .hasMessageContaining("spillway.advertised-address");
        assertThatThrownBy(() -> CloudPools.requireReachableAddress("az", settings("azure", Optional.empty()),
                config(Optional.of("localhost:7070")))).hasMessageContaining("spillway.advertised-address");
        assertThatThrownBy(() -> CloudPools.requireReachableAddress("az", settings("azure", Optional.empty()),
                config(Optional.of("[::1]:7070")))).hasMessageContaining("spillway.advertised-address");
    }

    @Test
    void aReachableAddressOrACloudServedFromThisMachineIsAccepted() {
        assertThatCode(() -> CloudPools.requireReachableAddress("awseu", settings("aws", Optional.empty()),
                config(Optional.of("broker.example.com:7070")))).doesNotThrowAnyException();
        assertThatCode(() -> CloudPools.requireReachableAddress("awseu", settings("aws", Optional.of("http://127.0.0.1:4566")),
                config(Optional.empty()))).doesNotThrowAnyException();
    }

    private static BrokerConfig config(Optional<String> advertised) {
        return proxy(BrokerConfig.class, Map.of("advertisedAddress", advertised));
    }

    private static BrokerConfig.PoolSettings settings(String kind, Optional<String> endpoint) {
        return proxy(BrokerConfig.PoolSettings.class, Map.of("kind", kind, "endpoint", endpoint));
    }

    @SuppressWarnings("unchecked")
    private static <T> T proxy(Class<T> type, Map<String, Object> answers) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (p, m, args) -> {
            if (!answers.containsKey(m.getName())) throw new AssertionError("unexpected call " + m.getName());
            return answers.get(m.getName());
        });
    }
}
