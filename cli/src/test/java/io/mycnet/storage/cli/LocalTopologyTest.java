package io.mycnet.storage.cli;

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

class LocalTopologyTest {
  static final Path DEFAULT = Path.of("..", "config", "local", "topology.yaml");
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
        "heartbeatInterval",
        "below nodeLeaseTtl");
    assertBad("nodes: []\n", "nodes", "at least one node");
    assertBad("nodes: [unclosed\n", "", "not valid YAML");
    assertThatThrownBy(() -> LocalTopology.read(DEFAULT).node("nope"))
        .hasMessageContaining("no node 'nope'")
        .hasMessageContaining("core-1");
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
