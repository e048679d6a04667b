package io.mycnet.storage.operator.nodeapi;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs a refused peer once, not once per retry: the first refusal of a key (peer and reason) is a
 * WARN line, repeats within {@link #QUIET_PERIOD} are counted and logged at DEBUG only. Bounded
 * memory: at most {@link #MAX_KEYS} keys are remembered.
 */
public final class RefusalLog {
  private static final Logger LOG =
      LoggerFactory.getLogger("io.mycnet.storage.operator.nodeapi.refused");
  public static final Duration QUIET_PERIOD = Duration.ofHours(1);
  public static final int MAX_KEYS = 10_000;

  private final Cache<String, AtomicLong> seen =
      Caffeine.newBuilder().maximumSize(MAX_KEYS).expireAfterWrite(QUIET_PERIOD).build();

  /**
   * Records a refusal. Returns true when this call logged it (the first time for {@code key}).
   *
   * @param key identifies the peer and the reason, e.g. "join-token:127.0.0.1:abcdef"
   * @param message the log line (never a secret)
   */
  public boolean refused(String key, String message) {
    AtomicLong count = seen.get(key, k -> new AtomicLong());
    long n = count.incrementAndGet();
    if (n == 1) {
      LOG.warn(
          "refused: {} (further refusals of the same peer for the same reason are not logged"
              + " for {} min)",
          message,
          QUIET_PERIOD.toMinutes());
      return true;
    }
    LOG.debug("refused again ({} times): {}", n, message);
    return false;
  }
}
