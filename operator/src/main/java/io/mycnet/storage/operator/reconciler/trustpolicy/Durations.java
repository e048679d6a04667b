package io.mycnet.storage.operator.reconciler.trustpolicy;

import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Go-style durations as Kubernetes writes them: {@code 500ms}, {@code 15s}, {@code 1h30m}. */
final class Durations {
  private static final Pattern WHOLE = Pattern.compile("^([0-9]+(ms|s|m|h))+$");
  private static final Pattern PART = Pattern.compile("([0-9]+)(ms|s|m|h)");

  private Durations() {}

  static Duration parse(String field, String text) {
    if (text == null || !WHOLE.matcher(text).matches()) {
      throw new InvalidFieldException(
          field, "'" + text + "' is not a duration; write e.g. 100ms, 15s, 10m, 24h or 1h30m");
    }
    Duration d = Duration.ZERO;
    Matcher m = PART.matcher(text);
    try {
      while (m.find()) {
        long n = Long.parseLong(m.group(1));
        d =
            d.plus(
                switch (m.group(2)) {
                  case "ms" -> Duration.ofMillis(n);
                  case "s" -> Duration.ofSeconds(n);
                  case "m" -> Duration.ofMinutes(n);
                  default -> Duration.ofHours(n);
                });
      }
    } catch (ArithmeticException | NumberFormatException e) {
      throw new InvalidFieldException(field, "'" + text + "' is too long a duration");
    }
    return d;
  }
}
