package dev.spillway.provider.local;

import dev.spillway.provider.spi.CapacityProvider;
import dev.spillway.provider.spi.CapacityProviderContractTest;
import dev.spillway.provider.spi.InstanceOffering;
import dev.spillway.provider.spi.InstanceShape;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;

/** The local cloud passes the provider contract; its instances are stand-in processes that just live. */
class LocalProviderContractTest extends CapacityProviderContractTest {

    @TempDir
    Path dir;

    private LocalProvider local;

    @Override
    protected CapacityProvider newProvider() {
        local = new LocalProvider(new LocalProvider.Settings(dir, List.of("/bin/sh", "-c", "exec sleep 300", "agent"), Duration.ofMillis(200),
                List.of(new InstanceOffering("local.small", "local-1", "local-1a", new InstanceShape(2000, 4096, 0), false, 0.05, true),
                        new InstanceOffering("local.small", "local-1", "local-1a", new InstanceShape(2000, 4096, 0), true, 0.02, true),
                        new InstanceOffering("local.large", "local-1", "local-1b", new InstanceShape(8000, 32768, 1), false, 0.90, true))));
        return local;
    }

    @Override
    protected void closeProvider() {
        local.close();
    }

    /** The local cloud lists its state directory in one go: any small number makes the contract launch a handful. */
    @Override
    protected int listPageSize() {
        return 2;
    }

    @Override
    protected void exhaustCapacity(InstanceOffering offering) {
        local.faults().noCapacity(offering.instanceType(), offering.zone(), offering.spot());
    }

    @Override
    protected boolean exceedQuotaOnNextLaunch() {
        local.faults().quotaExceededNext(1);
        return true;
    }

    @Override
    protected boolean loseNextLaunchResponse() {
        local.faults().loseNextLaunchResponses(1);
        return true;
    }
}
