package io.mycnet.storage.operator.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.ReplicationStatus;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.allocation.ControlPlaneFixture;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The replication manager through outages on a real etcd (node liveness driven by the test's
 * heartbeats, as the node API drives it): a new leader gives agents time to reconnect and never
 * counts a lease loss written by an earlier incarnation; a whole region going silent holds every
 * DOWN decision; a lost primary moves to an in-sync replica whether or not a replacement exists; a
 * node that comes back gets its replicas back by catch-up; a volume whose replicas were all written
 * off is recovered from a current one.
 */
class ReplicationOutageIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  private static final long GIB = ControlPlaneFixture.GIB;

  private static void heartbeatAllBut(ControlPlaneFixture cp, Set<String> dead) {
    for (var n : cp.registry.list()) {
      if (!dead.contains(n.getNodeId())) {
        cp.registry.heartbeat(n.getNodeId());
      }
    }
  }

  /** Keeps the others heartbeating until every node of {@code dead} has lost its lease. */
  private static void silence(ControlPlaneFixture cp, Set<String> dead) {
    await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(300))
        .until(
            () -> {
              heartbeatAllBut(cp, dead);
              return dead.stream().noneMatch(cp.registry::isLive);
            });
  }

  private static List<String> states(Allocation a) {
    List<String> out = new ArrayList<>();
    for (Replica r : a.getReplicasList()) {
      out.add(r.getNodeId() + "=" + r.getState());
    }
    return out;
  }

  /** Completes every rebuild the queues hold, as the target agents would report it. */
  private static int completeRebuilds(ControlPlaneFixture cp) {
    int n = 0;
    for (var node : cp.registry.list()) {
      for (NodeCommand c : cp.queue.pending(node.getNodeId())) {
        if (c.hasRebuildReplica()
            && cp.replication.completeRebuild(
                c.getRebuildReplica().getVolumeId(),
                node.getNodeId(),
                c.getRebuildReplica().getEpoch())) {
          n++;
        }
        cp.queue.ack(node.getNodeId(), c.getCommandId());
      }
    }
    return n;
  }

  @Test
  void aNewLeaderGivesAgentsTimeToReconnectAndMovesNothingAfterAnOutage() {
    var settings =
        new ReplicationManager.Settings(
            Duration.ofSeconds(2), 2, 8, Duration.ofSeconds(4), 1.0, false);
    java.util.Map<String, NodeTrustSource.NodeTrust> trust;
    try (ControlPlaneFixture before = new ControlPlaneFixture(ETCD.endpoints(), "/outage")) {
      before.registerNodes(1, 3, 1, 1, 100, TrustTier.CRITICAL, 0.95);
      before.namespace("ns", 0, 0);
      heartbeatAllBut(before, Set.of());
      for (int i = 0; i < 6; i++) {
        before.manager.allocate(
            StorageRequest.of("o" + i, "ns", "default", GIB, StorageType.SERVICE).withReplicas(2));
      }
      before.confirmCreates(); // as the agents would
      trust = java.util.Map.copyOf(before.trust);
    }
    List<Allocation> prior;
    try (ControlPlaneFixture cp = new ControlPlaneFixture(ETCD.endpoints(), "/outage", settings)) {
      cp.trust.putAll(trust); // restored trust (the trust engine persists its evidence)
      prior = cp.manager.list();
      // The control plane was down long past the grace: every lease expired, and an earlier
      // incarnation had already noted the loss an hour ago.
      Set<String> all = Set.copyOf(cp.registry.list().stream().map(n -> n.getNodeId()).toList());
      silence(cp, all);
      long anHourAgo = System.currentTimeMillis() - 3_600_000;
      for (String id : all) {
        cp.registry.update(id, r -> r.toBuilder().setLeaseLostAtUnixMs(anHourAgo).build());
      }
      // The new leader acts at once; the agents take 3 s to reconnect (inside the window).
      long started = System.currentTimeMillis();
      while (System.currentTimeMillis() - started < 3_000) {
        ReplicationManager.Pass p = cp.replication.reconcile();
        assertThat(p.nodesMarkedDown()).isEmpty();
        assertThat(p.rebuildsStarted()).isEmpty();
      }
      heartbeatAllBut(cp, Set.of());
      ReplicationManager.Pass back = cp.replication.reconcile();
      assertThat(back.nodesMarkedDown()).isEmpty();
      for (var n : cp.registry.list()) {
        assertThat(n.getState()).isEqualTo(NodeState.NODE_STATE_UP);
        assertThat(n.getLeaseLostAtUnixMs()).isZero();
      }
      assertThat(cp.manager.list()).containsExactlyInAnyOrderElementsOf(prior);

      // Later, one node really dies: DOWN after its grace, and its replicas are rebuilt.
      String victim = prior.get(0).getReplicas(0).getNodeId();
      silence(cp, Set.of(victim));
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(300))
          .until(
              () -> {
                heartbeatAllBut(cp, Set.of(victim));
                return !cp.replication.reconcile().nodesMarkedDown().isEmpty();
              });
      assertThat(cp.registry.get(victim).orElseThrow().getState())
          .isEqualTo(NodeState.NODE_STATE_DOWN);
    }
  }

  @Test
  void aWholeRegionGoingSilentHoldsDownDecisionsAndOneNodeDoesNot() {
    var settings = new ReplicationManager.Settings(Duration.ZERO, 2, 8, Duration.ZERO, 0.3, true);
    try (ControlPlaneFixture cp = new ControlPlaneFixture(ETCD.endpoints(), "/mass", settings)) {
      List<ReplicationStatus> told = new CopyOnWriteArrayList<>();
      cp.replication.addObserver(
          new ReplicationManager.Observer() {
            @Override
            public void holdChanged(ReplicationStatus status) {
              told.add(status);
            }
          });
      cp.registerNodes(2, 2, 1, 2, 100, TrustTier.CRITICAL, 0.95); // 8 nodes, 4 per region
      cp.namespace("ns", 0, 0);
      heartbeatAllBut(cp, Set.of());
      for (int i = 0; i < 8; i++) {
        cp.manager.allocate(
            StorageRequest.of("m" + i, "ns", "default", GIB, StorageType.SERVICE).withReplicas(2));
      }
      cp.confirmCreates();
      List<Allocation> prior = cp.manager.list();
      Set<String> region1 =
          Set.copyOf(
              cp.registry.list().stream()
                  .filter(n -> n.getTopologyPath().startsWith("region=r1/"))
                  .map(n -> n.getNodeId())
                  .toList());
      assertThat(region1).hasSize(4);
      silence(cp, region1);
      ReplicationManager.Pass p = null;
      for (int i = 0; i < 5; i++) {
        heartbeatAllBut(cp, region1);
        p = cp.replication.reconcile();
        assertThat(p.nodesMarkedDown()).isEmpty();
        assertThat(p.rebuildsStarted()).isEmpty();
      }
      assertThat(p.hold()).contains("4 of 8 nodes are silent");
      ReplicationStatus status =
          cp.store.get(cp.keys.replicationStatus(), ReplicationStatus.parser()).value();
      assertThat(status.getHeldNodesList()).containsExactlyInAnyOrderElementsOf(region1);
      assertThat(told).isNotEmpty();
      assertThat(told.get(told.size() - 1).getHoldReason()).isNotEmpty();
      // Every volume with a replica there says why nothing is repaired.
      for (Allocation a : cp.manager.list()) {
        boolean touched =
            a.getReplicasList().stream().anyMatch(r -> region1.contains(r.getNodeId()));
        assertThat(a.getRepairNote().startsWith("replication paused")).isEqualTo(touched);
        assertThat(states(a))
            .isEqualTo(
                states(
                    prior.stream()
                        .filter(x -> x.getVolumeId().equals(a.getVolumeId()))
                        .findFirst()
                        .orElseThrow()));
      }

      // The region comes back: the hold is lifted, nothing moved.
      heartbeatAllBut(cp, Set.of());
      p = cp.replication.reconcile();
      assertThat(p.hold()).isNull();
      assertThat(told.get(told.size() - 1).getHoldReason()).isEmpty();
      for (Allocation a : cp.manager.list()) {
        assertThat(a.getRepairNote()).isEmpty();
        assertThat(a.getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
      }

      // One node alone: normal re-replication.
      // A node of that region that holds a replica (not every node does).
      String one =
          region1.stream()
              .filter(
                  n ->
                      prior.stream()
                          .anyMatch(
                              a ->
                                  a.getReplicasList().stream()
                                      .anyMatch(r -> r.getNodeId().equals(n))))
              .sorted()
              .findFirst()
              .orElseThrow();
      long onVictim =
          prior.stream()
              .filter(a -> a.getReplicasList().stream().anyMatch(r -> r.getNodeId().equals(one)))
              .count();
      silence(cp, Set.of(one));
      List<ReplicationManager.Pass> passes = new ArrayList<>();
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                heartbeatAllBut(cp, Set.of(one));
                ReplicationManager.Pass x = cp.replication.reconcile();
                passes.add(x);
                return x.nodesMarkedDown().contains(one);
              });
      ReplicationManager.Pass down = passes.get(passes.size() - 1);
      assertThat(down.hold()).isNull();
      assertThat(down.rebuildsStarted()).isNotEmpty();
      assertThat(down.rebuildsStarted().size() + down.rebuildsDeferred().size())
          .isEqualTo((int) onVictim);
    }
  }

  @Test
  void aLostPrimaryMovesAtOnceWithoutASpareAndItsNodeGetsItsReplicaBack() {
    try (ControlPlaneFixture cp = new ControlPlaneFixture(ETCD.endpoints(), "/nospare")) {
      cp.registerNodes(1, 3, 1, 1, 100, TrustTier.CRITICAL, 0.95); // three nodes, all used
      cp.namespace("ns", 0, 0);
      heartbeatAllBut(cp, Set.of());
      Allocation a =
          cp.manager.allocate(
              StorageRequest.of("p", "ns", "default", GIB, StorageType.SERVICE).withReplicas(3));
      cp.confirmCreates();
      a = cp.manager.get("p").orElseThrow();
      String primary = a.getPrimaryNodeId();
      silence(cp, Set.of(primary));
      List<String> moved = new ArrayList<>();
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                heartbeatAllBut(cp, Set.of(primary));
                moved.addAll(cp.replication.reconcile().primariesMoved());
                return !moved.isEmpty();
              });
      // The role is handed over as soon as the node is silent, before it is DOWN: its replica
      // stays a HEALTHY member until then.
      assertThat(moved).singleElement().asString().contains("(handover: " + primary);
      Allocation handedOver = cp.manager.get("p").orElseThrow();
      assertThat(handedOver.getPrimaryNodeId()).isNotEqualTo(primary);
      assertThat(handedOver.getEpoch()).isEqualTo(a.getEpoch() + 1);
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                heartbeatAllBut(cp, Set.of(primary));
                return cp.replication.reconcile().nodesMarkedDown().contains(primary);
              });
      Allocation after = cp.manager.get("p").orElseThrow();
      assertThat(after.getPrimaryNodeId()).isEqualTo(handedOver.getPrimaryNodeId());
      assertThat(after.getEpoch()).isEqualTo(a.getEpoch() + 1);
      assertThat(after.getState()).isEqualTo(VolumeState.VOLUME_STATE_DEGRADED);
      Replica old =
          after.getReplicasList().stream()
              .filter(r -> r.getNodeId().equals(primary))
              .findFirst()
              .orElseThrow();
      assertThat(old.getState()).isEqualTo(ReplicaState.REPLICA_STATE_LOST);
      assertThat(old.getCurrentWhenUnwanted()).isTrue();
      assertThat(old.getUnwantedReason()).isEqualTo("node down");
      heartbeatAllBut(cp, Set.of(primary));
      cp.replication.reconcile();
      assertThat(cp.manager.get("p").orElseThrow().getRepairNote())
          .startsWith("no repair possible: no replacement node");

      // The node comes back: its replica is taken back by catch-up, not copied to a new node.
      heartbeatAllBut(cp, Set.of());
      ReplicationManager.Pass back = cp.replication.reconcile();
      assertThat(back.replicasTakenBack()).hasSize(1);
      assertThat(back.rebuildsStarted()).isEmpty();
      Allocation catching = cp.manager.get("p").orElseThrow();
      Replica r =
          catching.getReplicasList().stream()
              .filter(x -> x.getNodeId().equals(primary))
              .findFirst()
              .orElseThrow();
      assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_REBUILDING);
      assertThat(r.getSourceNodeId()).isNotEmpty();
      assertThat(catching.getRepairNote()).isEmpty();
      assertThat(completeRebuilds(cp)).isEqualTo(1);
      Allocation done = cp.manager.get("p").orElseThrow();
      assertThat(done.getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
      assertThat(done.getReplicasCount()).isEqualTo(3);
      assertThat(done.getPrimaryNodeId()).isEqualTo(after.getPrimaryNodeId());
    }
  }

  @Test
  void aVolumeWrittenOffIsRecoveredFromACurrentReplicaWhenItsNodesAreBack() {
    var settings = new ReplicationManager.Settings(Duration.ZERO, 2, 8);
    try (ControlPlaneFixture cp = new ControlPlaneFixture(ETCD.endpoints(), "/lost", settings)) {
      List<String> lost = new CopyOnWriteArrayList<>();
      List<String> recovered = new CopyOnWriteArrayList<>();
      cp.replication.addObserver(
          new ReplicationManager.Observer() {
            @Override
            public void volumeLost(Allocation a) {
              lost.add(a.getVolumeId());
            }

            @Override
            public void volumeRecovered(Allocation a, String from) {
              recovered.add(a.getVolumeId());
            }
          });
      cp.registerNodes(1, 4, 1, 1, 100, TrustTier.CRITICAL, 0.95);
      cp.namespace("ns", 0, 0);
      heartbeatAllBut(cp, Set.of());
      Allocation a =
          cp.manager.allocate(
              StorageRequest.of("w", "ns", "default", GIB, StorageType.SERVICE).withReplicas(2));
      cp.confirmCreates();
      a = cp.manager.get("w").orElseThrow();
      Set<String> holders =
          Set.copyOf(a.getReplicasList().stream().map(Replica::getNodeId).toList());
      silence(cp, holders);
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                heartbeatAllBut(cp, holders);
                cp.replication.reconcile();
                return cp.manager.get("w").orElseThrow().getState()
                    == VolumeState.VOLUME_STATE_LOST;
              });
      assertThat(lost).containsExactly("w");
      Allocation written = cp.manager.get("w").orElseThrow();
      assertThat(written.getReplicasList())
          .allSatisfy(r -> assertThat(r.getCurrentWhenUnwanted()).isTrue());
      assertThat(written.getRepairNote()).contains("no HEALTHY replica");

      // Both nodes come back with their data: the old primary's replica is made HEALTHY and
      // primary, the other catches up from it; nothing is copied to a third node.
      heartbeatAllBut(cp, Set.of());
      ReplicationManager.Pass p = cp.replication.reconcile();
      assertThat(p.volumesRecovered()).hasSize(1);
      assertThat(p.volumesRecovered().get(0)).contains("from " + a.getPrimaryNodeId());
      assertThat(recovered).containsExactly("w");
      assertThat(p.replicasTakenBack()).hasSize(1);
      assertThat(completeRebuilds(cp)).isEqualTo(1);
      Allocation done = cp.manager.get("w").orElseThrow();
      assertThat(done.getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
      assertThat(done.getReplicasList().stream().map(Replica::getNodeId))
          .containsExactlyInAnyOrderElementsOf(holders);
      assertThat(done.getPrimaryNodeId()).isEqualTo(a.getPrimaryNodeId());
    }
  }

  @Test
  void aVolumeCrowdedIntoOneRegionIsReSpreadOnceAnotherRegionIsEligibleAgain() {
    try (ControlPlaneFixture cp = new ControlPlaneFixture(ETCD.endpoints(), "/respread")) {
      cp.registerNodes(2, 2, 1, 1, 100, TrustTier.CRITICAL, 0.95); // 2 regions x 2 zones
      List<String> r1 =
          cp.registry.list().stream()
              .filter(n -> n.getTopologyPath().startsWith("region=r1/"))
              .map(n -> n.getNodeId())
              .toList();
      r1.forEach(id -> cp.trust.put(id, new NodeTrustSource.NodeTrust(TrustTier.NONE, 0.0)));
      cp.cluster.invalidate();
      cp.namespace("ns", 0, 0);
      heartbeatAllBut(cp, Set.of());
      cp.manager.allocate(
          StorageRequest.of("s", "ns", "default", GIB, StorageType.SERVICE).withReplicas(2));
      cp.confirmCreates();
      Allocation crowded = cp.manager.get("s").orElseThrow();
      assertThat(crowded.getReplicasList())
          .allSatisfy(r -> assertThat(r.getTopologyPath()).startsWith("region=r0/"));
      assertThat(cp.replication.reconcile().respreads()).isEmpty(); // nowhere better yet

      // Region r1 earns its trust back: one replica moves there, the other stays.
      r1.forEach(id -> cp.trust.put(id, new NodeTrustSource.NodeTrust(TrustTier.CRITICAL, 0.95)));
      heartbeatAllBut(cp, Set.of());
      ReplicationManager.Pass p = cp.replication.reconcile();
      assertThat(p.respreads()).hasSize(1);
      Allocation moving = cp.manager.get("s").orElseThrow();
      assertThat(moving.getReplicasList())
          .anySatisfy(
              r -> {
                assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_STALE);
                assertThat(r.getUnwantedReason()).startsWith("re-spread to region=r1");
              })
          .anySatisfy(
              r -> {
                assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_REBUILDING);
                assertThat(r.getTopologyPath()).startsWith("region=r1/");
              });
      assertThat(moving.getPrimaryNodeId()).isEqualTo(crowded.getPrimaryNodeId());
      assertThat(cp.replication.reconcile().respreads()).isEmpty(); // one move at a time
      assertThat(completeRebuilds(cp)).isEqualTo(1);
      Allocation spread = cp.manager.get("s").orElseThrow();
      assertThat(spread.getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
      assertThat(spread.getReplicasList().stream().map(r -> r.getTopologyPath().substring(0, 9)))
          .containsExactlyInAnyOrder("region=r0", "region=r1");
      assertThat(cp.replication.reconcile().respreads()).isEmpty();
    }
  }
}
