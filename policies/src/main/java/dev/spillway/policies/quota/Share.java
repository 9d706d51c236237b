package dev.spillway.policies.quota;

/**
 * A weighted dominant resource share: {@code borrowed / (lendable × weight)}, kept as an exact
 * fraction so that ordering by it is exact and deterministic (no rounding decides who goes first).
 *
 * @param numerator   what the tenant borrows in its dominant resource, times 1000
 * @param denominator what its cohort lends in that resource, times the weight in thousandths;
 *                    0 for an infinite share (weight 0)
 * @param dominant    the resource that yields the share, or {@code null} when it is 0 or infinite
 */
public record Share(long numerator, long denominator, QuotaResource dominant) implements Comparable<Share> {

    public static final Share ZERO = new Share(0, 1, null);
    public static final Share INFINITE = new Share(1, 0, null);

    public Share {
        if (numerator < 0 || denominator < 0 || (numerator == 0 && denominator == 0)) {
            throw new IllegalArgumentException("share " + numerator + "/" + denominator);
        }
    }

    static Share of(long borrowed, long lendable, long weightMilli, QuotaResource dominant) {
        return new Share(Math.multiplyExact(borrowed, 1000L), Math.multiplyExact(lendable, weightMilli), dominant);
    }

    public boolean isInfinite() {
        return denominator == 0;
    }

    /** The share as a number (1.0: borrowing as much as the whole cohort lends, at weight 1). */
    public double value() {
        return isInfinite() ? Double.POSITIVE_INFINITY : (double) numerator / denominator;
    }

    @Override
    public int compareTo(Share o) {
        if (isInfinite() || o.isInfinite()) return Boolean.compare(isInfinite(), o.isInfinite());
        // numerator / denominator vs o.numerator / o.denominator, by exact 128-bit cross products.
        long hi1 = Math.multiplyHigh(numerator, o.denominator), lo1 = numerator * o.denominator;
        long hi2 = Math.multiplyHigh(o.numerator, denominator), lo2 = o.numerator * denominator;
        return hi1 != hi2 ? Long.compare(hi1, hi2) : Long.compareUnsigned(lo1, lo2);
    }

    @Override
    public String toString() {
        if (isInfinite()) return "infinite (weight 0)";
        if (numerator == 0) return "0";
        return String.format(java.util.Locale.ROOT, "%.4f", value()) + " (" + dominant.key + ")";
    }
}
