package io.mycnet.storage.operator.nodeapi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.ConsistencyLevel;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.operator.allocation.CommandQueue;
import io.mycnet.storage.operator.allocation.EtcdKeys;
import io.mycnet.storage.operator.allocation.EtcdStore;
import io.mycnet.storage.operator.allocation.NodeRegistry;
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
}
