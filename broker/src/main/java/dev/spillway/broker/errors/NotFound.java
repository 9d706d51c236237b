package dev.spillway.broker.errors;

/** What was asked for does not exist (a job, a task, an attempt, a pool, a node). */
public final class NotFound extends BrokerException {

    public NotFound(String message) {
        super(message);
    }

    public static NotFound job(Object id) {
        return new NotFound("no job " + id);
    }
}
