package dev.spillway.core.cost;

import java.util.List;

/**
 * The rules a budget's period is booked by, each time its figures are brought up to date: a job's reservation holds its
 * quote less what the job has cost so far (the cost moves from reserved to spent), and nothing once the job has ended
 * (the rest is released); alerts fire once per period, at the highest threshold crossed. Pure.
 */
public final class BudgetBooks {

    private BudgetBooks() {
    }

    /** A job's reservation: its quote, what it has cost so far, whether it has ended. Millionths of a dollar. */
    public record Held(long amountMicroUsd, long actualMicroUsd, boolean ended) {
    }

    /** What the reservation still holds. */
    public static long remaining(Held h) {
        return h.ended() ? 0 : Math.max(0, h.amountMicroUsd() - h.actualMicroUsd());
    }

    /**
     * The highest of {@code thresholds} (percentages of {@code limit}) that {@code spent} has reached, or {@code before}
     * when that is higher: a threshold alerts once per period.
     */
    public static int alertLevel(List<Integer> thresholds, long spentMicroUsd, long limitMicroUsd, int before) {
        int reached = before;
        for (int t : thresholds) {
            if (spentMicroUsd * 100 >= (long) t * limitMicroUsd) reached = Math.max(reached, t);
        }
        return reached;
    }
}
