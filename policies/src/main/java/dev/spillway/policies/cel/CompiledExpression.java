package dev.spillway.policies.cel;

import dev.cel.common.CelErrorCode;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelVariableResolver;
import dev.spillway.policies.document.Expression;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A type-checked expression and its program, built once when a policy is applied and evaluated
 * many times, from any number of threads (the program keeps no state between evaluations).
 */
public final class CompiledExpression {

    private static final Pattern AT_OFFSET = Pattern.compile("^evaluation error at [^:]*:(\\d+): (.*)$", Pattern.DOTALL);

    private final Expression source;
    private final CelRuntime.Program program;
    private final Set<String> selectedFields;
    private final Set<String> variables;
    private final Function<String, Conjuncts> splitter;
    private final Map<String, Optional<Conjuncts>> splits = new ConcurrentHashMap<>();

    /**
     * A condition {@code a && b} split around a variable: {@code without} is the conjunction of the
     * parts that do not refer to it, {@code with} of those that do. Where {@code without} is true,
     * the condition's value is {@code with}'s (CEL's {@code true && x} is {@code x}, errors included).
     */
    public record Conjuncts(CompiledExpression without, CompiledExpression with) {
    }

    CompiledExpression(Expression source, CelRuntime.Program program, Set<String> selectedFields, Set<String> variables,
                       Function<String, Conjuncts> splitter) {
        this.source = source;
        this.program = program;
        this.selectedFields = Set.copyOf(selectedFields);
        this.variables = Set.copyOf(variables);
        this.splitter = splitter;
    }

    /** This condition split around {@code variable} (see {@link Conjuncts}), when it is a conjunction with parts of both kinds. */
    public Optional<Conjuncts> splitAround(String variable) {
        return splits.computeIfAbsent(variable, v -> Optional.ofNullable(splitter.apply(v)));
    }

    public Expression source() {
        return source;
    }

    /** Whether the expression selects any of these field names (on any variable). */
    public boolean selectsAny(Set<String> fields) {
        for (String f : fields) if (selectedFields.contains(f)) return true;
        return false;
    }

    /** The field names the expression selects (on any variable). */
    public Set<String> selectedFields() {
        return selectedFields;
    }

    /** Whether the expression refers to no variable: its value is the same in every evaluation. */
    public boolean constant() {
        return variables.isEmpty();
    }

    /** Whether the expression refers to this variable. */
    public boolean uses(String variable) {
        return variables.contains(variable);
    }

    /** The value, or an {@link EvalError}; never throws for bad inputs. */
    public Object evaluate(CelVariableResolver variables) {
        try {
            return program.eval(variables);
        } catch (CelEvaluationException e) {
            return error(e);
        } catch (RuntimeException e) {
            // a bug in a fact accessor or the interpreter must not escape into the scheduler
            return new EvalError(source.start(), "evaluation failed: " + e);
        }
    }

    /** What {@link #evaluateWithout} gives when the value depends on the variable left out. */
    public static final Object DEPENDS = new Object() {
        @Override
        public String toString() {
            return "depends";
        }
    };

    /**
     * Partial evaluation: the value with {@code unknown} left out, when the other variables decide
     * it ({@code job.gpus > 0 && node.gpus == 0} is false for a job without GPUs, whatever the
     * node); {@link #DEPENDS} when the value depends on it; an {@link EvalError} when evaluation
     * fails regardless. CEL's {@code &&} and {@code ||} are commutative, so a known false (true)
     * operand decides them even where the other operand is unknown or an error.
     */
    public Object evaluateWithout(CelVariableResolver variables, String unknown) {
        if (!uses(unknown)) return evaluate(variables);
        try {
            Object v = program.advanceEvaluation(dev.cel.runtime.UnknownContext.create(variables,
                    List.of(dev.cel.runtime.CelAttributePattern.create(unknown))));
            return v instanceof dev.cel.runtime.CelUnknownSet ? DEPENDS : v;
        } catch (CelEvaluationException e) {
            return DEPENDS; // an error with the variable unknown may vanish once it is known: decide per subject
        } catch (RuntimeException e) {
            return DEPENDS;
        }
    }

    private EvalError error(CelEvaluationException e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int offset = -1;
        Matcher m = AT_OFFSET.matcher(message);
        if (m.matches()) {
            offset = Integer.parseInt(m.group(1));
            message = m.group(2);
        }
        if (e.getErrorCode() == CelErrorCode.ATTRIBUTE_NOT_FOUND) message = "no such key: '" + message + "'";
        if (message.startsWith("Iteration budget exceeded")) message = "evaluation stopped: " + message.toLowerCase(java.util.Locale.ROOT);
        return new EvalError(offset >= 0 ? source.locateOffset(offset) : source.start(), message);
    }

    @Override
    public String toString() {
        return source.text();
    }
}
