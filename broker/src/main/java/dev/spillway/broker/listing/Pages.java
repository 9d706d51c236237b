package dev.spillway.broker.listing;

import dev.spillway.broker.errors.InvalidRequest;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.List;
import java.util.function.Function;

/**
 * Paging as AIP-158 has it, for listings the broker holds whole (pools, nodes) and for those it
 * reads a page at a time: a page size of 0 is the default and one above the maximum is the
 * maximum; a token is opaque, carries the last key sent and the digest of the request's filters,
 * and is refused (INVALID_ARGUMENT, {@code page_token}) with other filters or another listing.
 */
public final class Pages {

    private Pages() {}

    /** A page of items and the token of the next page (empty on the last). */
    public record Page<T>(List<T> items, String nextPageToken) {
    }

    /** {@code requested} made a page size: 0 → {@code fallback}, above {@code max} → {@code max}; negative is refused. */
    public static int size(int requested, int fallback, int max) {
        if (requested < 0) throw InvalidRequest.of("page_size", "must not be negative");
        return requested == 0 ? fallback : Math.min(requested, max);
    }

    /**
     * The key after which the page starts, from {@code token}, or null for the first page.
     *
     * @param listing what is listed ({@code pools}, {@code nodes}, ...): a token of another listing is refused
     * @param filters every filter of the request, in a fixed order: a token is refused with others
     */
    public static String after(String token, String listing, String... filters) {
        if (token == null || token.isEmpty()) return null;
        String decoded;
        try {
            decoded = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw InvalidRequest.of("page_token", "not a page token of this listing");
        }
        String[] parts = decoded.split("\n", 3);
        if (parts.length != 3 || !parts[0].equals(listing)) throw InvalidRequest.of("page_token", "not a page token of this listing");
        if (!parts[1].equals(digest(filters))) {
            throw InvalidRequest.of("page_token", "belongs to a listing with other filters than this request's");
        }
        return parts[2];
    }

    /** The token that continues after {@code lastKey}. */
    public static String token(String lastKey, String listing, String... filters) {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((listing + "\n" + digest(filters) + "\n" + lastKey).getBytes(StandardCharsets.UTF_8));
    }

    /** A page of {@code sorted} (by {@code key}, ascending) after the token's key. */
    public static <T> Page<T> slice(List<T> sorted, Function<T, String> key, int pageSize, String token, String listing, String... filters) {
        String after = after(token, listing, filters);
        int from = 0;
        if (after != null) {
            while (from < sorted.size() && key.apply(sorted.get(from)).compareTo(after) <= 0) from++;
        }
        int to = Math.min(sorted.size(), from + pageSize);
        List<T> items = sorted.subList(from, to);
        String next = to < sorted.size() ? token(key.apply(sorted.get(to - 1)), listing, filters) : "";
        return new Page<>(List.copyOf(items), next);
    }

    private static String digest(String... filters) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String f : filters) {
                sha.update((f == null ? "\u0000" : f).getBytes(StandardCharsets.UTF_8));
                sha.update((byte) '\n');
            }
            return Base64.getUrlEncoder().withoutPadding().encodeToString(java.util.Arrays.copyOf(sha.digest(), 9));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
