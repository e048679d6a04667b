package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeUsage;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.allocation.AllocationException;
import io.mycnet.storage.operator.allocation.PlannerPlacement;
import io.mycnet.storage.operator.allocation.ReplicaCreation;
import io.mycnet.storage.operator.allocation.ReplicaPlacer;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.store.StoreWatch;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Overcommit that holds: six agents of 64 MiB raw capacity in a pool with overcommitRatio 2, filled
 * with 96 MiB volumes past raw capacity. The agents accept what the placement placed (the limit
 * travels with each create); one agent whose disk is taken by a replica no allocation names refuses
 * its create, which is retried and then re-placed (rebuilt from the primary elsewhere). No replica
 * is ever reported healthy that its agent refused, no volume is bound before its replicas exist,
 * and every healthy replica is on its agent's disk.
 */
class OvercommitIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "fleet7.0123456789abcdef";
  static final String OWNER = "app";
  static final long MIB = 1 << 20;
  static final long RAW = 64 * MIB;
  static final double RATIO = 2.0;
  static final long SIZE = 96 * MIB;
  static final List<String> NODES = List.of("o1", "o2", "o3", "o4", "o5", "o6");

  @TempDir Path dir;

  @Test
  void aPoolOvercommittedTwiceHoldsOnlyReplicasItsAgentsAccepted() throws Exception {
    try (DataPathCluster dp =
        new DataPathCluster(
            dir,
            ETCD,
            TOKEN,
            NODES,
            Duration.ofSeconds(15),
            "overcommit-it-logs",
            n -> List.of("--capacity=64MiB"))) {
      dp.manager.putNamespace(NamespaceRecord.newBuilder().setNamespace(OWNER).build());
      // The pool's view (overcommitRatio 2) for placement, allocation and re-placement; the
      // control-plane process records the agents' results.
      ReplicaPlacer placer = new PlannerPlacement(r -> Set.of("default"));
      TrustAwareStorageManager manager =
          new TrustAwareStorageManager(
              dp.cp.store, dp.cp.keys, dp.cp.queue, dp.cluster, placer, p -> RATIO, clock());
      ReplicaCreation creation =
          new ReplicaCreation(
              dp.cp.store,
              dp.cp.keys,
              dp.cp.queue,
              dp.cluster,
              placer,
              p -> RATIO,
              ReplicaCreation.DEFAULT_MAX_ATTEMPTS,
              clock());
      List<Allocation> seen = new CopyOnWriteArrayList<>();
      StoreWatch watch =
          manager.watch(
              e -> {
                if (e.allocation() != null) {
                  seen.add(e.allocation());
                }
              });
      try {
        await()
            .atMost(Duration.ofSeconds(20))
            .until(
                () ->
                    NODES.stream()
                        .allMatch(
                            n -> dp.cp.registry.get(n).orElseThrow().getCapacityBytes() == RAW));
        dp.cluster.invalidate();

        // Where the first volume goes (placement is a deterministic function of the cluster).
        StorageRequest first = request("oc-0");
        StorageRequest.Effective e = first.effective();
        List<String> predicted =
            placer
                .place(
                    new ReplicaPlacer.Query(
                        e.volumeId(),
                        e.sizeBytes(),
                        e.classification(),
                        e.replicaCount(),
                        e.strategy(),
                        e.pool(),
                        RATIO,
                        e.geographicDistribution(),
                        List.of(),
                        Set.of()),
                    dp.cluster.nodes())
                .nodeIds();
        String primary = predicted.get(0);
        String refuser = predicted.get(1);
        // A replica no allocation names takes the refuser's whole limit (64 MiB x 2).
        Path leftover = dp.cp.agentDataDir(refuser).resolve("replicas").resolve("leftover");
        Files.createDirectories(leftover);
        Files.writeString(
            leftover.resolve("replica.meta"),
            "epoch=1\nsize-bytes=" + (long) (RAW * RATIO) + "\nvolume-id=leftover\n");

        Allocation a = manager.allocate(first);
        assertThat(a.getReplicasList()).extracting(Replica::getNodeId).isEqualTo(predicted);
        assertThat(a.getState()).isEqualTo(VolumeState.VOLUME_STATE_CREATING);
        // The primary accepts 96 MiB on 64 MiB raw: the agent honours the pool's overcommit.
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> state("oc-0", primary, manager) == ReplicaState.REPLICA_STATE_HEALTHY);
        // The refuser refuses every attempt; the volume is not bound meanwhile.
        await()
            .atMost(Duration.ofSeconds(30))
            .until(
                () ->
                    replica("oc-0", refuser, manager) != null
                        && replica("oc-0", refuser, manager).getCreateFailures().getCount()
                            >= ReplicaCreation.DEFAULT_MAX_ATTEMPTS);
        Replica refused = replica("oc-0", refuser, manager);
        assertThat(refused.getState()).isEqualTo(ReplicaState.REPLICA_STATE_CREATING);
        assertThat(refused.getCreateFailures().getLastError()).contains("insufficient capacity");
        assertThat(manager.get("oc-0").orElseThrow().getState())
            .isEqualTo(VolumeState.VOLUME_STATE_CREATING);

        // Re-placed as the operator's replication loop does: rebuilt from the primary elsewhere.
        assertThat(creation.replaceRefused()).containsExactly("oc-0");
        Allocation moved = manager.get("oc-0").orElseThrow();
        assertThat(moved.getReplicasList()).extracting(Replica::getNodeId).doesNotContain(refuser);
        assertThat(moved.getCreateRefusalsList())
            .singleElement()
            .satisfies(c -> assertThat(c.getNodeId()).isEqualTo(refuser));
        await()
            .atMost(Duration.ofSeconds(90))
            .until(
                () ->
                    manager.get("oc-0").orElseThrow().getState() == VolumeState.VOLUME_STATE_BOUND);
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> !Files.exists(dp.cp.agentDataDir(refuser).resolve("replicas/oc-0")));
        // The leak is cleaned up; from here every agent has room for what is placed on it.
        deleteTree(leftover);

        // Fill past raw capacity until the placement refuses.
        List<String> volumes = new ArrayList<>(List.of("oc-0"));
        String refusal = null;
        for (int i = 1; i < 10 && refusal == null; i++) {
          try {
            volumes.add(manager.allocate(request("oc-" + i)).getVolumeId());
          } catch (AllocationException ex) {
            assertThat(ex.reason()).isEqualTo(AllocationException.Reason.NO_PLACEMENT);
            refusal = ex.getMessage();
          }
        }
        assertThat(refusal).as("the placement stops at capacity x ratio").isNotNull();
        await()
            .atMost(Duration.ofSeconds(60))
            .until(
                () ->
                    volumes.stream()
                        .allMatch(
                            v ->
                                manager.get(v).orElseThrow().getState()
                                    == VolumeState.VOLUME_STATE_BOUND));
        long reservedTotal = 0;
        for (String n : NODES) {
          reservedTotal += reserved(dp, n);
        }
        assertThat(reservedTotal)
            .as("reserved past raw capacity")
            .isGreaterThan(NODES.size() * RAW);

        // Every healthy replica is on its agent's disk and was accepted there.
        for (String v : volumes) {
          for (Replica r : manager.get(v).orElseThrow().getReplicasList()) {
            assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_HEALTHY);
            assertThat(
                    dp.cp
                        .agentDataDir(r.getNodeId())
                        .resolve("replicas")
                        .resolve(v)
                        .resolve("replica.meta"))
                .exists();
          }
        }
        // In every version written: the refused replica never healthy, no volume bound with a
        // replica its agent had not confirmed.
        assertThat(seen).isNotEmpty();
        for (Allocation v : seen) {
          for (Replica r : v.getReplicasList()) {
            if (v.getVolumeId().equals("oc-0") && r.getNodeId().equals(refuser)) {
              assertThat(r.getState()).isNotEqualTo(ReplicaState.REPLICA_STATE_HEALTHY);
            }
            if (v.getState() == VolumeState.VOLUME_STATE_BOUND) {
              assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_HEALTHY);
            }
          }
        }
        System.out.printf(
            "overcommit: %d volumes of %d MiB x 2 replicas on %d nodes of %d MiB raw: %d MiB"
                + " reserved (ratio 2); one refused create re-placed%n",
            volumes.size(), SIZE / MIB, NODES.size(), RAW / MIB, reservedTotal / MIB);
      } finally {
        watch.close();
      }
    }
  }

  private static StorageRequest request(String id) {
    return StorageRequest.of(id, OWNER, "default", SIZE, StorageType.SERVICE);
  }

  private static Clock clock() {
    return Clock.systemUTC();
  }

  private static Replica replica(String volume, String node, TrustAwareStorageManager m) {
    return m.get(volume).orElseThrow().getReplicasList().stream()
        .filter(r -> r.getNodeId().equals(node))
        .findFirst()
        .orElse(null);
  }

  private static ReplicaState state(String volume, String node, TrustAwareStorageManager m) {
    Replica r = replica(volume, node, m);
    return r == null ? null : r.getState();
  }

  private static long reserved(DataPathCluster dp, String node) {
    NodeUsage u = dp.cp.store.get(dp.cp.keys.nodeUsage(node), NodeUsage.parser()).value();
    return u == null ? 0 : u.getReservedBytes();
  }

  private static void deleteTree(Path p) throws Exception {
    try (Stream<Path> files = Files.walk(p)) {
      for (Path f : files.sorted((x, y) -> y.getNameCount() - x.getNameCount()).toList()) {
        Files.deleteIfExists(f);
      }
    }
  }
}
