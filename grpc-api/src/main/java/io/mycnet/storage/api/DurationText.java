package io.mycnet.storage.api;

import java.time.Duration;

/**
 * The old name of {@link io.mycnet.storage.common.settings.DurationText}, which now holds the one
 * duration grammar of the product; kept for the callers that have not moved yet.
 *
 * @deprecated use {@link io.mycnet.storage.common.settings.DurationText}
 */
@Deprecated
public final class DurationText {
  private DurationText() {}

  /** See {@link io.mycnet.storage.common.settings.DurationText#parse}. */
  public static Duration parse(String text) {
    return io.mycnet.storage.common.settings.DurationText.parse(text);
  }
}
