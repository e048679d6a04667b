package io.mycnet.storage.operator.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeApiConfigTest {

  @Test
  void offWithoutCaDir() {
    assertThat(NodeApiConfig.fromEnvironment(Map.of())).isNull();
  }

  @Test
  void readsPortsAndLifetime(@TempDir Path dir) throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), "abc reusable\n");
    NodeApiConfig c =
        NodeApiConfig.fromEnvironment(
            Map.of(
                "MYCNET_CA_DIR",
                dir.resolve("ca").toString(),
                "MYCNET_TOKEN_FILE",
                tokens.toString(),
                "MYCNET_SESSION_PORT",
                "9443",
                "MYCNET_NODE_CERT_LIFETIME",
                "12h"));
    assertThat(c.sessionPort()).isEqualTo(9443);
    assertThat(c.joinPort()).isEqualTo(7444);
    assertThat(c.nodeCertLifetime()).isEqualTo(Duration.ofHours(12));
  }

  @Test
  void defaultsAreTheDocumentedOnes(@TempDir Path dir) throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), "abc reusable\n");
    NodeApiConfig c =
        NodeApiConfig.fromEnvironment(
            Map.of(
                "MYCNET_CA_DIR", dir.resolve("ca").toString(), "MYCNET_TOKEN_FILE", "" + tokens));
    assertThat(c.sessionPort()).isEqualTo(7443);
    assertThat(c.joinPort()).isEqualTo(7444);
    assertThat(c.address()).isEqualTo("0.0.0.0");
    assertThat(c.nodeCertLifetime()).isEqualTo(Duration.ofHours(24));
    assertThat(c.auditInterval()).isZero();
    assertThat(c.serverNames()).contains("localhost", "127.0.0.1");
    assertThat(c.pingInterval()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.joinFailuresPerMinute()).isEqualTo(20);
    assertThat(c.maxSessions()).isEqualTo(20000);
    assertThat(NodeApiConfig.heartbeatInterval(Map.of())).isEqualTo(Duration.ofSeconds(5));
    assertThat(NodeApiConfig.heartbeatInterval(Map.of("MYCNET_HEARTBEAT_INTERVAL", "500ms")))
        .isEqualTo(Duration.ofMillis(500));
  }

  @Test
  void readsTheSessionTunables(@TempDir Path dir) throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), "abc reusable\n");
    NodeApiConfig c =
        NodeApiConfig.fromEnvironment(
            Map.of(
                "MYCNET_CA_DIR", dir.resolve("ca").toString(),
                "MYCNET_TOKEN_FILE", tokens.toString(),
                "MYCNET_NODE_API_ADDRESS", "127.0.0.1",
                "MYCNET_SESSION_PORT", "0",
                "MYCNET_JOIN_PORT", "0",
                "MYCNET_PING_INTERVAL", "500ms",
                "MYCNET_SERVER_NAMES", "127.0.0.1, localhost",
                "MYCNET_JOIN_FAILURES_PER_MINUTE", "5",
                "MYCNET_MAX_SESSIONS", "10"));
    assertThat(c.address()).isEqualTo("127.0.0.1");
    assertThat(c.sessionPort()).isZero();
    assertThat(c.joinPort()).isZero();
    assertThat(c.serverNames()).containsExactly("127.0.0.1", "localhost");
    var s = c.settings(Duration.ofMillis(500));
    assertThat(s.heartbeatInterval()).isEqualTo(Duration.ofMillis(500));
    assertThat(s.pingInterval()).isEqualTo(Duration.ofMillis(500));
    assertThat(s.serverNames()).containsExactly("127.0.0.1", "localhost");
    assertThat(s.joinFailuresPerMinute()).isEqualTo(5);
    assertThat(s.maxSessions()).isEqualTo(10);
  }

  @Test
  void badSessionTunablesNameTheVariable(@TempDir Path dir) throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), "abc reusable\n");
    java.util.function.Function<Map<String, String>, NodeApiConfig> read =
        extra -> {
          Map<String, String> env = new java.util.HashMap<>(extra);
          env.put("MYCNET_CA_DIR", dir.resolve("ca").toString());
          env.put("MYCNET_TOKEN_FILE", tokens.toString());
          return NodeApiConfig.fromEnvironment(env);
        };
    assertThatThrownBy(() -> read.apply(Map.of("MYCNET_NODE_API_ADDRESS", "7443")))
        .hasMessageStartingWith("MYCNET_NODE_API_ADDRESS: '7443' is not an IP address");
    assertThatThrownBy(() -> read.apply(Map.of("MYCNET_MAX_SESSIONS", "0")))
        .hasMessageStartingWith("MYCNET_MAX_SESSIONS: must be >= 1");
    assertThatThrownBy(() -> read.apply(Map.of("MYCNET_MAX_SESSIONS", "many")))
        .hasMessageStartingWith("MYCNET_MAX_SESSIONS: must be a whole number");
    assertThatThrownBy(() -> read.apply(Map.of("MYCNET_JOIN_FAILURES_PER_MINUTE", "0")))
        .hasMessageStartingWith("MYCNET_JOIN_FAILURES_PER_MINUTE");
    assertThatThrownBy(() -> read.apply(Map.of("MYCNET_PING_INTERVAL", "10ms")))
        .hasMessageStartingWith("MYCNET_PING_INTERVAL: must be at least 100ms");
    assertThatThrownBy(() -> read.apply(Map.of("MYCNET_PING_INTERVAL", "often")))
        .hasMessageStartingWith("MYCNET_PING_INTERVAL");
    assertThatThrownBy(() -> read.apply(Map.of("MYCNET_SERVER_NAMES", " , ")))
        .hasMessageStartingWith("MYCNET_SERVER_NAMES: names no server name");
    assertThatThrownBy(() -> read.apply(Map.of("MYCNET_NODE_CERT_LIFETIME", "long")))
        .hasMessageStartingWith("MYCNET_NODE_CERT_LIFETIME");
  }

  @Test
  void badSettingsNameTheVariable(@TempDir Path dir) throws Exception {
    assertThatThrownBy(() -> NodeApiConfig.fromEnvironment(Map.of("MYCNET_CA_DIR", "/x")))
        .hasMessageStartingWith("MYCNET_TOKEN_FILE");
    assertThatThrownBy(
            () ->
                NodeApiConfig.fromEnvironment(
                    Map.of("MYCNET_CA_DIR", "/x", "MYCNET_TOKEN_FILE", "/nonexistent")))
        .hasMessageContaining("MYCNET_TOKEN_FILE")
        .hasMessageContaining("not a readable file");
    Path tokens = Files.writeString(dir.resolve("tokens"), "abc reusable\n");
    assertThatThrownBy(
            () ->
                NodeApiConfig.fromEnvironment(
                    Map.of(
                        "MYCNET_CA_DIR", "/x",
                        "MYCNET_TOKEN_FILE", tokens.toString(),
                        "MYCNET_JOIN_PORT", "70000")))
        .hasMessageStartingWith("MYCNET_JOIN_PORT");
  }
}
