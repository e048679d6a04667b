package io.mycnet.storage.cli.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

public class LocalTopologyTest {
  public static final Path DEFAULT = Path.of("..", "config", "local", "topology.yaml");
  @TempDir Path dir;

  @Test
  void theDefaultTopologyHasSixNodesInFourCoreZonesAndTwoEdgeSites() {
    LocalTopology t = LocalTopology.read(DEFAULT);
    assertThat(t.nodes()).hasSize(6);
    assertThat(t.heartbeatInterval()).isEqualTo(Duration.ofSeconds(2));
    assertThat(t.node("core-1").topologyPath())
        .isEqualTo("region=eu/zone=eu-west/rack=r1/node=core-1");
    assertThat(t.node("core-1").labelsFlag()).isEqualTo("storage.mycnet.io/pool=core");
    assertThat(t.node("edge-1").encryption()).isFalse();
  }

  /** The records make the tiers differ, as the file says: decided by the real trust engine. */
  @Test
  void theDefaultRecordsEarnDifferentTiersUnderTheDefaultPolicy() {
    Instant now = Instant.parse("2026-11-24T12:00:00Z");
    TrustEngine engine = new TrustEngine(TrustPolicy.defaults(), Clock.fixed(now, ZoneOffset.UTC));
    TrustHistory.seed(engine, LocalTopology.read(DEFAULT), now);
    for (String core : new String[] {"core-1", "core-2", "core-3", "core-4"}) {
      assertThat(engine.assess(core).tier()).as(core).isEqualTo(TrustTier.CRITICAL);
    }
    // Good record, no encryption at rest: the gates keep it below SENSITIVE.
    assertThat(engine.assess("edge-1").tier()).isEqualTo(TrustTier.STANDARD);
    assertThat(engine.assess("edge-1").score()).isGreaterThan(0.7);
    // Poor record: below CRITICAL on its score alone.
    assertThat(engine.assess("edge-2").tier()).isEqualTo(TrustTier.SENSITIVE);
  }

  @Test
  void aBadFileIsRefusedNamingTheField() throws Exception {
    String good = Files.readString(DEFAULT);
    assertBad(
        good.replaceFirst("capacity: 100Gi", "capacity: lots"),
        "nodes[0].capacity",
        "not a quantity");
    assertBad(good.replaceFirst("id: core-2", "id: core-1"), "nodes[1].id", "appears twice");
    assertBad(good.replaceFirst("id: core-2", "id: Core_2"), "nodes[1].id", "DNS-1123");
    assertBad(
        good.replaceFirst("    rack: r1\n", "    rack: r1\n    colour: blue\n"),
        "nodes[0].colour",
        "unknown field");
    assertBad(
        good.replaceFirst("uptime: 0.999", "uptime: 1.5"), "record.uptime", "between 0 and 1");
    assertBad(
        good.replaceFirst("failedAudits: 0", "failedAudits: 700"),
        "record.failedAudits",
        "cannot exceed");
    assertBad(
        good.replaceFirst("heartbeatInterval: 2s", "heartbeatInterval: 9s"),
        "settings.nodeLeaseTtl, settings.heartbeatInterval",
        "at least two heartbeat intervals");
    assertBad("nodes: []\n", "nodes", "at least one node");
    assertBad("nodes: [unclosed\n", "", "not valid YAML");
    assertThatThrownBy(() -> LocalTopology.read(DEFAULT).node("nope"))
        .hasMessageContaining("no node 'nope'")
        .hasMessageContaining("core-1");
  }

  @Test
  void theTimingsMustHoldTogetherAndTheRefusalNamesTheSettings() throws Exception {
    String good = Files.readString(DEFAULT);
    LocalTopology t = LocalTopology.read(DEFAULT);
    assertThat(t.reconnectBackoffMax()).isEqualTo(java.time.Duration.ofSeconds(2));
    // A lease that one lost heartbeat expires.
    assertBad(
        good.replaceFirst("nodeLeaseTtl: 6s", "nodeLeaseTtl: 3s"),
        "settings.nodeLeaseTtl (3s) must be at least two heartbeat intervals (2 × 2s)",
        "lost heartbeat");
    // A grace period a reconnecting agent cannot meet: 6s + 1.2 × 5s = 12s >= 10s.
    assertBad(
        good.replaceFirst("nodeLeaseTtl: 6s", "nodeLeaseTtl: 6s\n  reconnectBackoffMax: 5s"),
        "settings.downGracePeriod, settings.nodeLeaseTtl, settings.reconnectBackoffMax",
        "settings.downGracePeriod (10s) must exceed settings.nodeLeaseTtl (6s) plus the longest"
            + " reconnect wait (1.2 × settings.reconnectBackoffMax = 6s)");
    assertBad(
        good.replaceFirst("downGracePeriod: 10s", "downGracePeriod: 7s"),
        "settings.downGracePeriod (7s) must exceed",
        "marked DOWN");
    assertBad(
        good.replaceFirst("nodeLeaseTtl: 6s", "nodeLeaseTtl: 6s\n  reconnectBackoffMax: 100ms"),
        "settings.reconnectBackoffMax",
        "at least 500ms");
    assertBad(
        good.replaceFirst("nodeLeaseTtl: 6s", "nodeLeaseTtl: 6s\n  reconnectBackoffMax: soon"),
        "settings.reconnectBackoffMax",
        "not a duration");
    // A longer grace makes room for a longer backoff.
    Path f = dir.resolve("ok.yaml");
    Files.writeString(
        f,
        good.replaceFirst("nodeLeaseTtl: 6s", "nodeLeaseTtl: 6s\n  reconnectBackoffMax: 5s")
            .replaceFirst("downGracePeriod: 10s", "downGracePeriod: 13s"));
    assertThat(LocalTopology.read(f).reconnectBackoffMax())
        .isEqualTo(java.time.Duration.ofSeconds(5));
  }

  @Test
  void aCapacityAboveTheFileSystemIsRefusedAndASumAboveItOnlyNoted() throws Exception {
    long size = Files.getFileStore(dir).getTotalSpace();
    LocalTopology t = LocalTopology.read(DEFAULT);
    Path nodes = dir.resolve("state").resolve("nodes"); // does not exist yet: its parent counts
    // Capacities that fit one by one but not together: allowed (sparse replicas), noted.
    long each = size / 2 + (1L << 30);
    LocalTopology big = withCapacities(t, each);
    assertThat(big.checkCapacities(DEFAULT, nodes))
        .hasValueSatisfying(w -> assertThat(w).contains("add up to").contains("sparse"));
    // One node above the whole file system: refused, naming the node's field.
    LocalTopology tooBig = withCapacities(t, size + (1L << 30));
    assertThatThrownBy(() -> tooBig.checkCapacities(DEFAULT, nodes))
        .isInstanceOf(LocalTopology.BadTopology.class)
        .hasMessageContaining("nodes[0].capacity")
        .hasMessageContaining("more than the size of the file system");
    // Small capacities: nothing to say.
    assertThat(withCapacities(t, 1L << 30).checkCapacities(DEFAULT, nodes)).isEmpty();
  }

  private static LocalTopology withCapacities(LocalTopology t, long bytes) {
    return new LocalTopology(
        t.heartbeatInterval(),
        t.nodeLeaseTtl(),
        t.downGrace(),
        t.reconnectBackoffMax(),
        t.nodes().stream()
            .map(
                n ->
                    new LocalTopology.Node(
                        n.id(),
                        n.region(),
                        n.zone(),
                        n.rack(),
                        n.owner(),
                        bytes,
                        n.labels(),
                        n.encryption(),
                        n.record()))
            .toList());
  }

  private void assertBad(String text, String field, String problem) throws Exception {
    Path f = dir.resolve("t.yaml");
    Files.writeString(f, text);
    assertThatThrownBy(() -> LocalTopology.read(f))
        .isInstanceOf(LocalTopology.BadTopology.class)
        .hasMessageContaining(field)
        .hasMessageContaining(problem);
  }
}
