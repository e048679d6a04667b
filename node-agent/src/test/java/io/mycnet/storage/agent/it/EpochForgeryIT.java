package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaPeerGrpc;
import io.mycnet.storage.api.v1.ReplicaWrite;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A replica set member forging epochs: a follower of a STRONG 3-replica volume, holding its real
 * node certificate, calls {@code ReplicaPeer.Apply} on the other follower with writes claiming an
 * epoch lower than, equal to and higher than the receiver's. Each is refused, the receiver's bytes
 * stay those of the primary, the control plane (a separate process) records a peer protocol
 * violation against the sender for each, and the primary's writes go on reaching every replica.
 * Then a real failover (the primary frozen, a follower made primary at epoch 2): the new primary's
 * writes reach the follower, the thawed old primary's write at epoch 1 is refused as stale and not
 * reported (it was that epoch's primary), and the follower claiming epoch 1 is reported (it never
 * was).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class EpochForgeryIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "fleet2.0123456789abcdef";
  static final String VOL = "vol-forged";
  static final int SIZE = 1 << 20;
  static final String OWNER = "app";
  static final List<String> NODES = List.of("g1", "g2", "g3");

  @TempDir static Path dir;
  static DataPathCluster dp;
  static final SecureRandom random = new SecureRandom();

  @BeforeAll
  static void start() throws Exception {
    dp = new DataPathCluster(dir, ETCD, TOKEN, NODES, Duration.ofSeconds(15), "forgery-it-logs");
    dp.manager.putNamespace(NamespaceRecord.newBuilder().setNamespace(OWNER).build());
  }

  @AfterAll
  static void stopAll() throws Exception {
    if (dp != null) {
      dp.close();
    }
  }

  static byte[] pattern(int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  static byte[] read(String node, long offset, int length) {
    return dp.read(OWNER, node, VOL, 1, offset, length);
  }

  @Test
  @Order(1)
  void aFollowerForgingEpochsIsRefusedAndReported() throws Exception {
    Allocation a =
        dp.manager.allocate(
            StorageRequest.of(VOL, OWNER, "default", SIZE, StorageType.CONSENSUS)
                .withConsistency(ConsistencyLevel.STRONG));
    String primary = a.getPrimaryNodeId();
    List<String> followers =
        a.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(primary))
            .toList();
    assertThat(followers).hasSize(2);
    String sender = followers.get(0);
    String receiver = followers.get(1);
    await()
        .atMost(Duration.ofSeconds(20))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (String n : NODES) {
                VolumeStat s = dp.stat(OWNER, n, VOL);
                assertThat(s.getEpoch()).isEqualTo(1);
                assertThat(s.getPrimaryNodeId()).isEqualTo(primary);
              }
            });
    byte[] original = pattern(64 * 1024);
    assertThat(dp.write(OWNER, primary, VOL, 1, 0, original).getDurableReplicas()).isEqualTo(3);
    long applied = dp.stat(OWNER, receiver, VOL).getAppliedSequence();

    // The sender's own certificate, as its agent holds it, on the receiver's data port.
    ManagedChannel ch = peerChannel(sender, receiver);
    try {
      ReplicaPeerGrpc.ReplicaPeerBlockingStub peer = ReplicaPeerGrpc.newBlockingStub(ch);
      byte[] forged = pattern(64 * 1024);
      // Lower: epoch 0 is never assigned.
      assertRefused(
          peer, forgedWrite(0, applied + 1, forged), Status.Code.PERMISSION_DENIED, "epoch 0");
      // Equal: epoch 1 names the primary, not the sender.
      assertRefused(
          peer, forgedWrite(1, applied + 1, forged), Status.Code.PERMISSION_DENIED, "not its");
      // Higher: epoch 2 does not exist; the receiver waits for its assignment, none comes.
      assertRefused(
          peer,
          forgedWrite(2, applied + 1, forged),
          Status.Code.FAILED_PRECONDITION,
          "no assignment of epoch 2");
      // The same again, many times: refused, not reported again.
      for (int i = 0; i < 20; i++) {
        assertRefused(
            peer, forgedWrite(1, applied + 1, forged), Status.Code.PERMISSION_DENIED, "not its");
      }
    } finally {
      ch.shutdownNow();
      ch.awaitTermination(5, TimeUnit.SECONDS);
    }

    // Nothing was written: the receiver serves the primary's bytes.
    assertThat(read(receiver, 0, original.length)).isEqualTo(read(primary, 0, original.length));
    assertThat(read(receiver, 0, original.length)).isEqualTo(original);
    assertThat(dp.stat(OWNER, receiver, VOL).getAppliedSequence()).isEqualTo(applied);

    // The control plane recorded each claim against the sender, once.
    ChildProcess cp = dp.cp.controlPlane;
    for (long epoch : new long[] {0, 1, 2}) {
      String line = violation(sender, receiver, VOL, epoch);
      await().atMost(Duration.ofSeconds(20)).until(() -> cp.countInStderr(line) > 0);
    }

    // The primary's writes still reach every replica (not fenced, nobody out of sync).
    byte[] next = pattern(32 * 1024);
    assertThat(dp.write(OWNER, primary, VOL, 1, 128 * 1024, next).getDurableReplicas())
        .isEqualTo(3);
    assertThat(dp.stat(OWNER, primary, VOL).getOutOfSyncList()).isEmpty();
    for (String n : NODES) {
      assertThat(read(n, 128 * 1024, next.length)).as("on %s", n).isEqualTo(next);
      assertThat(read(n, 0, original.length)).as("on %s", n).isEqualTo(original);
    }
    assertThat(cp.countInStderr(violation(sender, receiver, VOL, 1))).isEqualTo(1);
    assertThat(cp.countInStderr("peer protocol violation by " + primary)).isZero();
  }

  static String violation(String sender, String receiver, String vol, long epoch) {
    return "peer protocol violation by "
        + sender
        + ": "
        + receiver
        + " refused its write to "
        + vol
        + " claiming epoch "
        + epoch
        + ":";
  }

  @Test
  @Order(2)
  void afterAFailoverTheDeposedPrimaryIsStaleAndAFollowerClaimingItsEpochIsReported()
      throws Exception {
    String vol = "vol-failed-over";
    Allocation a =
        dp.manager.allocate(
            StorageRequest.of(vol, OWNER, "default", SIZE, StorageType.CONSENSUS)
                .withConsistency(ConsistencyLevel.STRONG));
    String oldPrimary = a.getPrimaryNodeId();
    awaitEpoch(vol, NODES, 1, oldPrimary);
    byte[] first = pattern(16 * 1024);
    assertThat(dp.write(OWNER, oldPrimary, vol, 1, 0, first).getDurableReplicas()).isEqualTo(3);

    // The primary is frozen (its session and lease lapse); the replication manager moves the
    // primary role to a follower at epoch 2.
    ChildProcess frozen = dp.agents.get(oldPrimary);
    frozen.freeze();
    Allocation moved;
    try {
      await()
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> !dp.manager.get(vol).orElseThrow().getPrimaryNodeId().equals(oldPrimary));
      moved = dp.manager.get(vol).orElseThrow();
    } finally {
      frozen.thaw();
    }
    String newPrimary = moved.getPrimaryNodeId();
    long epoch = moved.getEpoch();
    assertThat(epoch).isGreaterThan(1);
    String follower =
        NODES.stream()
            .filter(n -> !n.equals(oldPrimary) && !n.equals(newPrimary))
            .findFirst()
            .orElseThrow();
    awaitEpoch(vol, List.of(newPrimary, follower), epoch, newPrimary);
    // Legitimate: the new primary's writes reach the follower. The deposed primary's replica was
    // handed over from, not dropped (docs/replication.md, "Handover from a silent primary"): once
    // thawed and told the new epoch it counts too, so 2 or 3.
    byte[] second = pattern(16 * 1024);
    assertThat(dp.write(OWNER, newPrimary, vol, epoch, 64 * 1024, second).getDurableReplicas())
        .isBetween(2, 3);
    assertThat(dp.read(OWNER, follower, vol, epoch, 64 * 1024, second.length)).isEqualTo(second);

    // The old primary, thawed, writes at epoch 1: refused (stale, or no longer the primary).
    Throwable stale = catchThrowable(() -> dp.write(OWNER, oldPrimary, vol, 1, 0, pattern(4096)));
    assertThat(stale).isInstanceOf(StatusRuntimeException.class);
    assertThat(((StatusRuntimeException) stale).getStatus().getCode())
        .isEqualTo(Status.Code.FAILED_PRECONDITION);

    // The follower claims epoch 1 (older than the new primary's, and not its own): refused.
    long applied = dp.stat(OWNER, newPrimary, vol).getAppliedSequence();
    ManagedChannel ch = peerChannel(follower, newPrimary);
    try {
      assertRefused(
          ReplicaPeerGrpc.newBlockingStub(ch),
          forgedWrite(vol, 1, applied + 1, pattern(16 * 1024)),
          Status.Code.PERMISSION_DENIED,
          "named " + oldPrimary + " primary");
    } finally {
      ch.shutdownNow();
      ch.awaitTermination(5, TimeUnit.SECONDS);
    }
    for (String n : List.of(newPrimary, follower)) {
      assertThat(dp.read(OWNER, n, vol, epoch, 0, first.length)).as("on %s", n).isEqualTo(first);
      assertThat(dp.read(OWNER, n, vol, epoch, 64 * 1024, second.length))
          .as("on %s", n)
          .isEqualTo(second);
    }
    ChildProcess cp = dp.cp.controlPlane;
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> cp.countInStderr(violation(follower, newPrimary, vol, 1)) > 0);
    // The deposed primary was that epoch's primary: stale, not a violation.
    for (String n : NODES) {
      assertThat(
              cp.countInStderr(
                  "peer protocol violation by "
                      + oldPrimary
                      + ": "
                      + n
                      + " refused its write to "
                      + vol))
          .isZero();
    }
    // Deposed either way: a follower's refusal fenced it (it wrote before it heard of the new
    // epoch), or, a member still after the handover, it heard first and refused the write itself.
    assertThat(
            frozen.countInStderr("fenced as primary of " + vol) > 0
                || dp.stat(OWNER, oldPrimary, vol).getEpoch() >= epoch)
        .as("the deposed primary is fenced or knows epoch %d", epoch)
        .isTrue();
  }

  static void awaitEpoch(String vol, List<String> nodes, long epoch, String primary) {
    await()
        .atMost(Duration.ofSeconds(20))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (String n : nodes) {
                VolumeStat s = dp.stat(OWNER, n, vol);
                assertThat(s.getEpoch()).as("epoch on %s", n).isEqualTo(epoch);
                assertThat(s.getPrimaryNodeId()).as("primary on %s", n).isEqualTo(primary);
              }
            });
  }

  static ManagedChannel peerChannel(String as, String to) {
    String address = dp.address(to);
    int colon = address.lastIndexOf(':');
    return NettyChannelBuilder.forAddress(
            address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)))
        .sslContext(dp.cp.storedIdentity(as).clientTls())
        .overrideAuthority(to)
        .build();
  }

  static ReplicaWrite forgedWrite(long epoch, long sequence, byte[] data) {
    return forgedWrite(VOL, epoch, sequence, data);
  }

  static ReplicaWrite forgedWrite(String vol, long epoch, long sequence, byte[] data) {
    return ReplicaWrite.newBuilder()
        .setVolumeId(vol)
        .setEpoch(epoch)
        .setSequence(sequence)
        .setOffset(0)
        .setData(ByteString.copyFrom(data))
        .build();
  }

  static void assertRefused(
      ReplicaPeerGrpc.ReplicaPeerBlockingStub peer,
      ReplicaWrite w,
      Status.Code code,
      String contains) {
    Throwable t = catchThrowable(() -> peer.withDeadlineAfter(30, TimeUnit.SECONDS).apply(w));
    assertThat(t).as("write at epoch %d", w.getEpoch()).isInstanceOf(StatusRuntimeException.class);
    Status s = ((StatusRuntimeException) t).getStatus();
    assertThat(s.getCode()).as("%s", s).isEqualTo(code);
    assertThat(s.getDescription()).contains(contains);
  }
}
