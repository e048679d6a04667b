package io.mycnet.storage.operator.runtime;

import io.mycnet.storage.common.settings.Check;
import io.mycnet.storage.common.settings.Setting;
import io.mycnet.storage.common.settings.SettingValues;
import io.mycnet.storage.operator.nodeapi.NodeApiSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
    serverNames = List.copyOf(serverNames);
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

  public static final Setting<Path> CA_DIR =
      Setting.path("ca-dir")
          .defaultText("none: the node API is off")
          .doc(
              "directory of the control plane's CA (key file mode 0600; created when empty);"
                  + " setting it turns the node API on");
  public static final Setting<Path> TOKEN_FILE =
      Setting.path("token-file")
          .defaultText("required with ca-dir")
          .check((p, t) -> Files.isReadable(p) ? null : p + " is not a readable file")
          .doc(
              "the bootstrap token file (one token per line, single-use or reusable; mounted"
                  + " from a Secret in a cluster)");
  public static final Setting<Integer> SESSION_PORT =
      Setting.integer("session-port")
          .defaultValue(7443)
          .check(Check.port())
          .doc("port of the mutual-TLS session service of the agents");
  public static final Setting<Integer> JOIN_PORT =
      Setting.integer("join-port")
          .defaultValue(7444)
          .check(Check.port())
          .doc("port of the join service (TLS, bootstrap token)");
  public static final Setting<Duration> NODE_CERT_LIFETIME =
      Setting.duration("node-cert-lifetime")
          .defaultValue(Duration.ofHours(24))
          .doc("lifetime of node certificates (renewed at 2/3 of it)");
  public static final Setting<Duration> AUDIT_INTERVAL =
      Setting.duration("audit-interval")
          .defaultValue(Duration.ZERO)
          .doc("how often every volume is audited whole; 0: never");
  public static final Setting<Duration> HEARTBEAT_INTERVAL =
      Setting.duration("heartbeat-interval")
          .defaultValue(NodeApiSettings.defaults().heartbeatInterval())
          .doc(
              "how often agents heartbeat (told to them in the welcome); checked against the"
                  + " lease also when the node API is off");
  public static final Setting<Duration> AGENT_RECONNECT_MAX =
      Setting.duration("agent-reconnect-max")
          .defaultValue(LivenessTimings.DEFAULT_RECONNECT_BACKOFF_MAX)
          .doc(
              "the agents' reconnect-backoff-max, which the operator cannot see: the grace"
                  + " period is checked against it");

  public static final Setting<String> ADDRESS =
      Setting.string("node-api-address")
          .defaultValue("0.0.0.0")
          .check(
              (a, t) ->
                  OperatorSettings.isIpLiteral(a)
                      ? null
                      : "'" + a + "' is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)")
          .doc("the IP address the session and join ports bind; 127.0.0.1 keeps them on loopback");
  public static final Setting<Duration> PING_INTERVAL =
      Setting.duration("ping-interval")
          .defaultValue(NodeApiSettings.defaults().pingInterval())
          .check(Check.atLeast(Duration.ofMillis(100)))
          .doc("how often each session is pinged to measure round trips");
  public static final Setting<List<String>> SERVER_NAMES =
      Setting.list("server-names")
          .defaultValue(NodeApiSettings.defaults().serverNames())
          .check((names, t) -> names.isEmpty() ? "names no server name" : null)
          .doc(
              "DNS names and IP literals of the node API's TLS server certificate, comma separated");
  public static final Setting<Integer> JOIN_FAILURES_PER_MINUTE =
      Setting.integer("join-failures-per-minute")
          .defaultValue(NodeApiSettings.defaults().joinFailuresPerMinute())
          .check(Check.atLeast(1))
          .doc(
              "failed joins from one address per minute before its further joins are refused"
                  + " for the rest of the minute");
  public static final Setting<Integer> MAX_SESSIONS =
      Setting.integer("max-sessions")
          .defaultValue(NodeApiSettings.defaults().maxSessions())
          .check(Check.atLeast(1))
          .doc("agent sessions beyond this many are refused");

  /**
   * The node API's settings, in the reference's order (part of {@link OperatorSettings#PROCESS}).
   */
  public static final List<Setting<?>> SETTINGS =
      List.of(
          CA_DIR,
          TOKEN_FILE,
          SESSION_PORT,
          JOIN_PORT,
          NODE_CERT_LIFETIME,
          AUDIT_INTERVAL,
          HEARTBEAT_INTERVAL,
          AGENT_RECONNECT_MAX,
          ADDRESS,
          PING_INTERVAL,
          SERVER_NAMES,
          JOIN_FAILURES_PER_MINUTE,
          MAX_SESSIONS);

  /** The node API settings, or null when {@code MYCNET_CA_DIR} is not set (node API off). */
  public static NodeApiConfig fromEnvironment(Map<String, String> env) {
    SettingValues v = OperatorSettings.PROCESS.read(env);
    if (!v.isSet(CA_DIR)) {
      return null;
    }
    if (!v.isSet(TOKEN_FILE)) {
      throw v.problem(
          TOKEN_FILE, "must name the bootstrap token file when " + CA_DIR.envName() + " is set");
    }
    return new NodeApiConfig(
        v.get(CA_DIR),
        v.get(TOKEN_FILE),
        v.get(SESSION_PORT),
        v.get(JOIN_PORT),
        v.get(NODE_CERT_LIFETIME),
        v.get(AUDIT_INTERVAL),
        v.get(ADDRESS),
        v.get(PING_INTERVAL),
        v.get(SERVER_NAMES),
        v.get(JOIN_FAILURES_PER_MINUTE),
        v.get(MAX_SESSIONS));
  }

  /**
   * {@code MYCNET_HEARTBEAT_INTERVAL}: how often agents heartbeat (told to them in the welcome;
   * default 5 s). Read also when the node API is off, for {@link OperatorSettings#checkLiveness}.
   */
  public static Duration heartbeatInterval(Map<String, String> env) {
    return OperatorSettings.PROCESS.read(env).get(HEARTBEAT_INTERVAL);
  }

  /**
   * {@code MYCNET_AGENT_RECONNECT_MAX}: the agents' {@code reconnect-backoff-max} (default 5 s, the
   * agents' default). The operator cannot see the agents' setting; it is told, so that {@link
   * OperatorSettings#checkLiveness} can refuse a grace period the agents cannot meet.
   */
  public static Duration agentReconnectMax(Map<String, String> env) {
    return OperatorSettings.PROCESS.read(env).get(AGENT_RECONNECT_MAX);
  }
}
