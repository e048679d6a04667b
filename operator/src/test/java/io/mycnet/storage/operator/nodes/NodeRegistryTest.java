package io.mycnet.storage.operator.nodes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.Fence;
import io.mycnet.storage.operator.store.InMemoryStore;
import io.mycnet.storage.operator.store.ManualClock;
import io.mycnet.storage.operator.store.NotLeaderException;
import io.mycnet.storage.operator.store.StoreWatch;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Node records and liveness leases, on the in-memory store with a clock moved by hand. */
class NodeRegistryTest {
  static final Duration TTL = Duration.ofSeconds(10);

  final ManualClock clock = new ManualClock();
  final InMemoryStore store = new InMemoryStore(clock);
  final EtcdKeys keys = new EtcdKeys("/t");
  final NodeRegistry registry = new NodeRegistry(store, keys, clock, TTL);

  @AfterEach
  void close() {
    store.close();
  }

  static NodeRecord node(String id) {
    return NodeRecord.newBuilder()
        .setNodeId(id)
        .setTopologyPath("region=eu/zone=a/rack=r1/node=" + id)
        .setCapacityBytes(100L << 30)
        .setOwner("acme")
        .build();
  }

  @Test
  void aNewNodeJoinsUpWithTheLowestFreePlacementSlot() {
    NodeRecord a = registry.register(node("a"));
    NodeRecord b = registry.register(node("b"));
    assertThat(a.getState()).isEqualTo(NodeState.NODE_STATE_UP);
    assertThat(a.getJoinedAtUnixMs()).isEqualTo(clock.millis());
    assertThat(a.getSchemaVersion()).isEqualTo(NodeRegistry.SCHEMA_VERSION);
    assertThat(List.of(a.getPlacementSlot(), b.getPlacementSlot())).containsExactly(0, 1);

    registry.remove("a");
    NodeRecord c = registry.register(node("c"));
    assertThat(c.getPlacementSlot()).isZero(); // the removed node's slot is free again
    assertThat(registry.list())
        .extracting(NodeRecord::getNodeId)
        .containsExactlyInAnyOrder("b", "c");
  }

  @Test
  void reRegisteringTakesTheNodesReportButKeepsTheControlPlanesFields() {
    NodeRecord first = registry.register(node("n").toBuilder().addCertificateSerials("aa").build());
    registry.setState("n", NodeState.NODE_STATE_DRAINING);
    clock.advance(Duration.ofMinutes(5));
    NodeRecord again =
        registry.register(
            node("n").toBuilder().setCapacityBytes(1).addCertificateSerials("bb").build());
    assertThat(again.getState()).isEqualTo(NodeState.NODE_STATE_DRAINING);
    assertThat(again.getJoinedAtUnixMs()).isEqualTo(first.getJoinedAtUnixMs());
    assertThat(again.getPlacementSlot()).isEqualTo(first.getPlacementSlot());
    assertThat(again.getLastSeenUnixMs()).isEqualTo(clock.millis());
    assertThat(again.getCapacityBytes()).isEqualTo(1);
    assertThat(again.getCertificateSerialsList()).containsExactly("aa", "bb");
    assertThat(registry.get("n")).contains(again);
  }

  @Test
  void updateAndSetStateLeaveTheRecordAloneWhenNothingChanges() {
    registry.register(node("n"));
    long rev = registry.getVersioned("n").modRevision();
    registry.setState("n", NodeState.NODE_STATE_UP);
    assertThat(registry.update("n", r -> null)).isEqualTo(registry.get("n").orElseThrow());
    assertThat(registry.getVersioned("n").modRevision()).isEqualTo(rev);
    assertThat(registry.setState("missing", NodeState.NODE_STATE_DOWN)).isNull();
    assertThat(registry.get("missing")).isEmpty();
  }

  @Test
  void aNodeIsLiveWhileItHeartbeatsAndNotOnceItsLeaseRunsOut() {
    registry.register(node("n"));
    List<String> changes = new CopyOnWriteArrayList<>();
    try (StoreWatch w = registry.watchLiveness((n, live) -> changes.add(n + "=" + live))) {
      assertThat(registry.isLive("n")).isFalse();
      registry.heartbeat("n");
      assertThat(registry.isLive("n")).isTrue();
      long lease = registry.livenessLease("n");
      assertThat(lease).isNotZero();
      for (int i = 0; i < 5; i++) {
        clock.advance(TTL.minusSeconds(1));
        registry.heartbeat("n");
      }
      assertThat(registry.isLive("n")).isTrue();
      assertThat(registry.livenessLease("n")).isEqualTo(lease); // renewed, not replaced
      assertThat(registry.liveNodeIds()).containsExactly("n");

      clock.advance(TTL);
      await().atMost(Duration.ofSeconds(30)).until(() -> !registry.isLive("n"));
      assertThat(registry.liveNodeIds()).isEmpty();
      await().atMost(Duration.ofSeconds(30)).until(() -> changes.contains("n=false"));
      assertThat(changes.get(0)).isEqualTo("n=true");

      registry.heartbeat("n"); // comes back with a fresh lease
      assertThat(registry.isLive("n")).isTrue();
      assertThat(registry.livenessLease("n")).isNotEqualTo(lease);
    }
  }

  @Test
  void aRestartedControlPlaneRenewsTheLeaseItFindsOnTheLivenessKey() {
    registry.register(node("n"));
    registry.heartbeat("n");
    long lease = registry.livenessLease("n");
    NodeRegistry restarted = new NodeRegistry(store, keys, clock, TTL);
    for (int i = 0; i < 3; i++) {
      clock.advance(TTL.minusSeconds(1));
      restarted.heartbeat("n");
    }
    assertThat(registry.isLive("n")).isTrue();
    assertThat(restarted.livenessLease("n")).isEqualTo(lease);
  }

  @Test
  void aHeartbeatAfterALostLeaseClearsTheLossTime() {
    registry.register(node("n"));
    registry.update("n", r -> r.toBuilder().setLeaseLostAtUnixMs(clock.millis()).build());
    clock.advance(Duration.ofSeconds(3));
    registry.heartbeat("n");
    NodeRecord r = registry.get("n").orElseThrow();
    assertThat(r.getLeaseLostAtUnixMs()).isZero();
    assertThat(r.getLastSeenUnixMs()).isEqualTo(clock.millis());
  }

  @Test
  void removalDeletesRecordSlotAndLiveness() {
    registry.register(node("n"));
    registry.heartbeat("n");
    assertThat(registry.remove("n")).get().extracting(NodeRecord::getNodeId).isEqualTo("n");
    assertThat(registry.get("n")).isEmpty();
    assertThat(registry.isLive("n")).isFalse();
    assertThat(store.keys(keys.slots())).isEmpty();
    assertThat(registry.remove("n")).isEmpty(); // removing twice is harmless
  }

  @Test
  void revokingLivenessEndsItAtOnce() {
    registry.register(node("n"));
    registry.heartbeat("n");
    registry.revokeLiveness("n", registry.livenessLease("n"));
    assertThat(registry.isLive("n")).isFalse();
    registry.revokeLiveness("n", 0); // nothing to revoke
    registry.heartbeat("n");
    assertThat(registry.isLive("n")).isTrue();
  }

  @Test
  void badInputIsRefusedWithoutAWrite() {
    assertThatThrownBy(() -> new NodeRegistry(store, keys, clock, Duration.ofMillis(500)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least 1 s");
    assertThatThrownBy(() -> registry.register(node("a/b")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("node id");
    assertThatThrownBy(() -> registry.heartbeat("")).isInstanceOf(IllegalArgumentException.class);
    assertThat(store.keys("/t")).isEmpty();
  }

  @Test
  void aControlPlaneThatIsNotTheLeaderWritesNothing() {
    InMemoryStore follower = store.connect();
    follower.fence(Fence.notLeader(keys.leader()));
    NodeRegistry r = new NodeRegistry(follower, keys, clock, TTL);
    assertThatThrownBy(() -> r.register(node("n"))).isInstanceOf(NotLeaderException.class);
    assertThat(registry.get("n")).isEmpty();
  }
}
