package dev.spillway.policies.cel;

import dev.spillway.policies.document.Location;

/**
 * An expression could not be evaluated for some inputs (a missing map key, a division by zero,
 * the iteration budget spent). Returned, never thrown: each rule kind turns it into a safe outcome.
 *
 * @param at      where in the policy file the failing part of the expression is
 * @param message what went wrong
 */
public record EvalError(Location at, String message) {

    @Override
    public String toString() {
        return at + ": " + message;
    }
}
