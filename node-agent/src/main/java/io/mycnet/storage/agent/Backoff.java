package io.mycnet.storage.agent;

import java.time.Duration;
import java.util.Random;

/** Exponential backoff with ±20 % jitter: 0.5 s, 1 s, 2 s ... capped at 30 s; reset on success. */
final class Backoff {
  static final Duration INITIAL = Duration.ofMillis(500);
  static final Duration MAX = Duration.ofSeconds(30);
  private final Random random;
  private long nextMs = INITIAL.toMillis();

  Backoff(Random random) {
    this.random = random;
  }

  synchronized long nextDelayMs() {
    long base = nextMs;
    nextMs = Math.min(MAX.toMillis(), nextMs * 2);
    double jitter = 0.8 + 0.4 * random.nextDouble();
    return (long) (base * jitter);
  }

  synchronized void reset() {
    nextMs = INITIAL.toMillis();
  }
}
