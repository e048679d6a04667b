package io.mycnet.storage.operator.reconciler;

import io.fabric8.kubernetes.api.model.Quantity;
import java.math.BigDecimal;

/** Kubernetes quantities ({@code 10Gi}, {@code 500M}, {@code 1073741824}) as whole bytes. */
public final class Quantities {
  private static final String[] BINARY = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};

  private Quantities() {}

  /**
   * Parses a quantity into bytes.
   *
   * @param field the field path, for the error
   * @throws InvalidFieldException when the quantity is missing, malformed, fractional, not positive
   *     or larger than a long
   */
  public static long bytes(String field, Quantity q) {
    if (q == null || q.getAmount() == null || q.getAmount().isBlank()) {
      throw new InvalidFieldException(field, "must be set, e.g. 10Gi");
    }
    BigDecimal b;
    try {
      b = Quantity.getAmountInBytes(q);
    } catch (RuntimeException e) {
      throw new InvalidFieldException(
          field,
          "'"
              + q
              + "' is not a Kubernetes quantity; write a number with an optional suffix such as"
              + " Ki, Mi, Gi, Ti (powers of 1024) or k, M, G, T (powers of 1000), e.g. 10Gi");
    }
    if (b.signum() <= 0) {
      throw new InvalidFieldException(field, "must be greater than 0, was " + q);
    }
    try {
      return b.stripTrailingZeros().toBigIntegerExact().longValueExact();
    } catch (ArithmeticException e) {
      throw new InvalidFieldException(
          field, "'" + q + "' is not a whole number of bytes or is too large");
    }
  }

  /** Bytes written the way kubectl would show them: the largest exact binary unit (10Gi). */
  public static String format(long bytes) {
    if (bytes == 0) {
      return "0";
    }
    int unit = 0;
    double v = bytes;
    while (unit < BINARY.length - 1 && Math.abs(v) >= 1024) {
      v /= 1024;
      unit++;
    }
    if (v == Math.rint(v)) {
      return (long) v + BINARY[unit];
    }
    return String.format(java.util.Locale.ROOT, "%.1f%s", v, BINARY[unit]);
  }
}
