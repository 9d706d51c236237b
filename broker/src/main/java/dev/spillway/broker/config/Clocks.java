package dev.spillway.broker.config;

import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.time.Clock;

/** The broker's one clock. Everything that needs the time injects it; nothing reads {@code Instant.now()} directly. */
public class Clocks {

    @Produces
    @Singleton
    Clock clock() {
        return system();
    }

    /** The same clock, for code that runs before CDI exists (configuration sources). */
    public static Clock system() {
        return Clock.systemUTC();
    }
}
