package dev.spillway.policies.document;

import java.util.Objects;

/**
 * A policy file as the broker read it: its name (used in every message) and its text. This
 * module never opens files itself.
 */
public record SourceFile(String name, String text) {

    public SourceFile {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(text, "text");
    }
}
