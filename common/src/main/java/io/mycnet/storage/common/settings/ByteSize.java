package io.mycnet.storage.common.settings;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sizes as people write them: a number of bytes ({@code 1073741824}), binary units ({@code 500MiB},
 * {@code 2TiB}, also {@code 500M}, {@code 2T}) or decimal units ({@code 10GB}).
 */
public final class ByteSize {
  private static final Pattern SIZE =
      Pattern.compile("(\\d+)\\s*(B|KiB|MiB|GiB|TiB|PiB|KB|MB|GB|TB|PB|K|M|G|T|P)?");

  private ByteSize() {}

  /**
   * Parses {@code text}.
   *
   * @throws IllegalArgumentException when it is not a size or does not fit in a long
   */
  public static long parse(String text) {
    String v = text == null ? "" : text.strip();
    Matcher m = SIZE.matcher(v);
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "'" + text + "' is not a size; use e.g. 500GiB, 2TiB or a number of bytes");
    }
    long n;
    try {
      n = Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + text + "' is too large");
    }
    String unit = m.group(2) == null ? "B" : m.group(2);
    long mult =
        switch (unit) {
          case "B" -> 1L;
          case "KiB", "K" -> 1L << 10;
          case "MiB", "M" -> 1L << 20;
          case "GiB", "G" -> 1L << 30;
          case "TiB", "T" -> 1L << 40;
          case "PiB", "P" -> 1L << 50;
          case "KB" -> 1_000L;
          case "MB" -> 1_000_000L;
          case "GB" -> 1_000_000_000L;
          case "TB" -> 1_000_000_000_000L;
          default -> 1_000_000_000_000_000L;
        };
    try {
      return Math.multiplyExact(n, mult);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("'" + text + "' is too large");
    }
  }

  /** The shortest exact text of {@code bytes}: {@code 4MiB}, {@code 200MiB}, {@code 1000}. */
  public static String format(long bytes) {
    String[] units = {"PiB", "TiB", "GiB", "MiB", "KiB"};
    int[] shifts = {50, 40, 30, 20, 10};
    for (int i = 0; i < units.length; i++) {
      long m = 1L << shifts[i];
      if (bytes != 0 && bytes % m == 0) {
        return bytes / m + units[i];
      }
    }
    return Long.toString(bytes);
  }
}
