package io.mycnet.storage.operator.nodeapi;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.AuditReplica;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.ReplicaInfo;
import io.mycnet.storage.api.v1.ReplicaInventory;
import io.mycnet.storage.operator.allocation.ControlPlaneFixture;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.nodeapi.OrphanReplicaCollector.Removal;
import io.mycnet.storage.operator.reconciler.TestClock;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Replicas no volume names are deleted after the delay, never before, never while a command for
 * them is pending in the node's queue, and never when their volume names them. The allocations and
 * queues are real (etcd); the inventories are given to the collector as the node API's session
 * gives them (its {@code onInventory}); the delay runs on a test clock.
 */
class OrphanReplicaCollectorIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final Duration DELAY = Duration.ofMinutes(5);

  ControlPlaneFixture f;
  TestClock clock;
  AtomicBoolean leader;
  OrphanReplicaCollector gc;

  @BeforeEach
  void start(org.junit.jupiter.api.TestInfo info) {
    f =
        new ControlPlaneFixture(
            ETCD.endpoints(), "/" + info.getTestMethod().orElseThrow().getName());
    f.registerNodes(1, 2, 1, 2, 100, TrustTier.CRITICAL, 0.95);
    f.namespace("ns", 100 * ControlPlaneFixture.GIB, 100);
    clock = new TestClock();
    leader = new AtomicBoolean(true);
    gc = new OrphanReplicaCollector(f.store, f.keys, f.queue, leader::get, clock, DELAY);
  }

  @AfterEach
  void stop() {
    gc.close();
    f.close();
  }

  Allocation allocate(String volumeId) {
    return f.manager.allocate(
        StorageRequest.of(volumeId, "ns", "default", ControlPlaneFixture.GIB, StorageType.SERVICE)
            .withReplicas(2));
  }

  static ReplicaInventory inventory(Object... volumeAndEpoch) {
    ReplicaInventory.Builder b = ReplicaInventory.newBuilder();
    for (int i = 0; i < volumeAndEpoch.length; i += 2) {
      b.addReplicas(
          ReplicaInfo.newBuilder()
              .setVolumeId((String) volumeAndEpoch[i])
              .setEpoch((Integer) volumeAndEpoch[i + 1])
              .setSizeBytes(ControlPlaneFixture.GIB));
    }
    return b.build();
  }

  /** Acknowledges (removes) every command queued for the node, as its agent would. */
  void drain(String node) {
    for (NodeCommand c : f.queue.pending(node)) {
      f.queue.ack(node, c.getCommandId());
    }
  }

  List<String> deletes(String node) {
    List<String> out = new ArrayList<>();
    for (NodeCommand c : f.queue.pending(node)) {
      if (c.hasDeleteReplica()) {
        out.add(c.getDeleteReplica().getVolumeId() + "@" + c.getDeleteReplica().getEpoch());
      }
    }
    return out;
  }

  @Test
  void aReplicaNoVolumeNamesIsDeletedAfterTheDelayAndNotBefore() {
    Allocation kept = allocate("ns.kept");
    String holder = kept.getReplicas(0).getNodeId();
    String other =
        List.of("n0000", "n0001", "n0100", "n0101").stream()
            .filter(n -> kept.getReplicasList().stream().noneMatch(r -> r.getNodeId().equals(n)))
            .findFirst()
            .orElseThrow();
    for (String n : List.of("n0000", "n0001", "n0100", "n0101")) {
      drain(n);
    }
    // The holder has its own replica and one of a volume nobody knows; another node has a replica
    // of ns.kept although the volume does not name it.
    gc.onInventory(holder, inventory("ns.kept", 1, "ns.unknown", 3));
    gc.onInventory(other, inventory("ns.kept", 1));

    assertThat(gc.collect()).isEmpty();
    assertThat(gc.suspects())
        .extracting(s -> s.volumeId() + "@" + s.nodeId())
        .containsExactlyInAnyOrder("ns.unknown@" + holder, "ns.kept@" + other);

    clock.advance(DELAY.minusMillis(1));
    assertThat(gc.collect()).isEmpty();
    assertThat(deletes(holder)).isEmpty();
    assertThat(deletes(other)).isEmpty();

    clock.advance(Duration.ofMillis(1));
    List<Removal> removed = gc.collect();
    assertThat(removed)
        .extracting(r -> r.volumeId() + "@" + r.nodeId())
        .containsExactlyInAnyOrder("ns.unknown@" + holder, "ns.kept@" + other);
    // At the replica's own epoch; the volume's replica on its holder is untouched.
    assertThat(deletes(holder)).containsExactly("ns.unknown@3");
    assertThat(deletes(other)).containsExactly("ns.kept@1");
    assertThat(f.manager.get("ns.kept")).isPresent();

    // The same inventories again: the pending deletions hold, nothing is queued twice.
    clock.advance(DELAY.multipliedBy(2));
    assertThat(gc.collect()).isEmpty();
    assertThat(deletes(holder)).containsExactly("ns.unknown@3");
    assertThat(gc.removedTotal()).isEqualTo(2);
  }

  @Test
  void aPendingCommandForTheVolumeHoldsTheDeletionAndRestartsTheDelay() {
    String node = "n0000";
    f.queue.enqueue(
        node,
        NodeCommand.newBuilder()
            .setCommandId("audit:ns.busy:1")
            .setIssuedAtUnixMs(clock.millis())
            .setAuditReplica(AuditReplica.newBuilder().setVolumeId("ns.busy").setEpoch(1))
            .build());
    gc.onInventory(node, inventory("ns.busy", 1));
    assertThat(gc.collect()).isEmpty();
    assertThat(gc.suspects()).isEmpty();
    clock.advance(DELAY.multipliedBy(3));
    assertThat(gc.collect()).isEmpty();
    assertThat(gc.suspects()).isEmpty();

    // The command is acknowledged: the delay starts now, not when the replica was first seen.
    drain(node);
    Instant acked = clock.instant();
    assertThat(gc.collect()).isEmpty();
    assertThat(gc.suspects())
        .singleElement()
        .satisfies(s -> assertThat(s.since()).isEqualTo(acked));
    clock.advance(DELAY.minusMillis(1));
    assertThat(gc.collect()).isEmpty();
    clock.advance(Duration.ofMillis(1));
    assertThat(gc.collect())
        .singleElement()
        .satisfies(r -> assertThat(r.volumeId()).isEqualTo("ns.busy"));
  }

  @Test
  void aReplicaClaimedAgainADisconnectedNodeOrAStandbyIsLeftAlone() {
    List<String> nodes = List.of("n0000", "n0001", "n0100", "n0101");
    for (String n : nodes) {
      gc.onInventory(n, inventory("ns.later", 1));
    }
    assertThat(gc.collect()).isEmpty();
    assertThat(gc.suspects()).hasSize(4);

    // The volume appears and names two of the nodes: their suspicion ends, the others' stays.
    Allocation later = allocate("ns.later");
    List<String> named = later.getReplicasList().stream().map(r -> r.getNodeId()).toList();
    for (String n : nodes) {
      drain(n);
    }
    clock.advance(DELAY);
    assertThat(gc.collect())
        .extracting(Removal::nodeId)
        .containsExactlyInAnyOrderElementsOf(
            nodes.stream().filter(n -> !named.contains(n)).toList());
    for (String n : named) {
      assertThat(deletes(n)).isEmpty();
    }
    for (String n : nodes) {
      drain(n);
      gc.onInventory(n, inventory());
    }

    // A node whose session closed: its inventory is forgotten.
    gc.onInventory("n0100", inventory("ns.ghost", 1));
    assertThat(gc.collect()).isEmpty();
    gc.onSessionClosed("n0100", clock.instant(), "agent closed");
    clock.advance(DELAY.multipliedBy(2));
    assertThat(gc.collect()).noneMatch(r -> r.nodeId().equals("n0100"));

    // Not the leader: nothing, and suspicions are dropped.
    gc.onInventory("n0101", inventory("ns.standby", 1));
    assertThat(gc.collect()).isEmpty();
    leader.set(false);
    clock.advance(DELAY.multipliedBy(2));
    assertThat(gc.collect()).isEmpty();
    assertThat(gc.suspects()).isEmpty();
    assertThat(deletes("n0101")).isEmpty();
  }
}
