package dev.spillway.broker.listing;

import dev.spillway.broker.errors.InvalidRequest;
import dev.spillway.core.filter.Condition;
import dev.spillway.core.filter.FilterException;
import dev.spillway.core.filter.FilterSchema;

/** A listing's {@code filter} (AIP-160) read against its fields; a filter that cannot be is INVALID_ARGUMENT on {@code filter}. */
public final class Filters {

    private Filters() {}

    /** The condition {@code filter} writes for a listing of {@code schema}'s fields; {@link Condition#ALWAYS} when it is empty. */
    public static Condition parse(FilterSchema schema, String filter) {
        try {
            return schema.parse(filter);
        } catch (FilterException e) {
            throw InvalidRequest.of("filter", e.describe());
        }
    }
}
