package io.mycnet.storage.operator.placement;

/**
 * The hashing and the logarithm behind every placement draw. Both are pure 64-bit integer and IEEE
 * double arithmetic, so a placement computed on one JVM or CPU is bit-for-bit the one computed on
 * another (unlike {@link Math#log}, which may differ by an ulp between platforms).
 */
final class PlacementHash {
  private static final double LN2 = 0.6931471805599453;
  private static final double SQRT2 = 1.4142135623730951;
  private static final long GOLDEN = 0x9E3779B97F4A7C15L;

  private PlacementHash() {}

  /** MurmurHash3's 64-bit finaliser: a bijective, well-avalanching mix. */
  static long mix(long z) {
    z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
    z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
    return z ^ (z >>> 33);
  }

  /** A 64-bit hash of a string (a volume id, a node id). */
  static long of(String s) {
    long h = GOLDEN ^ ((long) s.length() * 0xff51afd7ed558ccdL);
    for (int i = 0; i < s.length(); i++) {
      h ^= s.charAt(i);
      h *= GOLDEN;
      h ^= h >>> 29;
    }
    return mix(h);
  }

  /** Combines two hashes into a third. */
  static long combine(long a, long b) {
    return mix(a ^ mix(b + GOLDEN));
  }

  /** A uniform double in the open interval (0, 1) from the top 53 bits of {@code h}. */
  static double unit(long h) {
    return ((h >>> 11) + 0.5) * 0x1.0p-53;
  }

  /**
   * Natural logarithm of a positive, normal double, to about 1e-13 relative error. Reduces {@code x
   * = m * 2^e} with {@code m} in [sqrt(1/2), sqrt(2)) and sums the atanh series of {@code m}.
   */
  static double ln(double x) {
    long bits = Double.doubleToRawLongBits(x);
    int e = (int) ((bits >>> 52) & 0x7ff) - 1023;
    double m = Double.longBitsToDouble((bits & 0x000fffffffffffffL) | 0x3ff0000000000000L);
    if (m > SQRT2) {
      m *= 0.5;
      e++;
    }
    double s = (m - 1.0) / (m + 1.0);
    double s2 = s * s;
    double poly =
        1.0
            + s2
                * (1.0 / 3
                    + s2
                        * (1.0 / 5
                            + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 * (1.0 / 11 + s2 * (1.0 / 13))))));
    return e * LN2 + 2.0 * s * poly;
  }

  /** An exponential variate of rate 1 from a hash: {@code -ln(u)}. */
  static double exp1(long h) {
    return -ln(unit(h));
  }
}
