package dev.spillway.core.scheduling;

/**
 * Names one task of a job, together with the attempt the snapshot saw. Applying a placement
 * is a compare-and-set on that attempt, so a plan made from a stale snapshot cannot
 * overwrite a newer state.
 */
public record TaskRef(String jobId, int index, int attempt) implements Comparable<TaskRef> {

    @Override
    public int compareTo(TaskRef o) {
        int c = jobId.compareTo(o.jobId);
        return c != 0 ? c : Integer.compare(index, o.index);
    }

    /** The attempt's key as the broker and agents both spell it: {@code job/index#attempt}. */
    public String key() {
        return jobId + "/" + index + "#" + attempt;
    }

    @Override
    public String toString() {
        return key();
    }
}
