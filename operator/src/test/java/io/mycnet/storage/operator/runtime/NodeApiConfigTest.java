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
