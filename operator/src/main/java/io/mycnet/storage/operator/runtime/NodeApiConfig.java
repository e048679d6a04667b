package io.mycnet.storage.operator.runtime;

import io.mycnet.storage.operator.nodeapi.NodeApiSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Where the operator serves the node API (join and mutual-TLS sessions of the agents), from {@code
 * MYCNET_*} environment variables. The node API is on when {@code MYCNET_CA_DIR} is set.
 *
 * @param caDir directory of the control plane's CA (key file mode 0600; created when empty)
 * @param tokenFile the bootstrap token file (one token per line, {@code single-use} or {@code
 *     reusable}; mounted from a Secret in a cluster)
 * @param sessionPort port of the mutual-TLS session service (default 7443)
 * @param joinPort port of the join service (default 7444)
 * @param nodeCertLifetime lifetime of node certificates (default 24 h, renewed at 2/3)
 * @param auditInterval {@code MYCNET_AUDIT_INTERVAL}: how often every volume is audited whole
 *     (default 0: never)
 * @param address {@code MYCNET_NODE_API_ADDRESS}: the IP address both ports bind (default {@code
 *     0.0.0.0}; {@code 127.0.0.1} keeps the node API on loopback)
 * @param pingInterval {@code MYCNET_PING_INTERVAL}: how often each session is pinged to measure
 *     round trips (default 30 s, at least 100 ms)
 * @param serverNames {@code MYCNET_SERVER_NAMES}: DNS names and IP literals of the node API's TLS
 *     server certificate, comma separated (default {@code localhost,127.0.0.1,::1})
 * @param joinFailuresPerMinute {@code MYCNET_JOIN_FAILURES_PER_MINUTE}: failed joins from one
 *     address per minute before its further joins are refused for the rest of the minute (default
 *     20)
 * @param maxSessions {@code MYCNET_MAX_SESSIONS}: sessions beyond this are refused (default 20000)
 */
public record NodeApiConfig(
    Path caDir,
    Path tokenFile,
    int sessionPort,
    int joinPort,
    Duration nodeCertLifetime,
    Duration auditInterval,
    String address,
    Duration pingInterval,
    List<String> serverNames,
    int joinFailuresPerMinute,
    int maxSessions) {

  public NodeApiConfig {
    if (!OperatorSettings.isIpLiteral(address)) {
      throw new OperatorSettings.BadSetting(
          "MYCNET_NODE_API_ADDRESS",
          "'" + address + "' is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)");
    }
    if (pingInterval.toMillis() < 100) {
      throw new OperatorSettings.BadSetting(
          "MYCNET_PING_INTERVAL", "must be at least 100ms, was " + pingInterval.toMillis() + "ms");
    }
    serverNames = List.copyOf(serverNames);
    if (serverNames.isEmpty()) {
      throw new OperatorSettings.BadSetting("MYCNET_SERVER_NAMES", "names no server name");
    }
    if (joinFailuresPerMinute < 1) {
      throw new OperatorSettings.BadSetting(
          "MYCNET_JOIN_FAILURES_PER_MINUTE", "must be >= 1, was " + joinFailuresPerMinute);
    }
    if (maxSessions < 1) {
      throw new OperatorSettings.BadSetting(
          "MYCNET_MAX_SESSIONS", "must be >= 1, was " + maxSessions);
    }
  }

  /** The node API server's tunables, with the agents' {@code heartbeatInterval}. */
  public NodeApiSettings settings(Duration heartbeatInterval) {
    return NodeApiSettings.defaults()
        .withHeartbeatInterval(heartbeatInterval)
        .withPingInterval(pingInterval)
        .withServerNames(serverNames)
        .withJoinFailuresPerMinute(joinFailuresPerMinute)
        .withMaxSessions(maxSessions);
  }

  /** The node API settings, or null when {@code MYCNET_CA_DIR} is not set (node API off). */
  public static NodeApiConfig fromEnvironment(Map<String, String> env) {
    String ca = env.get("MYCNET_CA_DIR");
    if (ca == null || ca.isBlank()) {
      return null;
    }
    String tokens = env.get("MYCNET_TOKEN_FILE");
    if (tokens == null || tokens.isBlank()) {
      throw new OperatorSettings.BadSetting(
          "MYCNET_TOKEN_FILE", "must name the bootstrap token file when MYCNET_CA_DIR is set");
    }
    Path tokenFile = Path.of(tokens);
    if (!Files.isReadable(tokenFile)) {
      throw new OperatorSettings.BadSetting(
          "MYCNET_TOKEN_FILE", tokenFile + " is not a readable file");
    }
    return new NodeApiConfig(
        Path.of(ca),
        tokenFile,
        port(env, "MYCNET_SESSION_PORT", 7443),
        port(env, "MYCNET_JOIN_PORT", 7444),
        OperatorSettings.dur(
            "MYCNET_NODE_CERT_LIFETIME",
            env.get("MYCNET_NODE_CERT_LIFETIME"),
            Duration.ofHours(24)),
        OperatorSettings.dur(
            "MYCNET_AUDIT_INTERVAL", env.get("MYCNET_AUDIT_INTERVAL"), Duration.ZERO),
        value(env, "MYCNET_NODE_API_ADDRESS", "0.0.0.0"),
        OperatorSettings.dur(
            "MYCNET_PING_INTERVAL",
            env.get("MYCNET_PING_INTERVAL"),
            NodeApiSettings.defaults().pingInterval()),
        names(env.get("MYCNET_SERVER_NAMES")),
        count(
            env,
            "MYCNET_JOIN_FAILURES_PER_MINUTE",
            NodeApiSettings.defaults().joinFailuresPerMinute()),
        count(env, "MYCNET_MAX_SESSIONS", NodeApiSettings.defaults().maxSessions()));
  }

  private static String value(Map<String, String> env, String name, String dflt) {
    String v = env.get(name);
    return v == null || v.isBlank() ? dflt : v.trim();
  }

  private static List<String> names(String v) {
    if (v == null) {
      return NodeApiSettings.defaults().serverNames();
    }
    return Arrays.stream(v.split(",")).map(String::trim).filter(n -> !n.isEmpty()).toList();
  }

  private static int count(Map<String, String> env, String name, int dflt) {
    String v = env.get(name);
    if (v == null || v.isBlank()) {
      return dflt;
    }
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new OperatorSettings.BadSetting(name, "must be a whole number, was '" + v + "'");
    }
  }

  /**
   * {@code MYCNET_HEARTBEAT_INTERVAL}: how often agents heartbeat (told to them in the welcome;
   * default 5 s). Read also when the node API is off, for {@link OperatorSettings#checkLiveness}.
   */
  public static Duration heartbeatInterval(Map<String, String> env) {
    return OperatorSettings.dur(
        "MYCNET_HEARTBEAT_INTERVAL",
        env.get("MYCNET_HEARTBEAT_INTERVAL"),
        NodeApiSettings.defaults().heartbeatInterval());
  }

  /**
   * {@code MYCNET_AGENT_RECONNECT_MAX}: the agents' {@code reconnect-backoff-max} (default 5 s, the
   * agents' default). The operator cannot see the agents' setting; it is told, so that {@link
   * OperatorSettings#checkLiveness} can refuse a grace period the agents cannot meet.
   */
  public static Duration agentReconnectMax(Map<String, String> env) {
    return OperatorSettings.dur(
        "MYCNET_AGENT_RECONNECT_MAX",
        env.get("MYCNET_AGENT_RECONNECT_MAX"),
        LivenessTimings.DEFAULT_RECONNECT_BACKOFF_MAX);
  }

  private static int port(Map<String, String> env, String name, int dflt) {
    String v = env.get(name);
    if (v == null || v.isBlank()) {
      return dflt;
    }
    try {
      int p = Integer.parseInt(v.trim());
      if (p < 0 || p > 65535) {
        throw new OperatorSettings.BadSetting(name, "must be a port 0..65535, was " + v);
      }
      return p;
    } catch (NumberFormatException e) {
      throw new OperatorSettings.BadSetting(name, "must be a port number, was '" + v + "'");
    }
  }
}
