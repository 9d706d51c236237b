package dev.spillway.broker.agent;

/** Something that should run a scheduling cycle soon (capacity freed, work arrived). */
public interface SchedulerWakeup {
    void wake();
}
