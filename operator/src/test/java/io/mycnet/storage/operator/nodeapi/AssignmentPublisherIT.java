package io.mycnet.storage.operator.nodeapi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.AccessGrant;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.ConsistencyLevel;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The assignment publisher over a real etcd: an assignment goes to every non-LOST replica whenever
 * the epoch or a replica's state changes (the replica states say which replicas are in sync), not
 * when nothing an agent needs changed; a change back to an earlier content is published again; a
 * restarted publisher queues nothing twice.
 */
class AssignmentPublisherIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  static EtcdStore store;
  static final EtcdKeys keys = new EtcdKeys("/ap");
  static CommandQueue queue;
  static NodeRegistry registry;

  @BeforeAll
  static void setUp() {
    store = new EtcdStore(ETCD.client(), Duration.ofSeconds(5));
    queue = new CommandQueue(store, keys);
    registry = new NodeRegistry(store, keys, Clock.systemUTC(), Duration.ofSeconds(10));
  }

  static Allocation allocation(long epoch, long updatedAt, ReplicaState... states) {
    Allocation.Builder b =
        Allocation.newBuilder()
            .setVolumeId("vol-a")
            .setNamespace("app")
            .setSizeBytes(1 << 20)
            .setConsistency(ConsistencyLevel.CONSISTENCY_LEVEL_STRONG)
            .setEpoch(epoch)
            .setPrimaryNodeId("n1")
            .setIncarnation("i1")
            .setUpdatedAtUnixMs(updatedAt);
    for (int i = 0; i < states.length; i++) {
      b.addReplicas(Replica.newBuilder().setNodeId("n" + (i + 1)).setState(states[i]));
    }
    return b.build();
  }

  static void put(Allocation a) {
    store.txn().put(keys.allocation(a.getVolumeId()), a).commit();
  }

  /** The assignments pending for {@code node}, in queue order. */
  static List<AssignReplica> assignments(String node) {
    return queue.pending(node).stream()
        .filter(NodeCommand::hasAssignReplica)
        .map(NodeCommand::getAssignReplica)
        .toList();
  }

  static Map<String, ReplicaState> states(AssignReplica a) {
    return a.getPeersList().stream()
        .collect(Collectors.toMap(ReplicaMember::getNodeId, ReplicaMember::getState));
  }

  @Test
  void republishesWhenAReplicaStateChangesAtTheSameEpoch() {
    ReplicaState h = ReplicaState.REPLICA_STATE_HEALTHY;
    ReplicaState s = ReplicaState.REPLICA_STATE_STALE;
    try (AssignmentPublisher p =
        new AssignmentPublisher(store, keys, queue, registry, Clock.systemUTC()).start()) {
      put(allocation(1, 1, h, h, h));
      await().atMost(Duration.ofSeconds(10)).until(() -> assignments("n3").size() == 1);
      // n3 marked STALE, same epoch: every replica is told, n3 included.
      put(allocation(1, 2, h, h, s));
      await().atMost(Duration.ofSeconds(10)).until(() -> assignments("n3").size() == 2);
      // Nothing an agent needs changed: nothing queued.
      put(allocation(1, 3, h, h, s));
      // Back to HEALTHY (the same content as the first): published again, as a newer revision.
      put(allocation(1, 4, h, h, h));
      await().atMost(Duration.ofSeconds(10)).until(() -> assignments("n3").size() == 3);
      // n2 LOST at a new epoch: n2 gets nothing, the others do.
      put(allocation(2, 5, h, ReplicaState.REPLICA_STATE_LOST, h));
      await().atMost(Duration.ofSeconds(10)).until(() -> assignments("n3").size() == 4);
    }
    for (String n : List.of("n1", "n3")) {
      List<AssignReplica> got = assignments(n);
      assertThat(got).extracting(AssignReplica::getEpoch).containsExactly(1L, 1L, 1L, 2L);
      assertThat(got).extracting(a -> states(a).get("n3")).containsExactly(h, s, h, h);
      assertThat(got).extracting(AssignReplica::getRevision).isSorted().doesNotHaveDuplicates();
      assertThat(queue.pending(n))
          .allSatisfy(
              c ->
                  assertThat(c.getCommandId())
                      .matches(
                          "assign:vol-a:i1:\\d:" + n + ":" + c.getAssignReplica().getRevision()));
    }
    assertThat(assignments("n2")).hasSize(3);
    assertThat(states(assignments("n1").get(3)).get("n2"))
        .isEqualTo(ReplicaState.REPLICA_STATE_LOST);

    // A restarted publisher publishes the current allocation under the same id: no second copy.
    try (AssignmentPublisher p =
        new AssignmentPublisher(store, keys, queue, registry, Clock.systemUTC()).start()) {
      await()
          .during(Duration.ofSeconds(1))
          .atMost(Duration.ofSeconds(5))
          .until(() -> assignments("n1").size() == 4 && assignments("n3").size() == 4);
    }
  }

  static Allocation volume(String claim, long updatedAt) {
    return Allocation.newBuilder()
        .setVolumeId("shop." + claim)
        .setNamespace("shop.payments")
        .setSizeBytes(1 << 20)
        .setEpoch(3)
        .setPrimaryNodeId("s1")
        .setIncarnation("i" + claim)
        .setUpdatedAtUnixMs(updatedAt)
        .addReplicas(
            Replica.newBuilder().setNodeId("s1").setState(ReplicaState.REPLICA_STATE_HEALTHY))
        .build();
  }

  static void putShares(AccessGrant... grants) {
    store
        .txn()
        .put(
            keys.namespace("shop.payments"),
            NamespaceRecord.newBuilder()
                .setNamespace("shop.payments")
                .addAllShares(List.of(grants))
                .build())
        .commit();
  }

  static AccessGrant share(String claim, boolean readOnly) {
    return AccessGrant.newBuilder()
        .setClaim(claim)
        .setNamespace("shop.analytics")
        .setReadOnly(readOnly)
        .build();
  }

  /** The assignments of {@code volume} pending for node s1, in queue order. */
  static List<AssignReplica> of(String volume) {
    return assignments("s1").stream().filter(a -> a.getVolumeId().equals(volume)).toList();
  }

  @Test
  void sharesReachOnlyTheirClaimsVolumeAndEveryChangeIsANewAssignmentAtTheSameEpoch() {
    putShares(share("ledger", false));
    try (AssignmentPublisher p =
        new AssignmentPublisher(store, keys, queue, registry, Clock.systemUTC()).start()) {
      put(volume("ledger", 1));
      put(volume("cache", 1));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> of("shop.ledger").size() == 1 && of("shop.cache").size() == 1);
      assertThat(of("shop.ledger").get(0).getGrantsList()).containsExactly(share("ledger", false));
      // The owner's other claim is not opened by the share.
      assertThat(of("shop.cache").get(0).getGrantsList()).isEmpty();

      // ReadWrite to ReadOnly: the ledger's replicas are told, at the same epoch, newer revision.
      putShares(share("ledger", true));
      await().atMost(Duration.ofSeconds(10)).until(() -> of("shop.ledger").size() == 2);
      AssignReplica narrowed = of("shop.ledger").get(1);
      assertThat(narrowed.getGrantsList()).containsExactly(share("ledger", true));
      assertThat(narrowed.getEpoch()).isEqualTo(3);
      assertThat(narrowed.getRevision()).isGreaterThan(of("shop.ledger").get(0).getRevision());

      // Removed: an assignment without the grant revokes it.
      putShares();
      await().atMost(Duration.ofSeconds(10)).until(() -> of("shop.ledger").size() == 3);
      assertThat(of("shop.ledger").get(2).getGrantsList()).isEmpty();
      // Shares that do not concern the cache volume never re-sent it.
      assertThat(of("shop.cache")).hasSize(1);

      // The namespace record removed while a grant is in force: the grant goes too.
      putShares(share("cache", true));
      await().atMost(Duration.ofSeconds(10)).until(() -> of("shop.cache").size() == 2);
      store.txn().delete(keys.namespace("shop.payments")).commit();
      await().atMost(Duration.ofSeconds(10)).until(() -> of("shop.cache").size() == 3);
      assertThat(of("shop.cache").get(2).getGrantsList()).isEmpty();
      assertThat(of("shop.cache").get(2).getRevision())
          .isGreaterThan(of("shop.cache").get(1).getRevision());
    }
    assertThat(of("shop.ledger")).extracting(AssignReplica::getRevision).isSorted();
  }
}
