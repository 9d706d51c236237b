package dev.spillway.broker.scheduling;

import dev.spillway.core.burst.Offering;
import java.util.Map;

/** The cloud pools' offerings as last read, by {@link Offering#id()}: what each cloud node was bought as. */
public interface CloudOfferings {

    Map<String, Offering> byId();
}
