package dev.spillway.policies.document;

/**
 * One thing wrong with a set of policy files, where it is and what it is.
 *
 * @param file    the file name the text was given under
 * @param line    1-based line in that file (0 when the problem is not tied to a place, e.g. a missing file)
 * @param column  1-based column (code points) in that line
 * @param message what is wrong, in words a policy author can act on
 */
public record Problem(String file, int line, int column, String message) {

    public static Problem at(Location where, String message) {
        return new Problem(where.file(), where.line(), where.column(), message);
    }

    @Override
    public String toString() {
        return line > 0 ? file + ":" + line + ":" + column + ": " + message : file + ": " + message;
    }
}
