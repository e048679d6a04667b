package io.mycnet.storage.agent.support;

import java.time.Duration;
import java.util.Random;

/**
 * Exponential backoff with ±20 % jitter: 0.5 s, 1 s, 2 s ... capped at {@code max} (the agent's
 * {@code reconnect-backoff-max}, 5 s by default); {@link #reset} starts again from 0.5 s.
 */
public final class Backoff {
  static final Duration INITIAL = Duration.ofMillis(500);
  public static final double JITTER = 0.2;
  private final Random random;
  private final long maxMs;
  private long nextMs = INITIAL.toMillis();

  public Backoff(Random random, Duration max) {
    if (max.compareTo(INITIAL) < 0) {
      throw new IllegalArgumentException("the backoff cap must be at least " + INITIAL);
    }
    this.random = random;
    this.maxMs = max.toMillis();
  }

  public synchronized long nextDelayMs() {
    long base = nextMs;
    nextMs = Math.min(maxMs, nextMs * 2);
    double jitter = 1 - JITTER + 2 * JITTER * random.nextDouble();
    return (long) (base * jitter);
  }

  /** The longest delay {@link #nextDelayMs} can return. */
  public long longestDelayMs() {
    return (long) Math.ceil(maxMs * (1 + JITTER));
  }

  public synchronized void reset() {
    nextMs = INITIAL.toMillis();
  }
}
