package dev.spillway.api;

import com.google.type.Money;
import java.math.BigDecimal;

/**
 * Amounts of US dollars as {@code google.type.Money}, the API's one type for prices and costs.
 * Spillway keeps money in millionths of a dollar; a Money carries whole units and nanos of the
 * same sign, so a millionth is exactly 1,000 nanos and nothing is rounded either way.
 */
public final class Usd {

    /** The ISO 4217 code every amount of the API carries. */
    public static final String CODE = "USD";

    private Usd() {}

    /** {@code micros} millionths of a dollar. */
    public static Money ofMicros(long micros) {
        return Money.newBuilder().setCurrencyCode(CODE).setUnits(micros / 1_000_000).setNanos((int) (micros % 1_000_000) * 1000).build();
    }

    /** A dollar amount, to the nearest millionth. */
    public static Money of(double dollars) {
        return ofMicros(Math.round(dollars * 1_000_000));
    }

    /** The amount in millionths of a dollar (nanos below a millionth are dropped toward zero); IllegalArgumentException for another currency. */
    public static long micros(Money money) {
        if (!money.getCurrencyCode().isEmpty() && !CODE.equals(money.getCurrencyCode())) {
            throw new IllegalArgumentException("an amount in " + money.getCurrencyCode() + ", not " + CODE);
        }
        return Math.addExact(Math.multiplyExact(money.getUnits(), 1_000_000L), money.getNanos() / 1000);
    }

    /** The amount in dollars, for display and arithmetic that tolerates doubles. */
    public static double dollars(Money money) {
        return micros(money) / 1e6;
    }

    /** The amount as a plain decimal ({@code 0.123456}), exactly. */
    public static String plain(Money money) {
        return BigDecimal.valueOf(micros(money), 6).stripTrailingZeros().toPlainString();
    }
}
