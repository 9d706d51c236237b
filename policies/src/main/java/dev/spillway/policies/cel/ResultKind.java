package dev.spillway.policies.cel;

/** What an expression must evaluate to, checked when the policy is applied. */
public enum ResultKind {
    /** conditions: {@code match}, {@code deny} */
    BOOL("bool"),
    /** human reasons: {@code message} */
    STRING("string"),
    /** scores: int or double */
    NUMBER("int or double");

    private final String description;

    ResultKind(String description) {
        this.description = description;
    }

    public String description() {
        return description;
    }
}
