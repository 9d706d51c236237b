package dev.spillway.agent;

import dev.spillway.api.agent.v1.Assign;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Which attempt a broker message is about, checked before the agent acts on it: the job id is a
 * UUID (the broker's own form, 8-4-4-4-12 hex digits; kept in lower case), the task index and the
 * attempt number are not negative. Only a checked id becomes a path on this node, so nothing the
 * broker sends can name a directory outside the attempts root ({@code ../}, absolute paths, NULs).
 */
record AttemptId(String jobId, int taskIndex, int attempt) {

    private static final Pattern UUID = Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

    /** Use {@link #verify}. */
    AttemptId {
        jobId = jobId.toLowerCase(Locale.ROOT);
    }

    /** @throws IllegalArgumentException saying what is wrong, if any of the three is malformed */
    static AttemptId verify(String jobId, int taskIndex, int attempt) {
        if (!UUID.matcher(jobId).matches()) throw new IllegalArgumentException("job id " + quoted(jobId) + " is not a UUID");
        if (taskIndex < 0) throw new IllegalArgumentException("task index " + taskIndex + " is negative");
        if (attempt < 0) throw new IllegalArgumentException("attempt " + attempt + " is negative");
        return new AttemptId(jobId, taskIndex, attempt);
    }

    /** An assignment's id, and a command to run. */
    static AttemptId verify(Assign assign) {
        AttemptId id = verify(assign.getJobId(), assign.getTaskIndex(), assign.getAttempt());
        if (assign.getCommandCount() == 0 || assign.getCommand(0).isEmpty()) throw new IllegalArgumentException("the assignment has no command");
        return id;
    }

    /** The key this node keeps the attempt under ({@link Attempt#key}). */
    String key() {
        return Attempt.key(jobId, taskIndex, attempt);
    }

    /** {@code root/<job>/<task>/<attempt>}, always inside {@code root}. */
    Path dirUnder(Path root) {
        Path dir = root.resolve(jobId).resolve(Integer.toString(taskIndex)).resolve(Integer.toString(attempt));
        if (!dir.normalize().startsWith(root.normalize())) throw new IllegalStateException("not under " + root + ": " + dir); // cannot happen once verified
        return dir;
    }

    /**
     * A broker-sent string for a log line or message: at most 64 characters, control characters
     * shown as {@code ?}, so a hostile id cannot forge log lines or flood them.
     */
    static String quoted(String text) {
        String shown = text.length() > 64 ? text.substring(0, 64) + "…" : text;
        return "'" + shown.codePoints().map(c -> Character.isISOControl(c) ? '?' : c)
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append) + "'";
    }
}
