package io.mycnet.storage.common.settings;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Durations as people write them in flags, environment variables and custom resources: Go-style
 * {@code 500ms}, {@code 15s}, {@code 10m}, {@code 24h}, {@code 7d} and sums like {@code 1h30m}, or
 * ISO-8601 ({@code PT15S}). One parser for the control plane, the agents and the resources, so a
 * duration that works in one place works everywhere.
 */
public final class DurationText {
  private static final Pattern WHOLE = Pattern.compile("^([0-9]+(ms|s|m|h|d))+$");
  private static final Pattern PART = Pattern.compile("([0-9]+)(ms|s|m|h|d)");

  private DurationText() {}

  /**
   * Parses {@code text}.
   *
   * @throws IllegalArgumentException when it is not a duration (callers name their setting)
   */
  public static Duration parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("no duration given");
    }
    String s = text.trim();
    if (s.startsWith("P") || s.startsWith("p")) {
      try {
        return Duration.parse(s);
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("'" + text + "' is not an ISO-8601 duration", e);
      }
    }
    if (!WHOLE.matcher(s).matches()) {
      throw new IllegalArgumentException("'" + text + "' is not a duration");
    }
    Duration d = Duration.ZERO;
    Matcher m = PART.matcher(s);
    try {
      while (m.find()) {
        long n = Long.parseLong(m.group(1));
        d =
            d.plus(
                switch (m.group(2)) {
                  case "ms" -> Duration.ofMillis(n);
                  case "s" -> Duration.ofSeconds(n);
                  case "m" -> Duration.ofMinutes(n);
                  case "h" -> Duration.ofHours(n);
                  default -> Duration.ofDays(n);
                });
      }
    } catch (ArithmeticException | NumberFormatException e) {
      throw new IllegalArgumentException("'" + text + "' is too long a duration", e);
    }
    return d;
  }
}
