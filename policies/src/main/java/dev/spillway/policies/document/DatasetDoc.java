package dev.spillway.policies.document;

import java.util.Set;

/**
 * {@code kind: Dataset}: data that jobs read, where it lives and how big it is.
 *
 * @param location      {@code site:<name>} or {@code <cloud>:<region>}, e.g. {@code site:lyon}, {@code aws:eu-central-1}
 * @param sizeBytes     its size
 * @param jurisdictions residency: jobs reading it run only in these legal areas; empty means anywhere
 */
public record DatasetDoc(String name, Location at, String location, long sizeBytes, Set<String> jurisdictions)
        implements Document {

    public DatasetDoc {
        jurisdictions = Set.copyOf(jurisdictions);
    }

    @Override
    public String kind() {
        return "Dataset";
    }
}
