package io.mycnet.storage.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.agent.replica.NamespaceKeys;
import io.mycnet.storage.agent.support.Backoff;
import io.mycnet.storage.common.settings.SettingException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentConfigTest {
  @TempDir Path dir;
  Path token;
  Path ca;

  @BeforeEach
  void files() throws Exception {
    token = Files.writeString(dir.resolve("token"), "# bootstrap\nabcdef.0123456789abcdef\n");
    ca = Files.writeString(dir.resolve("ca.crt"), "-----BEGIN CERTIFICATE-----\nx\n");
  }

  List<String> valid() {
    return new ArrayList<>(
        List.of(
            "--node-id=n17",
            "--topology=region=eu/zone=eu-1/rack=r3/node=n17",
            "--owner=acme",
            "--data-dir=" + dir.resolve("data"),
            "--capacity=500MiB",
            "--control-plane=127.0.0.1:7443",
            "--token-file=" + token,
            "--ca-file=" + ca,
            "--listen=127.0.0.1:0"));
  }

  AgentConfig load(List<String> args, Map<String, String> env) {
    return AgentConfig.load(args.toArray(String[]::new), env);
  }

  List<String> without(String name) {
    List<String> a = valid();
    a.removeIf(s -> s.startsWith("--" + name + "="));
    return a;
  }

  List<String> with(String name, String value) {
    List<String> a = without(name);
    a.add("--" + name + "=" + value);
    return a;
  }

  @Test
  void validFlagsGiveTheSettingsAndCreateAnOwnerOnlyDataDirectory() throws Exception {
    AgentConfig c = load(valid(), Map.of());
    assertThat(c.nodeId()).isEqualTo("n17");
    assertThat(c.capacityBytes()).isEqualTo(500L << 20);
    assertThat(c.joinAddress()).isEqualTo("127.0.0.1:7444");
    assertThat(c.encryptionAtRest()).isFalse();
    assertThat(c.probeBytes()).isEqualTo(4L << 20);
    assertThat(c.rebuildCatchUpMax()).isEqualTo(64L << 20);
    assertThat(load(with("rebuild-catch-up-max", "1MiB"), Map.of()).rebuildCatchUpMax())
        .isEqualTo(1L << 20);
    assertThat(
            java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(c.dataDir())))
        .isEqualTo("rwx------");
  }

  @Test
  void flagsBeatEnvironmentWhichBeatsTheConfigFile() throws Exception {
    Path file =
        Files.writeString(dir.resolve("agent.properties"), "owner=from-file\ncapacity=1GiB\n");
    List<String> args = without("owner");
    args.removeIf(s -> s.startsWith("--capacity="));
    args.add("--config=" + file);
    AgentConfig fromFile = load(args, Map.of());
    assertThat(fromFile.owner()).isEqualTo("from-file");
    AgentConfig fromEnv = load(args, Map.of("MYCNET_OWNER", "from-env"));
    assertThat(fromEnv.owner()).isEqualTo("from-env");
    args.add("--owner=from-flag");
    assertThat(load(args, Map.of("MYCNET_OWNER", "from-env")).owner()).isEqualTo("from-flag");
    assertThat(fromFile.capacityBytes()).isEqualTo(1L << 30);
  }

  @Test
  void eachInvalidSettingIsNamed() {
    assertBad(without("node-id"), "node-id", "is required");
    assertBad(with("node-id", "Node_17"), "node-id", "DNS-1123");
    assertBad(with("topology", "region=eu/zone"), "topology", "segment 'zone'");
    assertBad(with("capacity", "lots"), "capacity", "'lots' is not a size");
    assertBad(with("capacity", "0"), "capacity", "more than 0");
    assertBad(with("capacity", "1000000PiB"), "capacity", "too large");
    assertBad(with("capacity", "1000PiB"), "capacity", "size of the data directory's file system");
    assertBad(with("control-plane", "localhost"), "control-plane", "not host:port");
    assertBad(with("listen", "127.0.0.1:70000"), "listen", "port must be");
    assertBad(
        with("token-file", dir.resolve("nope").toString()), "token-file", "not a readable file");
    assertBad(with("encryption-at-rest", "yes"), "encryption-at-rest", "must be true or false");
    assertBad(with("probe-interval", "soon"), "probe-interval", "not a duration");
    assertBad(with("rebuild-catch-up-max", "lots"), "rebuild-catch-up-max", "not a size");
    assertBad(
        with("rebuild-catch-up-max", "4KiB"), "rebuild-catch-up-max", "between 64KiB and 1GiB");
    List<String> unknown = valid();
    unknown.add("--colour=blue");
    assertBad(unknown, "colour", "unknown setting");
  }

  @Test
  void tokenAndCaAreRequiredOnlyUntilTheNodeHasJoined() throws Exception {
    assertBad(without("token-file"), "token-file", "is required");
    Files.createDirectories(dir.resolve("data/identity"));
    Files.writeString(dir.resolve("data/identity/node.crt"), "x");
    List<String> args = without("token-file");
    args.removeIf(s -> s.startsWith("--ca-file="));
    assertThat(load(args, Map.of()).tokenFile()).isNull();
  }

  @Test
  void malformedTokenFileIsRefused() throws Exception {
    Files.writeString(token, "not-a-token\n");
    assertBad(valid(), "token-file", "<id>.<secret>");
  }

  Path keyFile(String content, String perms) throws Exception {
    Path f = dir.resolve("master.key");
    Files.writeString(f, content);
    Files.setPosixFilePermissions(
        f, java.nio.file.attribute.PosixFilePermissions.fromString(perms));
    return f;
  }

  List<String> encrypted(Path key) {
    List<String> a = with("encryption-at-rest", "true");
    if (key != null) {
      a.add("--encryption-key-file=" + key);
    }
    return a;
  }

  @Test
  void encryptionAtRestTakesAnOwnerOnlyBase64KeyOf32Bytes() throws Exception {
    String good = java.util.Base64.getEncoder().encodeToString(new byte[32]);
    AgentConfig c = load(encrypted(keyFile(good + "\n", "rw-------")), Map.of());
    assertThat(c.encryptionAtRest()).isTrue();
    assertThat(c.encryptionKeyFile()).isEqualTo(dir.resolve("master.key").toAbsolutePath());
    assertThat(NamespaceKeys.load(c.encryptionKeyFile())).isNotNull();
    assertThat(load(valid(), Map.of()).encryptionKeyFile()).isNull();
  }

  @Test
  void aMissingOrBadKeyFileRefusesToStartNamingTheSetting() throws Exception {
    String good = java.util.Base64.getEncoder().encodeToString(new byte[32]);
    assertBad(encrypted(null), "encryption-key-file", "is required when encryption-at-rest");
    assertBad(encrypted(dir.resolve("absent.key")), "encryption-key-file", "does not exist");
    assertBad(encrypted(keyFile(good, "rw-r-----")), "encryption-key-file", "accessible to group");
    assertBad(encrypted(keyFile(good, "rw----r--")), "encryption-key-file", "chmod 600");
    assertBad(encrypted(keyFile("not base64!", "rw-------")), "encryption-key-file", "base64");
    assertBad(
        encrypted(keyFile(java.util.Base64.getEncoder().encodeToString(new byte[16]), "rw-------")),
        "encryption-key-file",
        "decodes to 16 bytes");
    assertBad(encrypted(dir), "encryption-key-file", "not a regular file");
    // Encryption switched off with the key kept: accepted (earlier replicas stay readable), and
    // the key file is still checked.
    List<String> keyWithoutEncryption = valid();
    keyWithoutEncryption.add("--encryption-key-file=" + keyFile(good, "rw-------"));
    AgentConfig off = load(keyWithoutEncryption, Map.of());
    assertThat(off.encryptionAtRest()).isFalse();
    assertThat(off.encryptionKeyFile()).isNotNull();
    List<String> badKeyWithoutEncryption = valid();
    badKeyWithoutEncryption.add("--encryption-key-file=" + keyFile(good, "rw-r--r--"));
    assertBad(badKeyWithoutEncryption, "encryption-key-file", "chmod 600");
  }

  private void assertBad(List<String> args, String setting, String text) {
    assertThatThrownBy(() -> load(args, Map.of()))
        .isInstanceOfSatisfying(
            SettingException.class, e -> assertThat(e.setting()).isEqualTo(setting))
        .hasMessageStartingWith("--" + setting)
        .hasMessageContaining(text);
  }

  @Test
  void theReconnectBackoffIsCappedBySettingWellBelowAGracePeriod() {
    assertThat(load(valid(), Map.of()).reconnectBackoffMax())
        .isEqualTo(java.time.Duration.ofSeconds(5));
    assertThat(load(with("reconnect-backoff-max", "2s"), Map.of()).reconnectBackoffMax())
        .isEqualTo(java.time.Duration.ofSeconds(2));
    assertThat(
            load(valid(), Map.of("MYCNET_RECONNECT_BACKOFF_MAX", "1500ms")).reconnectBackoffMax())
        .isEqualTo(java.time.Duration.ofMillis(1500));
    assertThatThrownBy(() -> load(with("reconnect-backoff-max", "100ms"), Map.of()))
        .isInstanceOf(SettingException.class)
        .hasMessageContaining("reconnect-backoff-max")
        .hasMessageContaining("between 500ms and 60s");
    assertThatThrownBy(() -> load(with("reconnect-backoff-max", "5m"), Map.of()))
        .hasMessageContaining("reconnect-backoff-max");
    assertThatThrownBy(() -> load(with("reconnect-backoff-max", "later"), Map.of()))
        .hasMessageContaining("reconnect-backoff-max")
        .hasMessageContaining("not a duration");
  }

  @Test
  void theBackoffNeverWaitsLongerThanItsCapWithJitterAndStartsOverOnReset() {
    Backoff b = new Backoff(new java.util.Random(), java.time.Duration.ofSeconds(2));
    long longest = 0;
    for (int i = 0; i < 200; i++) {
      longest = Math.max(longest, b.nextDelayMs());
    }
    assertThat(longest).isLessThanOrEqualTo(b.longestDelayMs()).isLessThanOrEqualTo(2400);
    assertThat(b.nextDelayMs()).isGreaterThanOrEqualTo(1600); // at the cap after many attempts
    b.reset();
    assertThat(b.nextDelayMs()).isBetween(400L, 600L);
    assertThatThrownBy(() -> new Backoff(new java.util.Random(), java.time.Duration.ofMillis(100)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aBackoffLongerThanThreeHeartbeatsIsWarnedAbout() {
    assertThat(
            AgentConfig.reconnectProblem(
                java.time.Duration.ofSeconds(5), java.time.Duration.ofSeconds(5)))
        .isEmpty();
    assertThat(
            AgentConfig.reconnectProblem(
                java.time.Duration.ofSeconds(5), java.time.Duration.ofSeconds(1)))
        .hasValueSatisfying(
            w -> assertThat(w).contains("reconnect-backoff-max").contains("three heartbeat"));
  }

  @Test
  void theBlockFrontendSettingsHaveDefaultsAndRefuseWhatCannotWork() {
    AgentConfig c = load(valid(), Map.of());
    assertThat(c.nbdSocket()).isEqualTo(c.dataDir().resolve("nbd.sock"));
    assertThat(c.nbdAddress()).isNull();
    assertThat(c.frontendRetryWindow()).isEqualTo(java.time.Duration.ofSeconds(60));

    AgentConfig set =
        load(
            with("nbd-address", "127.0.0.1:10809"),
            Map.of(
                "MYCNET_NBD_SOCKET",
                dir.resolve("n.sock").toString(),
                "MYCNET_FRONTEND_RETRY_WINDOW",
                "2m"));
    assertThat(set.nbdAddress()).isEqualTo("127.0.0.1:10809");
    assertThat(set.nbdSocket()).isEqualTo(dir.resolve("n.sock").toAbsolutePath());
    assertThat(set.frontendRetryWindow()).isEqualTo(java.time.Duration.ofMinutes(2));

    assertThatThrownBy(() -> load(with("frontend-retry-window", "0s"), Map.of()))
        .isInstanceOf(SettingException.class)
        .hasMessageContaining("frontend-retry-window")
        .hasMessageContaining("between 1s and 30m");
    assertThatThrownBy(() -> load(with("nbd-socket", "/" + "x".repeat(120)), Map.of()))
        .isInstanceOf(SettingException.class)
        .hasMessageContaining("nbd-socket")
        .hasMessageContaining("longer than a Unix socket path");
    assertThatThrownBy(
            () -> load(with("nbd-socket", dir.resolve("missing/nbd.sock").toString()), Map.of()))
        .isInstanceOf(SettingException.class)
        .hasMessageContaining("nbd-socket")
        .hasMessageContaining("does not exist");
    assertThatThrownBy(() -> load(with("nbd-address", "nowhere"), Map.of()))
        .isInstanceOf(SettingException.class)
        .hasMessageContaining("nbd-address");
  }
}
