package dev.spillway.broker.agents;

import io.quarkus.arc.DefaultBean;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/** The broker's monotonic clock: {@code System.nanoTime()}, unless a test produces another {@link Ticker}. */
public class SystemTicker {

    @Produces
    @Singleton
    @DefaultBean
    Ticker ticker() {
        return System::nanoTime;
    }
}
