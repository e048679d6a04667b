package io.mycnet.storage.operator.reconciler.trustpolicy;

import io.mycnet.storage.common.settings.DurationText;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import java.time.Duration;

/** Durations in a TrustPolicy ({@code 500ms}, {@code 15s}, {@code 1h30m}), named by their field. */
final class Durations {
  private Durations() {}

  static Duration parse(String field, String text) {
    try {
      return DurationText.parse(text);
    } catch (IllegalArgumentException e) {
      throw new InvalidFieldException(
          field, "'" + text + "' is not a duration; write e.g. 100ms, 15s, 10m, 24h or 1h30m");
    }
  }
}
