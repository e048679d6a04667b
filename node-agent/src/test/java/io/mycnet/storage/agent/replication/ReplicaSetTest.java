package io.mycnet.storage.agent.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.agent.replica.VolumeReplica;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.ConsistencyLevel;
import io.mycnet.storage.api.v1.ReplicaReport;
import io.mycnet.storage.api.v1.ReplicaWrite;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A replica set in one JVM: a primary and its followers, each a {@link ReplicatedVolume} on its own
 * replica files, connected by {@link InMemoryReplicaLinks}. The primary's STRONG and EVENTUAL
 * paths, a lagging follower, epoch fencing and ReadIndex, with followers that are slow, silent,
 * failing or cut off.
 */
class ReplicaSetTest {
  @TempDir Path dir;
  final InMemoryReplicaLinks links = new InMemoryReplicaLinks();
  final Map<String, List<ReplicaReport>> reports = new ConcurrentHashMap<>();
  final List<ReplicatedVolume> opened = new ArrayList<>();

  @AfterEach
  void close() {
    opened.forEach(ReplicatedVolume::close);
    links.close();
  }

  /** Opens (or reopens, as after a restart) the replica of node {@code nodeId}. */
  ReplicatedVolume node(String nodeId) throws Exception {
    List<ReplicaReport> mine =
        reports.computeIfAbsent(nodeId, n -> Collections.synchronizedList(new ArrayList<>()));
    ReplicaLink link = links.from(nodeId);
    ReplicatedVolume.Context ctx =
        new ReplicatedVolume.Context() {
          @Override
          public String nodeId() {
            return nodeId;
          }

          @Override
          public ReplicaLink link() {
            return link;
          }

          @Override
          public void report(ReplicaReport r) {
            mine.add(r);
          }

          @Override
          public void recordEpoch(String volumeId, long epoch) {}
        };
    ReplicatedVolume v =
        new ReplicatedVolume(VolumeReplica.open("v1", dir.resolve(nodeId), 1 << 20), 1, ctx);
    v.assignmentWaitMs = 200;
    opened.add(v);
    links.register(nodeId, v);
    return v;
  }

  static AssignReplica assign(long epoch, String primary, ConsistencyLevel c, String... members) {
    return ReplicatedVolumeTest.assign(epoch, primary, members).toBuilder()
        .setConsistency(c)
        .build();
  }

  static final ConsistencyLevel STRONG = ConsistencyLevel.CONSISTENCY_LEVEL_STRONG;
  static final ConsistencyLevel EVENTUAL = ConsistencyLevel.CONSISTENCY_LEVEL_EVENTUAL;

  static byte[] block(int fill) {
    byte[] b = new byte[4096];
    java.util.Arrays.fill(b, (byte) fill);
    return b;
  }

  static void assertStatus(ThrowingCallable call, Status.Code code, String contains) {
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(code);
              assertThat(e.getStatus().getDescription()).contains(contains);
            });
  }

  List<ReplicaReport> reportsOf(String nodeId, ReplicaReport.Kind kind) {
    synchronized (reports.get(nodeId)) {
      return reports.get(nodeId).stream().filter(r -> r.getKind() == kind).toList();
    }
  }

  /** Three replicas, p1 primary at epoch 1. */
  List<ReplicatedVolume> set(ConsistencyLevel c) throws Exception {
    List<ReplicatedVolume> vs = List.of(node("p1"), node("f1"), node("f2"));
    for (ReplicatedVolume v : vs) {
      v.assign(assign(1, "p1", c, "p1", "f1", "f2"));
    }
    return vs;
  }

  static ReplicaWrite forwarded(long seq, long offset, byte[] data) {
    return ReplicaWrite.newBuilder()
        .setVolumeId("v1")
        .setEpoch(1)
        .setSequence(seq)
        .setOffset(offset)
        .setData(com.google.protobuf.ByteString.copyFrom(data))
        .build();
  }

  @Test
  void aRebuildKeepsOnlyTheWritesThatArriveWhileAChunkAskedForBeforeThemIsOnItsWay()
      throws Exception {
    List<ReplicatedVolume> vs = set(EVENTUAL);
    ReplicatedVolume source = vs.get(0);
    ReplicatedVolume target = vs.get(2);
    target.beginAttach();
    target.attached(0);
    // Applied before the chunk is asked for: the answer must include it; nothing is kept.
    target.apply("p1", forwarded(1, 0, block(1)));
    assertThat(target.catchUpBytes()).isZero();
    assertThat(target.asking(0, 1 << 20)).isEqualTo(1);
    // Arrives while the chunk is on its way: kept, and re-applied over the chunk once stored.
    target.apply("p1", forwarded(2, 4096, block(2)));
    assertThat(target.catchUpBytes()).isEqualTo(4096);
    source.replica().write(0, block(1)); // the source's state at sequence 1
    long[] entries = new long[256];
    byte[] chunk = source.replica().readChunk(0, 1 << 20, entries);
    assertThat(target.storeCopied(0, chunk, entries)).isTrue();
    assertThat(target.replica().read(0, 4096)).isEqualTo(block(1));
    assertThat(target.replica().read(4096, 4096)).isEqualTo(block(2));
    // No chunk on its way any more: nothing is kept.
    assertThat(target.catchUpBytes()).isZero();
    target.apply("p1", forwarded(3, 8192, block(3)));
    assertThat(target.catchUpBytes()).isZero();
    assertThat(target.catchUpPeakBytes()).isEqualTo(4096);

    // Beyond the bound a write is not kept; the chunk it touches must be asked for again.
    target.catchUpMaxBytes = 4096;
    assertThat(target.asking(0, 1 << 20)).isEqualTo(3);
    target.apply("p1", forwarded(4, 0, block(4)));
    target.apply("p1", forwarded(5, 4096, block(5)));
    assertThat(target.catchUpBytes()).isEqualTo(4096);
    assertThat(target.storeCopied(0, chunk, entries)).isFalse();
    assertThat(target.catchUpBytes()).isZero();
    // Nothing was stored: the forwarded writes stand.
    assertThat(target.replica().read(0, 4096)).isEqualTo(block(4));
    assertThat(target.replica().read(4096, 4096)).isEqualTo(block(5));
    assertThat(target.replica().read(8192, 4096)).isEqualTo(block(3));
    // Asked for again (the answer now includes every write): stored.
    assertThat(target.asking(0, 1 << 20)).isEqualTo(5);
    source.replica().write(0, block(4));
    source.replica().write(4096, block(5));
    source.replica().write(8192, block(3));
    chunk = source.replica().readChunk(0, 1 << 20, entries);
    assertThat(target.storeCopied(0, chunk, entries)).isTrue();
    assertThat(target.replica().read(0, 3 * 4096)).isEqualTo(source.replica().read(0, 3 * 4096));
    target.endRebuild(true);
  }

  @Test
  void aStrongWriteIsAcknowledgedOnlyWhenEveryInSyncFollowerMadeItDurable() throws Exception {
    List<ReplicatedVolume> vs = set(STRONG);
    ReplicatedVolume p1 = vs.get(0), f1 = vs.get(1), f2 = vs.get(2);
    links.delay("f2", 300);
    ReplicatedVolume.Written w = p1.primaryWrite(0, block(7), 0);
    assertThat(w.sequence()).isEqualTo(1);
    assertThat(w.durable()).isEqualTo(3);
    // Acknowledged: the slow follower has it already.
    assertThat(f2.appliedSequence()).isEqualTo(1);
    assertThat(f2.replica().read(0, 4096)).isEqualTo(block(7));
    assertThat(f1.replica().read(0, 4096)).isEqualTo(block(7));
    assertThat(p1.outOfSync()).isEmpty();
    // Zeroing is forwarded the same way.
    assertThat(p1.primaryWrite(0, null, 4096).durable()).isEqualTo(3);
    assertThat(f2.replica().read(0, 4096)).isEqualTo(new byte[4096]);
    assertThat(reports.get("p1")).isEmpty();
  }

  @Test
  void aFailingFollowerIsMarkedOutOfSyncDurablyBeforeTheWriteIsAcknowledgedWithoutIt()
      throws Exception {
    List<ReplicatedVolume> vs = set(STRONG);
    ReplicatedVolume p1 = vs.get(0), f2 = vs.get(2);
    links.fail("f2", Status.INTERNAL.withDescription("disk failed"));
    ReplicatedVolume.Written w = p1.primaryWrite(0, block(1), 0);
    assertThat(w.durable()).isEqualTo(2);
    assertThat(p1.outOfSync()).containsExactly("f2");
    assertThat(Files.readString(dir.resolve("p1").resolve(ReplicatedVolume.OUT_OF_SYNC_FILE)))
        .isEqualTo("f2\n");
    List<ReplicaReport> r = reportsOf("p1", ReplicaReport.Kind.REPLICA_OUT_OF_SYNC);
    assertThat(r).hasSize(1);
    assertThat(r.get(0).getNodeId()).isEqualTo("f2");
    assertThat(r.get(0).getMessage()).contains("write 1", "INTERNAL", "disk failed");
    assertThat(f2.appliedSequence()).isZero();
    // Not forwarded to again (it would wait for write 1 forever), not in the in-sync set.
    links.heal();
    int before = links.applyCalls();
    assertThat(p1.primaryWrite(4096, block(2), 0).durable()).isEqualTo(2);
    assertThat(links.applyCalls() - before).isEqualTo(1);
    assertThat(p1.readIndex("f1").getInSyncNodeIdsList()).containsExactly("p1", "f1");
  }

  @Test
  void aSilentFollowerIsMarkedOutOfSyncWhenItsDeadlinePasses() throws Exception {
    List<ReplicatedVolume> vs = set(STRONG);
    ReplicatedVolume p1 = vs.get(0);
    p1.forwardDeadlineMs = 300;
    links.drop("f1");
    assertThat(p1.primaryWrite(0, block(3), 0).durable()).isEqualTo(2);
    assertThat(p1.outOfSync()).containsExactly("f1");
    assertThat(reportsOf("p1", ReplicaReport.Kind.REPLICA_OUT_OF_SYNC).get(0).getMessage())
        .contains("DEADLINE_EXCEEDED");
  }

  @Test
  void aStrongPrimaryCutOffFromTheMajorityDoesNotAcknowledge() throws Exception {
    ReplicatedVolume p1 = set(STRONG).get(0);
    links.partition("p1", "f1");
    links.partition("p1", "f2");
    assertStatus(
        () -> p1.primaryWrite(0, block(1), 0),
        Status.Code.UNAVAILABLE,
        "durable on 1 of 3 replicas, fewer than the majority of 2");
    assertThat(p1.outOfSync()).containsExactlyInAnyOrder("f1", "f2");
  }

  @Test
  void anEventualWriteIsAcknowledgedByThePrimaryAndFollowersCatchUpInOrder() throws Exception {
    List<ReplicatedVolume> vs = set(EVENTUAL);
    ReplicatedVolume p1 = vs.get(0), f1 = vs.get(1), f2 = vs.get(2);
    p1.forwardDeadlineMs = 120_000;
    links.hold("f1");
    for (int i = 1; i <= 3; i++) {
      ReplicatedVolume.Written w = p1.primaryWrite(0, block(i), 0);
      assertThat(w.sequence()).isEqualTo(i);
      assertThat(w.durable()).isEqualTo(1);
    }
    assertThat(f1.appliedSequence()).isZero();
    // Released newest first: f1 applies 1, 2, 3 in order all the same.
    links.release("f1");
    await().atMost(Duration.ofSeconds(30)).until(() -> f1.appliedSequence() == 3);
    await().atMost(Duration.ofSeconds(30)).until(() -> f2.appliedSequence() == 3);
    assertThat(f1.replica().read(0, 4096)).isEqualTo(block(3));
    assertThat(f2.replica().read(0, 4096)).isEqualTo(block(3));
    assertThat(p1.outOfSync()).isEmpty();
    assertThat(reports.get("f1")).isEmpty();
  }

  @Test
  void aLaggingFollowerRefusesReadsUntilItCaughtUp() throws Exception {
    List<ReplicatedVolume> vs = set(EVENTUAL);
    ReplicatedVolume p1 = vs.get(0), f1 = vs.get(1);
    p1.forwardDeadlineMs = 120_000;
    p1.primaryWrite(0, block(1), 0);
    await().atMost(Duration.ofSeconds(30)).until(() -> f1.appliedSequence() == 1);
    f1.checkReadable();
    links.hold("f1");
    p1.primaryWrite(0, block(2), 0);
    p1.primaryWrite(4096, block(3), 0);
    // The primary counts it in sync, but it has not applied the primary's last write.
    ReplicatedVolumeTest.assertRefused(f1, "has applied writes up to 1, the primary up to 3");
    assertThat(f1.replica().read(0, 4096)).isEqualTo(block(1));
    links.release("f1");
    await().atMost(Duration.ofSeconds(30)).until(() -> f1.appliedSequence() == 3);
    f1.checkReadable();
    assertThat(f1.replica().read(4096, 4096)).isEqualTo(block(3));
  }

  @Test
  void aPrimaryAtAStaleEpochHasItsWriteRefusedAndStandsDown() throws Exception {
    List<ReplicatedVolume> vs = set(STRONG);
    ReplicatedVolume p1 = vs.get(0), f1 = vs.get(1), f2 = vs.get(2);
    p1.primaryWrite(0, block(1), 0);
    // Epoch 2 makes f1 the primary; p1 has not heard of it.
    f1.assign(assign(2, "f1", STRONG, "f1", "f2", "p1"));
    f2.assign(assign(2, "f1", STRONG, "f1", "f2", "p1"));
    assertStatus(
        () -> p1.primaryWrite(0, block(9), 0),
        Status.Code.FAILED_PRECONDITION,
        "lost the primary role");
    assertThat(p1.fenced()).isTrue();
    assertThat(p1.isPrimary()).isFalse();
    assertThat(p1.readIndex("f2").getPrimary()).isFalse();
    ReplicatedVolumeTest.assertRefused(p1, "lost the primary role", "stale epoch");
    assertThat(f1.replica().read(0, 4096)).isEqualTo(block(1));
    assertThat(f2.replica().read(0, 4096)).isEqualTo(block(1));
    // Deposed, not accused; the new primary writes on.
    assertThat(reportsOf("f1", ReplicaReport.Kind.PEER_PROTOCOL_VIOLATION)).isEmpty();
    assertThat(f1.primaryWrite(0, block(4), 0).durable()).isEqualTo(2);
    assertThat(f2.replica().read(0, 4096)).isEqualTo(block(4));
  }

  @Test
  void aFollowerRefusesAWriteFromANodeThatIsNotThePrimaryAtTheSameEpoch() throws Exception {
    ReplicatedVolume f1 = node("f1");
    ReplicatedVolume f2 = node("f2");
    f2.assign(assign(1, "p1", STRONG, "p1", "f1", "f2"));
    // f1 acts on an assignment of epoch 1 the control plane never made.
    f1.assign(assign(1, "f1", STRONG, "f1", "f2"));
    // Refused by the only other replica: not durable on a majority, not acknowledged.
    assertStatus(
        () -> f1.primaryWrite(0, block(9), 0), Status.Code.UNAVAILABLE, "durable on 1 of 2");
    assertThat(f2.appliedSequence()).isZero();
    assertThat(f2.replica().read(0, 4096)).isEqualTo(new byte[4096]);
    List<ReplicaReport> r = reportsOf("f2", ReplicaReport.Kind.PEER_PROTOCOL_VIOLATION);
    assertThat(r).hasSize(1);
    assertThat(r.get(0).getNodeId()).isEqualTo("f1");
    assertThat(r.get(0).getMessage()).contains("names p1 primary");
    // Refused as a forgery, not as a stale epoch: the sender is not fenced, f2 is out of sync.
    assertThat(f1.fenced()).isFalse();
    assertThat(f1.outOfSync()).containsExactly("f2");
  }

  @Test
  void aFollowerServesReadsOnlyWhileItsPrimaryConfirmsIt() throws Exception {
    List<ReplicatedVolume> vs = set(STRONG);
    ReplicatedVolume p1 = vs.get(0), f1 = vs.get(1);
    p1.primaryWrite(0, block(5), 0);
    f1.checkReadable();
    links.partition("f1", "p1");
    ReplicatedVolumeTest.assertRefused(f1, "could not confirm it: UNAVAILABLE");
    links.heal();
    links.drop("p1");
    ReplicatedVolumeTest.assertRefused(f1, "could not confirm it: DEADLINE_EXCEEDED");
    links.heal();
    // The primary counts f2 out of sync: f2 refuses reads.
    links.fail("f2", Status.UNAVAILABLE);
    p1.primaryWrite(0, block(6), 0);
    links.heal();
    f1.checkReadable();
    ReplicatedVolumeTest.assertRefused(vs.get(2), "counts it out of sync");
  }

  @Test
  void aRestartedPrimaryServesOnlyWhenAMajorityConfirmsItsRole() throws Exception {
    List<ReplicatedVolume> vs = set(STRONG);
    vs.get(0).primaryWrite(0, block(1), 0);
    vs.get(0).close();
    ReplicatedVolume p1 = node("p1"); // its assignment read from disk
    links.partition("p1", "f1");
    links.partition("p1", "f2");
    ReplicatedVolumeTest.assertRefused(p1, "not confirmed (1 of 3 replicas agree)");
    assertThat(p1.readIndex("f1").getPrimary()).isFalse();
    links.heal();
    links.partition("p1", "f2");
    p1.checkReadable(); // p1 and f1 are a majority
    assertThat(p1.readIndex("f1").getPrimary()).isTrue();
  }

  @Test
  void aRestartedPrimaryDeposedMeanwhileIsNotConfirmed() throws Exception {
    List<ReplicatedVolume> vs = set(STRONG);
    vs.get(0).close();
    vs.get(1).assign(assign(2, "f1", STRONG, "f1", "f2", "p1"));
    ReplicatedVolume p1 = node("p1");
    ReplicatedVolumeTest.assertRefused(p1, "f1 is at epoch 2");
  }

  /** 4 KiB naming its writer and write, so the last write to a block is recognisable. */
  static byte[] stamped(int writer, int i) {
    byte[] b = new byte[4096];
    new java.util.Random(writer * 1000L + i).nextBytes(b);
    return b;
  }

  @Test
  void concurrentStrongWritesAreDurableEverywhereAndFollowersApplyThemInOrder() throws Exception {
    List<ReplicatedVolume> vs = set(STRONG);
    ReplicatedVolume p1 = vs.get(0);
    int writers = 16;
    int each = 8;
    // Every write goes to block 0 and to the writer's own block: the last write in the primary's
    // order must be what every replica holds at block 0.
    Map<Long, byte[]> bySequence = new ConcurrentHashMap<>();
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(writers);
    try {
      java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(writers);
      List<java.util.concurrent.Future<Void>> done = new ArrayList<>();
      for (int t = 0; t < writers; t++) {
        int writer = t;
        done.add(
            pool.submit(
                () -> {
                  start.await(60, java.util.concurrent.TimeUnit.SECONDS);
                  for (int i = 0; i < each; i++) {
                    byte[] b = stamped(writer, i);
                    ReplicatedVolume.Written w = p1.primaryWrite(0, b, 0);
                    assertThat(w.durable()).isEqualTo(3);
                    bySequence.put(w.sequence(), b);
                    ReplicatedVolume.Written own =
                        p1.primaryWrite((long) (1 + writer) * 4096, b, 0);
                    assertThat(own.durable()).isEqualTo(3);
                  }
                  return null;
                }));
      }
      for (java.util.concurrent.Future<Void> f : done) {
        f.get(120, java.util.concurrent.TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    int total = writers * each * 2;
    assertThat(bySequence).hasSize(writers * each);
    byte[] last = bySequence.get(java.util.Collections.max(bySequence.keySet()));
    for (ReplicatedVolume v : vs) {
      assertThat(v.appliedSequence()).isEqualTo(total);
    }
    assertThat(p1.outOfSync()).isEmpty();
    assertThat(reports.get("p1")).isEmpty();
    // Acknowledged means durable: reopened from their files, all three hold the same bytes.
    opened.forEach(ReplicatedVolume::close);
    for (String node : List.of("p1", "f1", "f2")) {
      try (VolumeReplica r = VolumeReplica.open("v1", dir.resolve(node), 1 << 20)) {
        assertThat(r.read(0, 4096)).as(node).isEqualTo(last);
        for (int t = 0; t < writers; t++) {
          assertThat(r.read((long) (1 + t) * 4096, 4096))
              .as("%s block of writer %d", node, t)
              .isEqualTo(stamped(t, each - 1));
        }
        assertThat(r.scrub()).isEmpty();
      }
    }
  }
}
