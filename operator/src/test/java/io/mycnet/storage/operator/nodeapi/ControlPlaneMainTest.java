package io.mycnet.storage.operator.nodeapi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControlPlaneMainTest {
  @TempDir Path dir;

  ControlPlaneMain.Config config(String... extra) throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), "abcdef.0123456789abcdef reusable\n");
    List<String> args = new ArrayList<>();
    args.add("--etcd-endpoints=http://127.0.0.1:2379,http://127.0.0.1:2380");
    args.add("--ca-dir=" + dir.resolve("ca"));
    args.add("--token-file=" + tokens);
    args.addAll(List.of(extra));
    return ControlPlaneMain.Config.from(ControlPlaneMain.parseFlags(args.toArray(String[]::new)));
  }

  @Test
  void defaultsAreDocumentedOnes() throws Exception {
    ControlPlaneMain.Config c = config();
    assertThat(c.etcdEndpoints).hasSize(2);
    assertThat(c.listen.getPort()).isEqualTo(7443);
    assertThat(c.joinListen.getPort()).isEqualTo(7444);
    assertThat(c.leaseTtl).isEqualTo(Duration.ofSeconds(15));
    assertThat(c.heartbeatInterval).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.nodeCertLifetime).isEqualTo(Duration.ofHours(24));
    assertThat(c.serverNames).contains("localhost", "127.0.0.1");
    assertThat(config("--heartbeat-interval=500ms").heartbeatInterval)
        .isEqualTo(Duration.ofMillis(500));
    assertThat(c.orphanGcDelay).isZero();
    assertThat(config("--orphan-gc-delay=3s").orphanGcDelay).isEqualTo(Duration.ofSeconds(3));
  }

  @Test
  void invalidSettingsAreNamed() {
    assertThatThrownBy(() -> config("--colour=blue"))
        .hasMessageContaining("--colour: unknown setting");
    assertThatThrownBy(() -> config("--listen=7443"))
        .hasMessageContaining("--listen: '7443' is not host:port");
    assertThatThrownBy(() -> config("--lease-ttl=soon")).hasMessageContaining("--lease-ttl");
    assertThatThrownBy(() -> config("--heartbeat-interval=20s"))
        .hasMessageContaining("--heartbeat-interval")
        .hasMessageContaining("shorter than --lease-ttl");
    assertThatThrownBy(() -> config("--etcd-prefix=mycnet/")).hasMessageContaining("--etcd-prefix");
    assertThatThrownBy(() -> config("--max-sessions=0")).hasMessageContaining("--max-sessions");
    assertThatThrownBy(() -> config("--orphan-gc-delay=later"))
        .hasMessageContaining("--orphan-gc-delay");
    assertThatThrownBy(
            () ->
                ControlPlaneMain.Config.from(
                    ControlPlaneMain.parseFlags(new String[] {"--ca-dir=/tmp/x"})))
        .hasMessageContaining("--etcd-endpoints: is required");
    assertThatThrownBy(
            () ->
                ControlPlaneMain.Config.from(
                    ControlPlaneMain.parseFlags(
                        new String[] {
                          "--etcd-endpoints=http://127.0.0.1:2379",
                          "--ca-dir=" + dir,
                          "--token-file=" + dir.resolve("missing")
                        })))
        .hasMessageContaining("--token-file");
  }
}
