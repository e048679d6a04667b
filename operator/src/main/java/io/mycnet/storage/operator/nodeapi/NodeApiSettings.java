package io.mycnet.storage.operator.nodeapi;

import java.time.Duration;
import java.util.List;

/**
 * Tunables of the node API.
 *
 * @param heartbeatInterval how often agents heartbeat (told to them at join and in the welcome)
 * @param pingInterval how often the control plane pings each session to measure round trips
 * @param maxSessions sessions beyond this are refused with RESOURCE_EXHAUSTED
 * @param joinFailuresPerMinute failed joins (bad token, refused node) from one address per minute
 *     before further joins from it get RESOURCE_EXHAUSTED for the rest of the minute
 * @param serverNames DNS names and IP literals of the control plane's TLS server certificate
 * @param handlerThreads threads of the bounded executor that runs every call (calls block on etcd)
 * @param recordRefreshInterval how often a session writes the node's usage and last-seen time to
 *     its NodeRecord (also written at once when capacity or usage change)
 */
public record NodeApiSettings(
    Duration heartbeatInterval,
    Duration pingInterval,
    int maxSessions,
    int joinFailuresPerMinute,
    List<String> serverNames,
    int handlerThreads,
    Duration recordRefreshInterval) {

  public NodeApiSettings {
    if (heartbeatInterval.toMillis() < 100) {
      throw new IllegalArgumentException("heartbeat interval must be at least 100 ms");
    }
    if (pingInterval.toMillis() < 100) {
      throw new IllegalArgumentException("ping interval must be at least 100 ms");
    }
    if (maxSessions < 1 || joinFailuresPerMinute < 1 || handlerThreads < 1) {
      throw new IllegalArgumentException(
          "max sessions, join failures per minute and handler threads must be positive");
    }
    serverNames = List.copyOf(serverNames);
  }

  /** Heartbeat 5 s, ping 30 s, 20,000 sessions, 20 failed joins/min/address, 16 threads. */
  public static NodeApiSettings defaults() {
    return new NodeApiSettings(
        Duration.ofSeconds(5),
        Duration.ofSeconds(30),
        20_000,
        20,
        List.of("localhost", "127.0.0.1", "::1"),
        16,
        Duration.ofSeconds(60));
  }

  public NodeApiSettings withHeartbeatInterval(Duration d) {
    return new NodeApiSettings(
        d,
        pingInterval,
        maxSessions,
        joinFailuresPerMinute,
        serverNames,
        handlerThreads,
        recordRefreshInterval);
  }

  public NodeApiSettings withPingInterval(Duration d) {
    return new NodeApiSettings(
        heartbeatInterval,
        d,
        maxSessions,
        joinFailuresPerMinute,
        serverNames,
        handlerThreads,
        recordRefreshInterval);
  }

  public NodeApiSettings withServerNames(List<String> names) {
    return new NodeApiSettings(
        heartbeatInterval,
        pingInterval,
        maxSessions,
        joinFailuresPerMinute,
        names,
        handlerThreads,
        recordRefreshInterval);
  }

  public NodeApiSettings withJoinFailuresPerMinute(int n) {
    return new NodeApiSettings(
        heartbeatInterval,
        pingInterval,
        maxSessions,
        n,
        serverNames,
        handlerThreads,
        recordRefreshInterval);
  }

  public NodeApiSettings withMaxSessions(int n) {
    return new NodeApiSettings(
        heartbeatInterval,
        pingInterval,
        n,
        joinFailuresPerMinute,
        serverNames,
        handlerThreads,
        recordRefreshInterval);
  }
}
