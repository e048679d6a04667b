package io.mycnet.storage.operator.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.allocation.AllocationAudit;
import io.mycnet.storage.operator.allocation.ControlPlaneFixture;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.election.LeaderElection;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Node loss, graded evacuation and leader failover of the replication manager on a real etcd. */
class ReplicationFailoverIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  private static final long GIB = ControlPlaneFixture.GIB;

  private static final LeaderElection.Listener QUIET =
      new LeaderElection.Listener() {
        @Override
        public void elected(long term) {}

        @Override
        public void deposed(long term) {}
      };

  /** Heartbeats for every node but {@code dead}. */
  private static void heartbeatAllBut(ControlPlaneFixture cp, String dead) {
    for (var n : cp.registry.list()) {
      if (!n.getNodeId().equals(dead)) {
        cp.registry.heartbeat(n.getNodeId());
      }
    }
  }

  private static List<NodeCommand> rebuildCommands(ControlPlaneFixture cp) {
    List<NodeCommand> out = new ArrayList<>();
    for (var n : cp.registry.list()) {
      for (NodeCommand c : cp.queue.pending(n.getNodeId())) {
        if (c.hasRebuildReplica()) {
          out.add(c);
        }
      }
    }
    return out;
  }

  @Test
  void leaderDiesMidReplicationAndTheNextFinishesWithoutRepeatingAStep() {
    String prefix = "/failover";
    var settings = new ReplicationManager.Settings(Duration.ZERO, 8, 2); // 2 rebuilds per pool
    ControlPlaneFixture a = new ControlPlaneFixture(ETCD.endpoints(), prefix, settings);
    ControlPlaneFixture b = new ControlPlaneFixture(ETCD.endpoints(), prefix, settings);
    LeaderElection electionA =
        new LeaderElection(a.store, a.keys, "cp-a", Duration.ofSeconds(2), QUIET);
    LeaderElection electionB =
        new LeaderElection(b.store, b.keys, "cp-b", Duration.ofSeconds(2), QUIET);
    try {
      electionA.start();
      await().atMost(Duration.ofSeconds(10)).until(electionA::isLeader);
      electionB.start();
      a.registerNodes(1, 2, 2, 2, 100, TrustTier.CRITICAL, 0.95);
      b.trust.putAll(a.trust);
      a.namespace("ns", 0, 0);

      heartbeatAllBut(a, "");
      List<String> volumes = new ArrayList<>();
      for (int i = 0; i < 12; i++) {
        volumes.add(
            a.manager
                .allocate(StorageRequest.of("f" + i, "ns", "default", GIB, StorageType.SERVICE))
                .getVolumeId());
      }
      assertThat(a.confirmCreates()).isGreaterThanOrEqualTo(12);
      assertThat(allBound(a)).isTrue();
      // The node holding the most replicas dies: its heartbeats stop and its lease expires.
      Map<String, Integer> count = new HashMap<>();
      for (Allocation al : a.manager.list()) {
        al.getReplicasList().forEach(r -> count.merge(r.getNodeId(), 1, Integer::sum));
      }
      String victim =
          count.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
      int affected = count.get(victim);
      assertThat(affected).isGreaterThan(2);
      await()
          .atMost(Duration.ofSeconds(15))
          .pollInterval(Duration.ofMillis(300))
          .until(
              () -> {
                heartbeatAllBut(a, victim);
                return !a.registry.isLive(victim);
              });
      a.replication.reconcile(); // notes the lease loss
      ReplicationManager.Pass first = a.replication.reconcile(); // grace 0: DOWN, rebuilds start
      assertThat(a.registry.get(victim).orElseThrow().getState())
          .isEqualTo(NodeState.NODE_STATE_DOWN);
      assertThat(first.rebuildsStarted()).hasSize(2); // throttled: 2 per pool
      assertThat(first.rebuildsDeferred()).hasSize(affected - 2);

      // Leader A crashes: its connection to etcd is gone, nobody renews its lease.
      a.client.close();
      await()
          .atMost(Duration.ofSeconds(20))
          .pollInterval(Duration.ofMillis(300))
          .until(
              () -> {
                heartbeatAllBut(b, victim);
                return electionB.isLeader();
              });

      // B finishes: each rebuild completes on the agent's verified report, then the rest start.
      heartbeatAllBut(b, victim);
      for (int pass = 0; pass < 20 && !allBound(b); pass++) {
        b.replication.reconcile();
        // Each target agent reports its rebuilt replica verified.
        for (var n : b.registry.list()) {
          for (NodeCommand c : b.queue.pending(n.getNodeId())) {
            if (c.hasRebuildReplica()) {
              b.replication.completeRebuild(
                  c.getRebuildReplica().getVolumeId(),
                  n.getNodeId(),
                  c.getRebuildReplica().getEpoch());
            }
          }
        }
        heartbeatAllBut(b, victim);
      }
      assertThat(allBound(b)).isTrue();
      // Exactly one rebuild command per affected volume: no step was done twice.
      List<NodeCommand> rebuilds = rebuildCommands(b);
      assertThat(rebuilds).hasSize(affected);
      assertThat(rebuilds)
          .extracting(c -> c.getRebuildReplica().getVolumeId())
          .doesNotHaveDuplicates();
      // The victim's queue holds exactly one delete per retired replica.
      assertThat(b.queue.pending(victim).stream().filter(NodeCommand::hasDeleteReplica).count())
          .isEqualTo(affected);
      for (Allocation al : b.manager.list()) {
        assertThat(al.getReplicasList()).extracting(Replica::getNodeId).doesNotContain(victim);
        assertThat(al.getReplicasList())
            .extracting(Replica::getState)
            .containsOnly(ReplicaState.REPLICA_STATE_HEALTHY);
      }
      assertThat(AllocationAudit.check(b.store, b.keys)).isEmpty();
    } finally {
      electionB.close();
      electionA.close();
      a.cluster.close();
      b.close();
    }
  }

  private static boolean allBound(ControlPlaneFixture cp) {
    return cp.manager.list().stream()
        .allMatch(al -> al.getState() == VolumeState.VOLUME_STATE_BOUND);
  }

  @Test
  void aDeposedLeadersWritesAreFenced() {
    try (ControlPlaneFixture cp = new ControlPlaneFixture(ETCD.endpoints(), "/fence")) {
      LeaderElection e = new LeaderElection(cp.store, cp.keys, "cp", Duration.ofSeconds(2), QUIET);
      try {
        assertThatThrownBy(() -> cp.namespace("ns", 0, 0))
            .isInstanceOf(EtcdStore.NotLeaderException.class); // not elected yet
        e.start();
        await().atMost(Duration.ofSeconds(10)).until(e::isLeader);
        cp.namespace("ns", 0, 0);
        // Someone else holds leadership now (our lease was lost while we were paused).
        try (var other =
            io.etcd.jetcd.Client.builder()
                .endpoints(ETCD.endpoints().toArray(String[]::new))
                .build()) {
          EtcdStore otherStore = new EtcdStore(other, Duration.ofSeconds(5));
          otherStore.txn().delete(cp.keys.leader()).commit();
          otherStore.txn().putString(cp.keys.leader(), "usurper").commit();
        }
        assertThatThrownBy(() -> cp.namespace("ns2", 0, 0))
            .isInstanceOf(EtcdStore.NotLeaderException.class);
        assertThat(cp.manager.getNamespace("ns2")).isEmpty();
      } finally {
        e.close();
      }
    }
  }

  @Test
  void droppingBelowCriticalEvacuatesOnlyCriticalReplicas() {
    try (ControlPlaneFixture cp = new ControlPlaneFixture(ETCD.endpoints(), "/graded")) {
      cp.registerNodes(1, 3, 1, 2, 100, TrustTier.CRITICAL, 0.95);
      cp.namespace("ns", 0, 0);
      heartbeatAllBut(cp, "");
      Allocation crit =
          cp.manager.allocate(
              StorageRequest.of("crit", "ns", "default", GIB, StorageType.CONSENSUS));
      cp.manager.allocate(
          StorageRequest.of("sens", "ns", "default", GIB, StorageType.INFRASTRUCTURE));
      cp.confirmCreates();
      Allocation sens = cp.manager.get("sens").orElseThrow();
      // A node holding both drops to SENSITIVE.
      String node =
          crit.getReplicasList().stream()
              .map(Replica::getNodeId)
              .filter(n -> sens.getReplicasList().stream().anyMatch(r -> r.getNodeId().equals(n)))
              .findFirst()
              .orElseThrow();
      cp.trust.put(node, new NodeTrustSource.NodeTrust(TrustTier.SENSITIVE, 0.8));
      ReplicationManager.Pass pass = cp.replication.reconcile();
      assertThat(pass.rebuildsStarted()).hasSize(1);
      assertThat(pass.rebuildsStarted().get(0)).startsWith("crit:");
      Allocation critAfter = cp.manager.get("crit").orElseThrow();
      assertThat(critAfter.getState()).isEqualTo(VolumeState.VOLUME_STATE_REBUILDING);
      assertThat(cp.manager.get("sens").orElseThrow()).isEqualTo(sens);
      assertThat(Classification.CRITICAL).isNotNull();
      assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
    }
  }
}
