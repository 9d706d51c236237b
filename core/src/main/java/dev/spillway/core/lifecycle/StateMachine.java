package dev.spillway.core.lifecycle;

import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * One table of allowed transitions for one lifecycle, written as rules:
 * <pre>
 *   StateMachine.of(TaskState.class,
 *       Rule.from(QUEUED).to(ASSIGNED, CANCELLED),
 *       Rule.from(ASSIGNED).to(RUNNING, QUEUED, ...));
 * </pre>
 * States without a rule have no way out (terminal). Stores turn {@link #sourcesOf} into the
 * compare-and-set condition of their updates ({@code WHERE state IN (...)}), so a transition the
 * table does not allow can never be written.
 */
public final class StateMachine<S extends Enum<S>> {

    /** The states one state may become. */
    public record Rule<S extends Enum<S>>(S from, Set<S> to) {

        public static <S extends Enum<S>> Builder<S> from(S state) {
            return new Builder<>(state);
        }

        public static final class Builder<S extends Enum<S>> {
            private final S from;

            private Builder(S from) {
                this.from = from;
            }

            @SafeVarargs
            public final Rule<S> to(S first, S... more) {
                return new Rule<>(from, EnumSet.of(first, more));
            }
        }
    }

    private final Class<S> type;
    private final Map<S, Set<S>> allowed;

    private StateMachine(Class<S> type, Map<S, Set<S>> allowed) {
        this.type = type;
        this.allowed = allowed;
    }

    @SafeVarargs
    public static <S extends Enum<S>> StateMachine<S> of(Class<S> type, Rule<S>... rules) {
        Map<S, Set<S>> allowed = new EnumMap<>(type);
        for (S s : type.getEnumConstants()) allowed.put(s, EnumSet.noneOf(type));
        for (Rule<S> r : rules) {
            if (!allowed.get(r.from()).isEmpty()) throw new IllegalArgumentException("two rules from " + r.from());
            allowed.get(r.from()).addAll(r.to());
        }
        allowed.replaceAll((s, targets) -> Collections.unmodifiableSet(targets));
        return new StateMachine<>(type, allowed);
    }

    public boolean allowed(S from, S to) {
        return allowed.get(from).contains(to);
    }

    /** Every state from which {@code to} may be entered. */
    public Set<S> sourcesOf(S to) {
        Set<S> out = EnumSet.noneOf(type);
        allowed.forEach((from, targets) -> {
            if (targets.contains(to)) out.add(from);
        });
        return Collections.unmodifiableSet(out);
    }

    /** The states {@code from} may become. */
    public Set<S> targetsOf(S from) {
        return allowed.get(from);
    }

    /** No rule leads out of it. */
    public boolean terminal(S state) {
        return allowed.get(state).isEmpty();
    }

    /** The states no rule leads out of. */
    public Set<S> terminalStates() {
        return allowed.keySet().stream().filter(this::terminal).collect(Collectors.toCollection(() -> EnumSet.noneOf(type)));
    }

    /** Fails loudly on a transition the table does not allow. */
    public void check(S from, S to) {
        if (!allowed(from, to)) throw new IllegalStateException(type.getSimpleName() + " " + from + " may not become " + to);
    }

    /** The states as a SQL list, e.g. {@code ('ASSIGNED', 'RUNNING')}, for compare-and-set conditions. */
    public static <S extends Enum<S>> String sqlList(Set<S> states) {
        if (states.isEmpty()) throw new IllegalArgumentException("no states");
        return states.stream().map(s -> "'" + s.name() + "'").sorted().collect(Collectors.joining(", ", "(", ")"));
    }
}
