package dev.spillway.policies.cel;

/**
 * The limits every policy expression is held to. Expressions beyond the static limits are refused
 * when the policy is applied; the iteration budget stops an evaluation that would run long (the
 * rule then has an evaluation error, which each rule kind turns into a safe outcome).
 *
 * @param maxCodePoints            longest expression text
 * @param maxParseDepth            deepest nesting the parser accepts (parentheses, calls, operators)
 * @param maxAstDepth              deepest checked expression tree (after macro expansion)
 * @param maxNestedComprehensions  comprehensions ({@code all}, {@code exists}, {@code map}, {@code filter}) inside each other
 * @param maxIterations            comprehension iterations per evaluation, all comprehensions together
 */
public record CelBounds(int maxCodePoints, int maxParseDepth, int maxAstDepth, int maxNestedComprehensions, int maxIterations) {

    /** What Spillway applies: generous for policy conditions, small enough that one evaluation stays in microseconds to a few milliseconds. */
    public static final CelBounds DEFAULT = new CelBounds(4_096, 32, 24, 2, 10_000);

    public CelBounds {
        if (maxCodePoints < 1 || maxParseDepth < 1 || maxAstDepth < 1 || maxNestedComprehensions < 0 || maxIterations < 1) {
            throw new IllegalArgumentException("bounds must be positive");
        }
    }
}
