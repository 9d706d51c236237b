package dev.spillway.provider.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import dev.spillway.provider.spi.AgentBootstrap;
import dev.spillway.provider.spi.CapacityException;
import dev.spillway.provider.spi.Instance;
import dev.spillway.provider.spi.LaunchRequest;
import dev.spillway.provider.spi.InstanceOffering;
import dev.spillway.provider.spi.InstanceShape;
import dev.spillway.provider.spi.Tags;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The local cloud through the provider SPI, with a stand-in process as the agent it boots. */
class LocalProviderTest {

    @TempDir
    Path dir;

    private LocalProvider provider;

    private static final InstanceOffering SMALL = new InstanceOffering("local.small", "local-1", "local-1a", new InstanceShape(2000, 4096, 0), false, 0.05, true);
    private static final InstanceOffering SMALL_SPOT = new InstanceOffering("local.small", "local-1", "local-1a", new InstanceShape(2000, 4096, 0), true, 0.02, true);

    @BeforeEach
    void start() {
        // "$@" would be the agent options; the stand-in ignores them and just lives.
        provider = new LocalProvider(new LocalProvider.Settings(dir, List.of("/bin/sh", "-c", "exec sleep 300", "agent"),
                Duration.ofMillis(300), List.of(SMALL, SMALL_SPOT)));
    }

    @AfterEach
    void stop() {
        for (Instance i : provider.list("test")) provider.terminate(i.id());
        provider.close();
    }

    private static LaunchRequest request(String key, boolean spot) {
        return new LaunchRequest(key, "local.small", "local-1", "local-1a", spot, spot ? 0.03 : 0,
                Map.of(Tags.CLUSTER, "test", Tags.POOL, "cloud", Tags.REQUEST, key),
                new AgentBootstrap("127.0.0.1:1", "secret-join-token", "node-" + key, "cloud", Map.of("zone", "local-1a")));
    }

    @Test
    void aLaunchBootsAfterItsDelayAndIsListedByItsClusterTag() throws Exception {
        Instance i = provider.launch(request("r1", false));
        assertThat(i.state()).isEqualTo(Instance.State.PENDING);
        await().atMost(Duration.ofSeconds(10)).until(() -> provider.list("test").get(0).state() == Instance.State.RUNNING);
        assertThat(provider.list("test")).singleElement().satisfies(x -> {
            assertThat(x.id()).isEqualTo(i.id());
            assertThat(x.tags()).containsEntry(Tags.REQUEST, "r1");
        });
        assertThat(provider.list("another-cluster")).isEmpty();
    }

    @Test
    void aRetriedLaunchWithTheSameKeyLeavesOneInstance() throws Exception {
        Instance first = provider.launch(request("same", false));
        // A new provider on the same state directory: the broker restarted between the two calls.
        LocalProvider afterRestart = new LocalProvider(new LocalProvider.Settings(dir, List.of("/bin/sh", "-c", "exec sleep 300", "agent"),
                Duration.ofMillis(300), List.of(SMALL)));
        Instance again = afterRestart.launch(request("same", false));
        afterRestart.close();
        assertThat(again.id()).isEqualTo(first.id());
        assertThat(provider.list("test")).hasSize(1);
    }

    @Test
    void terminateStopsTheMachineAndIsIdempotent() throws Exception {
        Instance i = provider.launch(request("t1", false));
        await().atMost(Duration.ofSeconds(10)).until(() -> pid(i.id()) > 0);
        long pid = pid(i.id());
        assertThat(ProcessHandle.of(pid)).isPresent();
        assertThat(Files.readString(Path.of("/proc", Long.toString(pid), "cmdline"))).doesNotContain("secret-join-token");
        assertThat(Files.readString(Path.of("/proc", Long.toString(pid), "environ"))).contains("SPILLWAY_JOIN_TOKEN=secret-join-token");

        provider.terminate(i.id());
        provider.terminate(i.id());
        provider.terminate("i-does-not-exist");

        await().atMost(Duration.ofSeconds(10)).until(() -> ProcessHandle.of(pid).map(p -> !p.isAlive()).orElse(true));
        assertThat(provider.list("test")).singleElement().satisfies(x -> assertThat(x.state()).isEqualTo(Instance.State.TERMINATED));
    }

    @Test
    void injectedFaultsAreTypedCapacityErrors() throws Exception {
        provider.faults().noCapacity("local.small", "local-1a", true);
        var e = catchThrowableOfType(CapacityException.class, () -> provider.launch(request("spot", true)));
        assertThat(e.kind()).isEqualTo(CapacityException.Kind.INSUFFICIENT_CAPACITY);
        assertThat(e.offeringUnavailable()).isTrue();
        assertThat(provider.launch(request("on-demand", false)).state()).isEqualTo(Instance.State.PENDING);

        provider.faults().failNextLaunches(1);
        assertThat(catchThrowableOfType(CapacityException.class, () -> provider.launch(request("x", false))).kind())
                .isEqualTo(CapacityException.Kind.UNAVAILABLE);
        assertThat(provider.launch(request("x", false))).isNotNull();
    }

    @Test
    void anInstanceThatNeverBootsStaysPendingAndASpotInterruptionEndsIt() throws Exception {
        provider.faults().neverBoot("local.small");
        Instance stuck = provider.launch(request("stuck", false));
        assertThat(provider.list("test")).singleElement().satisfies(x -> assertThat(x.state()).isEqualTo(Instance.State.PENDING));
        provider.interrupt(stuck.id());
        assertThat(provider.list("test")).singleElement().satisfies(x -> assertThat(x.state()).isEqualTo(Instance.State.TERMINATED));
    }

    private long pid(String id) throws Exception {
        var p = new java.util.Properties();
        try (var in = Files.newBufferedReader(dir.resolve(id + ".instance"))) {
            p.load(in);
        }
        return Long.parseLong(p.getProperty("pid", "0"));
    }
}
