package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaRole;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.api.v1.WriteResponse;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A partitioned primary: the primary agent of a STRONG 3-replica volume is frozen (SIGSTOP: the
 * process lives, its control-plane session and lease lapse), the control plane's replication loop
 * makes a follower primary at a higher epoch and starts a rebuild of the lost replica on a fourth
 * node. The new primary takes writes; the old one, thawed (SIGCONT) and still believing it is
 * primary at the old epoch, has its writes refused with {@code FAILED_PRECONDITION} (the followers
 * answer "stale epoch" and fence it); its refused write reaches no other replica, and once the
 * rebuild completes every replica of the new set holds exactly the acknowledged writes and the old
 * primary's replica is deleted.
 */
class PrimaryFailoverIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "fleet2.0123456789abcdef";
  static final String VOL = "vol-failover";
  static final int SIZE = 4 << 20;
  static final String OWNER = "app";
  static final List<String> NODES = List.of("f1", "f2", "f3", "f4");

  @TempDir static Path dir;
  static DataPathCluster dp;
  static ControlPlaneFixture cp;
  static Map<String, ChildProcess> agents;
  static TrustAwareStorageManager manager;
  static ReplicationManager replication;
  static final byte[] model = new byte[SIZE];
  static final SecureRandom random = new SecureRandom();

  @BeforeAll
  static void start() throws Exception {
    // A slow rebuild (4 MiB at 1 MiB/s): the old primary is still there to be refused.
    dp =
        new DataPathCluster(
            dir,
            ETCD,
            TOKEN,
            NODES,
            Duration.ofSeconds(10),
            "failover-it-logs",
            "--rebuild-bandwidth=1MiB");
    cp = dp.cp;
    agents = dp.agents;
    manager = dp.manager;
    replication = dp.replication;
    manager.putNamespace(NamespaceRecord.newBuilder().setNamespace(OWNER).build());
  }

  @AfterAll
  static void stopAll() throws Exception {
    if (dp != null) {
      dp.close();
    }
  }

  static VolumeStat stat(String node) {
    return dp.stat(OWNER, node, VOL);
  }

  static WriteResponse write(String node, long epoch, long offset, byte[] data) {
    return dp.write(OWNER, node, VOL, epoch, offset, data);
  }

  static byte[] read(String node, long epoch, long offset, int length) {
    return dp.read(OWNER, node, VOL, epoch, offset, length);
  }

  /** An acknowledged write through {@code primary}, recorded in the model. */
  static void ackedWrite(String primary, long epoch, long offset, byte[] data, int minDurable) {
    assertThat(write(primary, epoch, offset, data).getDurableReplicas())
        .isGreaterThanOrEqualTo(minDurable);
    System.arraycopy(data, 0, model, (int) offset, data.length);
  }

  static byte[] pattern(int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  static void assertMatchesModel(String node, long epoch) {
    for (int off = 0; off < SIZE; off += 1 << 20) {
      byte[] got = read(node, epoch, off, 1 << 20);
      assertThat(Arrays.mismatch(got, Arrays.copyOfRange(model, off, off + (1 << 20))))
          .as("first byte differing in %d+1MiB on %s (-1: none)", off, node)
          .isEqualTo(-1);
    }
  }

  static Allocation allocation() {
    return manager.get(VOL).orElseThrow();
  }

  static void awaitAssignment(List<String> nodes, long epoch, String primary) {
    await()
        .atMost(Duration.ofSeconds(10))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (String n : nodes) {
                VolumeStat s = stat(n);
                assertThat(s.getEpoch()).as("epoch on %s", n).isEqualTo(epoch);
                assertThat(s.getPrimaryNodeId()).as("primary on %s", n).isEqualTo(primary);
              }
            });
  }

  @Test
  void aPartitionedPrimaryIsReplacedAtAHigherEpochAndItsWritesAreRefused() {
    Allocation a =
        manager.allocate(
            StorageRequest.of(VOL, OWNER, "default", SIZE, StorageType.CONSENSUS)
                .withConsistency(ConsistencyLevel.STRONG));
    String oldPrimary = a.getPrimaryNodeId();
    List<String> holders = a.getReplicasList().stream().map(Replica::getNodeId).toList();
    awaitAssignment(holders, 1, oldPrimary);
    ackedWrite(oldPrimary, 1, 0, pattern(256 * 1024), 3);
    ackedWrite(oldPrimary, 1, 1 << 20, pattern(100_000), 3);

    // Partition: the primary's process is frozen; its session and lease lapse, it is not killed.
    ChildProcess frozen = agents.get(oldPrimary);
    frozen.freeze();
    try {
      await()
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () ->
                  allocation().getReplicasList().stream()
                      .anyMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING));
      Allocation moved = allocation();
      String newPrimary = moved.getPrimaryNodeId();
      // The primary moves at once (a new epoch), then the rebuild starts (another).
      long e = moved.getEpoch();
      assertThat(e).isEqualTo(3);
      assertThat(newPrimary).isNotEqualTo(oldPrimary).isIn(holders);
      assertThat(moved.getReplicasList())
          .anySatisfy(
              r -> {
                assertThat(r.getNodeId()).isEqualTo(oldPrimary);
                assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_LOST);
              });
      String follower =
          holders.stream()
              .filter(n -> !n.equals(oldPrimary) && !n.equals(newPrimary))
              .findFirst()
              .orElseThrow();
      awaitAssignment(List.of(newPrimary, follower), e, newPrimary);
      assertThat(stat(newPrimary).getRole()).isEqualTo(ReplicaRole.REPLICA_ROLE_PRIMARY);
      // The new primary takes writes at the new epoch (two HEALTHY replicas: a majority of two).
      ackedWrite(newPrimary, e, 2 << 20, pattern(64 * 1024), 2);
      // The old epoch is refused by the new primary and by the follower.
      assertCode(Status.Code.FAILED_PRECONDITION, () -> write(newPrimary, 1, 0, pattern(10)));
      assertCode(Status.Code.FAILED_PRECONDITION, () -> write(follower, 1, 0, pattern(10)));
    } finally {
      frozen.thaw();
    }

    // The old primary is back but has not been told anything (LOST replicas get no assignment):
    // it still holds epoch 1 and believes it is the primary. Its write is forwarded, the followers
    // answer "stale epoch", it is fenced and refuses the write.
    Allocation moved = allocation();
    String newPrimary = moved.getPrimaryNodeId();
    String follower =
        holders.stream()
            .filter(n -> !n.equals(oldPrimary) && !n.equals(newPrimary))
            .findFirst()
            .orElseThrow();
    byte[] refused = pattern(32 * 1024);
    StatusRuntimeException e =
        (StatusRuntimeException)
            org.assertj.core.api.Assertions.catchThrowable(
                () -> write(oldPrimary, 1, 3 << 20, refused));
    assertThat(e).as("the old primary's write at epoch 1").isNotNull();
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(e.getStatus().getDescription()).contains("lost the primary role");
    assertThat(frozen.countInStderr("fenced as primary of " + VOL)).isPositive();
    // Fenced for good: the next write is refused before it is written anywhere.
    assertCode(Status.Code.FAILED_PRECONDITION, () -> write(oldPrimary, 1, 0, pattern(10)));
    // Nothing of the refused write reached the new primary or the follower. Read at the current
    // epoch: the rebuild may complete (and raise it) meanwhile; a client then asks again.
    for (String n : List.of(newPrimary, follower)) {
      await()
          .atMost(Duration.ofSeconds(20))
          .ignoreExceptionsInstanceOf(StatusRuntimeException.class)
          .untilAsserted(
              () -> {
                long now = allocation().getEpoch();
                assertThat(read(n, now, 3 << 20, refused.length))
                    .isEqualTo(new byte[refused.length]);
                assertMatchesModel(n, now);
              });
    }

    // The rebuild completes: the new replica is HEALTHY, the old primary's replica retired and
    // deleted; every replica of the new set holds exactly the acknowledged writes.
    String spare =
        moved.getReplicasList().stream()
            .filter(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)
            .map(Replica::getNodeId)
            .findFirst()
            .orElseThrow();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                allocation().getReplicasList().stream()
                        .allMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_HEALTHY)
                    && allocation().getReplicasList().stream()
                        .noneMatch(r -> r.getNodeId().equals(oldPrimary)));
    Allocation done = allocation();
    assertThat(done.getReplicasList())
        .extracting(Replica::getNodeId)
        .containsExactlyInAnyOrder(newPrimary, follower, spare);
    assertThat(done.getPrimaryNodeId()).isEqualTo(newPrimary);
    awaitAssignment(List.of(newPrimary, follower, spare), done.getEpoch(), newPrimary);
    ackedWrite(newPrimary, done.getEpoch(), 3 << 20, pattern(8192), 3);
    for (String n : List.of(newPrimary, follower, spare)) {
      assertMatchesModel(n, done.getEpoch());
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .ignoreExceptions()
        .untilAsserted(() -> assertCode(Status.Code.NOT_FOUND, () -> stat(oldPrimary)));
  }

  static void assertCode(Status.Code code, Runnable call) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(code));
  }
}
