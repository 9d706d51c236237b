package dev.spillway.policies.document;

/** A place in a policy file: 1-based line and column (code points). */
public record Location(String file, int line, int column) {

    @Override
    public String toString() {
        return file + ":" + line + ":" + column;
    }
}
