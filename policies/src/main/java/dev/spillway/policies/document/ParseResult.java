package dev.spillway.policies.document;

import java.util.List;

/**
 * What parsing a set of files gave: either every document (and no problems) or every problem
 * found (and no documents). Nothing is half accepted.
 */
public record ParseResult(List<Document> documents, List<Problem> problems) {

    public ParseResult {
        documents = List.copyOf(documents);
        problems = List.copyOf(problems);
        if (!problems.isEmpty()) documents = List.of();
    }

    public boolean ok() {
        return problems.isEmpty();
    }
}
