package dev.spillway.broker.agents;

/** Something that should run a scheduling cycle soon (capacity freed, work arrived). */
public interface SchedulerWakeup {
    void wake();
}
