package dev.spillway.policies.cel;

import dev.cel.common.types.CelType;
import dev.cel.common.types.StructType;
import com.google.common.collect.ImmutableSet;
import java.util.AbstractMap;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * One typed CEL variable kind ({@code job}, {@code node}, ...): its fields, each with a CEL type
 * for the checker and an accessor for the runtime, declared once so the two cannot drift.
 *
 * <p>The checker sees a {@link StructType}, so {@code job.priority > "high"} and {@code job.nope}
 * are refused when a policy is applied. The runtime sees a {@link #view read-only map view} of a
 * Java object: field selection on a map is what the interpreter does natively, nothing is copied
 * per evaluation, and a field is read only when an expression selects it.
 *
 * @param <T> the Java type whose facts the variable exposes
 */
public final class StructDecl<T> {

    private final StructType type;
    private final Map<String, Function<? super T, Object>> accessors;

    private StructDecl(String name, Map<String, CelType> types, Map<String, Function<? super T, Object>> accessors) {
        Map<String, CelType> fieldTypes = Map.copyOf(types);
        this.type = StructType.create(name, ImmutableSet.copyOf(types.keySet()), f -> Optional.ofNullable(fieldTypes.get(f)));
        this.accessors = new HashMap<>(accessors);
    }

    public static <T> Builder<T> named(String name) {
        return new Builder<>(name);
    }

    public StructType type() {
        return type;
    }

    public Set<String> fieldNames() {
        return type.fieldNames();
    }

    /** A map view of {@code target}: {@code get(field)} reads the field from it. */
    public Map<String, Object> view(T target) {
        return new View<>(this, target);
    }

    public static final class Builder<T> {
        private final String name;
        private final Map<String, CelType> types = new LinkedHashMap<>();
        private final Map<String, Function<? super T, Object>> accessors = new LinkedHashMap<>();

        private Builder(String name) {
            this.name = name;
        }

        /**
         * @param accessor returns the field's value in CEL's Java representation: {@code Long} for int,
         *                 {@code Double}, {@code String}, {@code Boolean}, {@code List}, {@code Map}, {@code Instant}
         */
        public Builder<T> field(String field, CelType celType, Function<? super T, Object> accessor) {
            if (types.put(field, celType) != null) throw new IllegalArgumentException("duplicate field " + field);
            accessors.put(field, accessor);
            return this;
        }

        public StructDecl<T> build() {
            return new StructDecl<>(name, types, accessors);
        }
    }

    private static final class View<T> extends AbstractMap<String, Object> {
        private final StructDecl<T> decl;
        private final T target;

        View(StructDecl<T> decl, T target) {
            this.decl = decl;
            this.target = target;
        }

        @Override
        public Object get(Object key) {
            Function<? super T, Object> accessor = decl.accessors.get(key);
            return accessor == null ? null : accessor.apply(target);
        }

        @Override
        public boolean containsKey(Object key) {
            return decl.accessors.containsKey(key);
        }

        @Override
        public int size() {
            return decl.accessors.size();
        }

        @Override
        public Set<Entry<String, Object>> entrySet() {
            // only when an expression returns or compares the whole variable: rare, so built on demand
            Map<String, Object> copy = new LinkedHashMap<>();
            decl.accessors.forEach((k, a) -> copy.put(k, a.apply(target)));
            return Collections.unmodifiableMap(copy).entrySet();
        }
    }
}
