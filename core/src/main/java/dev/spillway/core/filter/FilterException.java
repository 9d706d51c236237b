package dev.spillway.core.filter;

/** A filter that cannot be read or does not fit its listing; {@link #position()} is 1-based, 0 when it concerns the whole filter. */
public final class FilterException extends IllegalArgumentException {

    private final int position;

    public FilterException(int position, String message) {
        super(message);
        this.position = position;
    }

    public int position() {
        return position;
    }

    /** The message with its position, as a client is shown it. */
    public String describe() {
        return position > 0 ? getMessage() + " (at character " + position + ")" : getMessage();
    }
}
