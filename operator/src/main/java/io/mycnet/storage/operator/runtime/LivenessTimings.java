package io.mycnet.storage.operator.runtime;

import java.time.Duration;
import java.util.Optional;

/**
 * The four durations that decide when a silent node is written off, and the relation they must keep
 * so that a broken session (a restarted control plane, a network blip) is repaired long before the
 * node is marked DOWN:
 *
 * <ol>
 *   <li>{@code heartbeatInterval} at least 100 ms, and {@code nodeLeaseTtl} at least two heartbeat
 *       intervals (one lost heartbeat never expires a lease);
 *   <li>{@code reconnectBackoffMax} (the agents' longest wait between two reconnect attempts) at
 *       least 500 ms, the first retry;
 *   <li>{@code nodeLeaseTtl} plus the longest reconnect wait with its jitter ({@link #JITTER} ×
 *       {@code reconnectBackoffMax}) below {@code downGracePeriod}: an agent whose session broke is
 *       back, and its lease renewed, before the grace runs out.
 * </ol>
 *
 * The operator checks them at start ({@link OperatorSettings#checkLiveness}), local mode when it
 * reads the topology's {@code settings:}; a value that breaks them is refused naming the settings.
 */
public record LivenessTimings(
    Duration heartbeatInterval,
    Duration nodeLeaseTtl,
    Duration reconnectBackoffMax,
    Duration downGracePeriod) {

  /** The agents' default longest wait between two reconnect attempts. */
  public static final Duration DEFAULT_RECONNECT_BACKOFF_MAX = Duration.ofSeconds(5);

  /** The agents' reconnect waits are jittered by ±20 %: the longest is 1.2 × the cap. */
  public static final double JITTER = 1.2;

  /** How the four settings are called where they are set (for messages). */
  public record Names(
      String heartbeatInterval, String nodeLeaseTtl, String reconnect, String grace) {}

  /** A relation that does not hold: the settings involved and why. */
  public record Problem(String settings, String message) {
    @Override
    public String toString() {
      return settings + ": " + message;
    }
  }

  /** The longest an agent waits before its next reconnect attempt, jitter included. */
  public Duration longestReconnectWait() {
    return Duration.ofMillis((long) Math.ceil(reconnectBackoffMax.toMillis() * JITTER));
  }

  /** The first relation that does not hold, or empty. */
  public Optional<Problem> problem(Names n) {
    if (heartbeatInterval.toMillis() < 100) {
      return Optional.of(
          new Problem(
              n.heartbeatInterval(),
              "must be at least 100ms, was " + heartbeatInterval.toMillis() + "ms"));
    }
    if (nodeLeaseTtl.compareTo(heartbeatInterval.multipliedBy(2)) < 0) {
      return Optional.of(
          new Problem(
              n.nodeLeaseTtl() + ", " + n.heartbeatInterval(),
              n.nodeLeaseTtl()
                  + " ("
                  + text(nodeLeaseTtl)
                  + ") must be at least two heartbeat intervals (2 × "
                  + text(heartbeatInterval)
                  + "), or one lost heartbeat expires a node's lease"));
    }
    if (reconnectBackoffMax.toMillis() < 500) {
      return Optional.of(
          new Problem(
              n.reconnect(),
              "must be at least 500ms (the first reconnect wait), was "
                  + reconnectBackoffMax.toMillis()
                  + "ms"));
    }
    Duration worst = nodeLeaseTtl.plus(longestReconnectWait());
    if (worst.compareTo(downGracePeriod) >= 0) {
      return Optional.of(
          new Problem(
              n.grace() + ", " + n.nodeLeaseTtl() + ", " + n.reconnect(),
              n.grace()
                  + " ("
                  + text(downGracePeriod)
                  + ") must exceed "
                  + n.nodeLeaseTtl()
                  + " ("
                  + text(nodeLeaseTtl)
                  + ") plus the longest reconnect wait ("
                  + JITTER
                  + " × "
                  + n.reconnect()
                  + " = "
                  + text(longestReconnectWait())
                  + "), or a node whose session merely broke is marked DOWN"));
    }
    return Optional.empty();
  }

  static String text(Duration d) {
    long ms = d.toMillis();
    return ms % 1000 == 0 ? ms / 1000 + "s" : ms + "ms";
  }
}
