package io.mycnet.storage.operator.runtime;

import io.mycnet.storage.operator.nodeapi.NodeApiSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 */
public record NodeApiConfig(
    Path caDir,
    Path tokenFile,
    int sessionPort,
    int joinPort,
    Duration nodeCertLifetime,
    Duration auditInterval) {

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
            "MYCNET_AUDIT_INTERVAL", env.get("MYCNET_AUDIT_INTERVAL"), Duration.ZERO));
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
