package io.mycnet.storage.bench.support;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Bounded waits of the benchmarks: a condition polled until it holds or the time is up. */
public final class Waits {
  private Waits() {}

  /**
   * Polls {@code condition} every {@code pollMillis} until it holds; IllegalStateException naming
   * {@code what} after {@code seconds}.
   */
  public static void await(String what, int seconds, long pollMillis, BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("not within " + seconds + " s: " + what);
      }
      Thread.sleep(pollMillis);
    }
  }
}
