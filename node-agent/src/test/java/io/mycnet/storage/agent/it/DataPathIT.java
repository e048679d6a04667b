package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.AccessGrant;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.ReadRequest;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaRole;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.StatRequest;
import io.mycnet.storage.api.v1.TrimRequest;
import io.mycnet.storage.api.v1.VolumeIoGrpc;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.api.v1.WriteRequest;
import io.mycnet.storage.api.v1.WriteResponse;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The replica data path end to end: the production control plane and four agents (four zones) as
 * separate processes against a real etcd; a STRONG 3-replica volume allocated through the real
 * allocation path (the test drives the storage manager against the same etcd, as the claim
 * reconciler would; the control plane's replication loop decides rebuilds; every node brings a
 * vetted history, CRITICAL); a client with a {@code client:<namespace>} certificate of the control
 * plane's CA over mutual TLS to the agents' data ports.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DataPathIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "fleet1.0123456789abcdef";
  // A claim's volume id is <namespace>.<claim>; its owner's store id <namespace>.<name>.
  static final String VOL = "dp.vol";
  static final int SIZE = 8 << 20;
  static final String OWNER = "dp.app";
  static final String VIEWER = "dp.viewer";
  static final String STRANGER = "dp.other";
  static final List<String> NODES = List.of("d1", "d2", "d3", "d4");

  @TempDir static Path dir;
  static DataPathCluster dp;
  static ControlPlaneFixture cp;
  static Map<String, ChildProcess> agents;
  static TrustAwareStorageManager manager;
  static ReplicationManager replication;
  static Allocation alloc;
  static String primary;
  static List<String> followers;
  static String spare;

  /** The volume's content as acknowledged writes made it. */
  static final byte[] model = new byte[SIZE];

  static final SecureRandom random = new SecureRandom();

  @BeforeAll
  static void start() throws Exception {
    dp =
        new DataPathCluster(
            dir,
            ETCD,
            TOKEN,
            NODES,
            Duration.ofSeconds(15),
            "datapath-it-logs",
            "--scrub-interval=1s",
            "--rebuild-bandwidth=4MiB");
    cp = dp.cp;
    agents = dp.agents;
    manager = dp.manager;
    replication = dp.replication;
    manager.putNamespace(
        NamespaceRecord.newBuilder()
            .setNamespace(OWNER)
            .addShares(
                AccessGrant.newBuilder().setClaim("vol").setNamespace(VIEWER).setReadOnly(true))
            .build());
  }

  @AfterAll
  static void stopAll() throws Exception {
    if (dp != null) {
      dp.close();
    }
  }

  // ---- client helpers ----

  static VolumeIoGrpc.VolumeIoBlockingStub io(String namespace, String node) {
    return dp.io(namespace, node);
  }

  static VolumeStat stat(String ns, String node) {
    return dp.stat(ns, node, VOL);
  }

  static byte[] read(String ns, String node, long epoch, long offset, long length) {
    return dp.read(ns, node, VOL, epoch, offset, length);
  }

  static WriteResponse write(String ns, String node, long epoch, long offset, byte[] data) {
    return dp.write(ns, node, VOL, epoch, offset, data);
  }

  /** A write as the owner on the primary, acknowledged by {@code expectDurable} replicas. */
  static long ownerWrite(long epoch, long offset, byte[] data, int expectDurable) {
    WriteResponse r = write(OWNER, primary, epoch, offset, data);
    assertThat(r.getDurableReplicas()).isEqualTo(expectDurable);
    System.arraycopy(data, 0, model, (int) offset, data.length);
    return r.getSequence();
  }

  static byte[] pattern(int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  static void assertCode(Status.Code code, Runnable call) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(code));
  }

  /** Every byte of the replica on {@code node} equals the model. */
  static void assertWholeVolumeMatches(String node, long epoch) {
    int step = 1 << 20;
    for (int off = 0; off < SIZE; off += step) {
      byte[] got = read(OWNER, node, epoch, off, step);
      byte[] want = Arrays.copyOfRange(model, off, off + step);
      int diff = Arrays.mismatch(got, want);
      assertThat(diff)
          .as("first differing byte in %d+%d on %s (-1: none)", off, step, node)
          .isEqualTo(-1);
    }
  }

  static Allocation allocation() {
    return manager.get(VOL).orElseThrow();
  }

  /**
   * The allocation once the volume is quiet: every replica HEALTHY and every holder serving its
   * epoch with the role it names. A control plane restart or an earlier scenario's catch-up may
   * have moved the epoch (and the primary): a scenario that injects a fault starts from here.
   */
  static Allocation quiet() {
    Allocation[] seen = new Allocation[1];
    await()
        .atMost(Duration.ofSeconds(60))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              Allocation a = allocation();
              seen[0] = a;
              assertThat(a.getReplicasList())
                  .as("replicas of %s", VOL)
                  .allSatisfy(
                      r -> assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_HEALTHY));
              for (Replica r : a.getReplicasList()) {
                VolumeStat s = stat(OWNER, r.getNodeId());
                assertThat(s.getEpoch()).as("epoch on %s", r.getNodeId()).isEqualTo(a.getEpoch());
                assertThat(s.getRole())
                    .as("role on %s", r.getNodeId())
                    .isEqualTo(
                        r.getNodeId().equals(a.getPrimaryNodeId())
                            ? ReplicaRole.REPLICA_ROLE_PRIMARY
                            : ReplicaRole.REPLICA_ROLE_FOLLOWER);
              }
            });
    return seen[0];
  }

  static long primaryEpoch() {
    return stat(OWNER, primary).getEpoch();
  }

  // ---- the scenarios ----

  @Test
  @Order(1)
  void strongVolumeIsAllocatedAndEveryReplicaHoldsItsAssignment() {
    alloc =
        manager.allocate(
            StorageRequest.of(VOL, OWNER, "default", SIZE, StorageType.CONSENSUS)
                .withConsistency(ConsistencyLevel.STRONG));
    assertThat(alloc.getReplicasCount()).isEqualTo(3);
    assertThat(alloc.getReplicasList().stream().map(Replica::getTopologyPath))
        .as("three distinct zones")
        .extracting(p -> p.split("/")[1])
        .doesNotHaveDuplicates();
    primary = alloc.getPrimaryNodeId();
    List<String> holders = alloc.getReplicasList().stream().map(Replica::getNodeId).toList();
    followers = holders.stream().filter(n -> !n.equals(primary)).toList();
    spare = NODES.stream().filter(n -> !holders.contains(n)).findFirst().orElseThrow();
    await()
        .atMost(Duration.ofSeconds(20))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (String n : holders) {
                VolumeStat s = stat(OWNER, n);
                assertThat(s.getEpoch()).isEqualTo(1);
                assertThat(s.getSizeBytes()).isEqualTo(SIZE);
                assertThat(s.getNamespace()).isEqualTo(OWNER);
                assertThat(s.getPrimaryNodeId()).isEqualTo(primary);
                assertThat(s.getRole())
                    .isEqualTo(
                        n.equals(primary)
                            ? ReplicaRole.REPLICA_ROLE_PRIMARY
                            : ReplicaRole.REPLICA_ROLE_FOLLOWER);
                assertThat(s.getConsistency())
                    .isEqualTo(io.mycnet.storage.api.v1.ConsistencyLevel.CONSISTENCY_LEVEL_STRONG);
                assertThat(cp.queue.pending(n)).isEmpty();
              }
            });
    // The spare holds nothing.
    assertCode(Status.Code.NOT_FOUND, () -> stat(OWNER, spare));
  }

  @Test
  @Order(2)
  void writesAreDurableOnEveryReplicaAndReadBackByteIdenticalFromEach() {
    assertThat(ownerWrite(1, 12_388, pattern(64 * 1024), 3)).isEqualTo(1); // unaligned
    assertThat(ownerWrite(1, 2 << 20, pattern(1 << 20), 3)).isEqualTo(2); // one aligned chunk
    assertThat(ownerWrite(1, SIZE - 5000, pattern(5000), 3)).isEqualTo(3); // the last bytes
    assertThat(ownerWrite(1, 12_388 + 1000, pattern(10), 3)).isEqualTo(4); // inside a block
    // A trim zeroes a range (forwarded like a write).
    WriteResponse trimmed =
        io(OWNER, primary)
            .trim(
                TrimRequest.newBuilder()
                    .setVolumeId(VOL)
                    .setEpoch(1)
                    .setOffset((2 << 20) + 8192)
                    .setLength(4096)
                    .build());
    assertThat(trimmed.getSequence()).isEqualTo(5);
    assertThat(trimmed.getDurableReplicas()).isEqualTo(3);
    Arrays.fill(model, (2 << 20) + 8192, (2 << 20) + 8192 + 4096, (byte) 0);
    for (String n : allocation().getReplicasList().stream().map(Replica::getNodeId).toList()) {
      assertThat(read(OWNER, n, 1, 12_388, 64 * 1024))
          .isEqualTo(Arrays.copyOfRange(model, 12_388, 12_388 + 64 * 1024));
      assertThat(read(OWNER, n, 1, (2 << 20) + 8192, 4096)).isEqualTo(new byte[4096]);
      assertWholeVolumeMatches(n, 1);
      assertThat(stat(OWNER, n).getAppliedSequence()).isEqualTo(5);
    }
  }

  @Test
  @Order(3)
  void aReadOnlyShareReadsButCannotWriteAndOtherNamespacesCannotRead() {
    for (String n : followers) {
      assertThat(read(VIEWER, n, 1, 2 << 20, 4096))
          .isEqualTo(Arrays.copyOfRange(model, 2 << 20, (2 << 20) + 4096));
    }
    assertCode(Status.Code.PERMISSION_DENIED, () -> write(VIEWER, primary, 1, 0, pattern(100)));
    assertCode(
        Status.Code.PERMISSION_DENIED,
        () ->
            io(VIEWER, primary)
                .trim(
                    TrimRequest.newBuilder()
                        .setVolumeId(VOL)
                        .setEpoch(1)
                        .setOffset(0)
                        .setLength(4096)
                        .build()));
    assertCode(Status.Code.PERMISSION_DENIED, () -> read(STRANGER, primary, 1, 0, 4096));
    assertCode(Status.Code.PERMISSION_DENIED, () -> stat(STRANGER, followers.get(0)));
    assertCode(Status.Code.PERMISSION_DENIED, () -> write(STRANGER, primary, 1, 0, pattern(10)));
    for (String n : allocation().getReplicasList().stream().map(Replica::getNodeId).toList()) {
      assertThat(stat(OWNER, n).getAppliedSequence()).isEqualTo(5);
      assertWholeVolumeMatches(n, 1);
    }
  }

  @Test
  @Order(4)
  void badRequestsAreRefusedWithTheirCodesAndChangeNothing() {
    assertCode(Status.Code.INVALID_ARGUMENT, () -> read(OWNER, primary, 1, SIZE, 1));
    assertCode(Status.Code.INVALID_ARGUMENT, () -> read(OWNER, primary, 1, SIZE + 4096L, 10));
    assertCode(Status.Code.INVALID_ARGUMENT, () -> read(OWNER, primary, 1, -1, 10));
    assertCode(Status.Code.INVALID_ARGUMENT, () -> read(OWNER, primary, 1, 0, -1));
    assertCode(
        Status.Code.INVALID_ARGUMENT, () -> write(OWNER, primary, 1, SIZE - 10, pattern(100)));
    assertCode(
        Status.Code.INVALID_ARGUMENT,
        () ->
            io(OWNER, primary)
                .trim(
                    TrimRequest.newBuilder()
                        .setVolumeId(VOL)
                        .setEpoch(1)
                        .setOffset(0)
                        .setLength(-4096)
                        .build()));
    assertCode(
        Status.Code.NOT_FOUND,
        () ->
            io(OWNER, primary)
                .read(
                    ReadRequest.newBuilder()
                        .setVolumeId("vol-unknown")
                        .setEpoch(1)
                        .setLength(1)
                        .build()));
    assertCode(
        Status.Code.NOT_FOUND,
        () ->
            io(OWNER, primary)
                .write(
                    WriteRequest.newBuilder()
                        .setVolumeId("vol-unknown")
                        .setEpoch(1)
                        .setData(ByteString.copyFrom(pattern(10)))
                        .build()));
    assertCode(Status.Code.FAILED_PRECONDITION, () -> write(OWNER, primary, 0, 0, pattern(4096)));
    assertCode(Status.Code.FAILED_PRECONDITION, () -> read(OWNER, primary, 0, 0, 4096));
    assertCode(Status.Code.FAILED_PRECONDITION, () -> write(OWNER, primary, 2, 0, pattern(4096)));
    // A follower is not the primary: it takes no client writes.
    assertCode(
        Status.Code.FAILED_PRECONDITION, () -> write(OWNER, followers.get(0), 1, 0, pattern(10)));
    for (String n : allocation().getReplicasList().stream().map(Replica::getNodeId).toList()) {
      assertThat(stat(OWNER, n).getAppliedSequence()).isEqualTo(5);
      assertWholeVolumeMatches(n, 1);
    }
  }

  @Test
  @Order(5)
  void anEventualVolumeReachesEveryReplicaAfterTheAnswerAndIsDeletedOnRelease() {
    String vol = "vol-ev";
    Allocation ev =
        manager.allocate(StorageRequest.of(vol, OWNER, "default", 1 << 20, StorageType.SERVICE));
    assertThat(ev.getConsistency())
        .isEqualTo(io.mycnet.storage.api.v1.ConsistencyLevel.CONSISTENCY_LEVEL_EVENTUAL);
    List<String> holders = ev.getReplicasList().stream().map(Replica::getNodeId).toList();
    await()
        .atMost(Duration.ofSeconds(20))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (String n : holders) {
                assertThat(
                        io(OWNER, n)
                            .stat(StatRequest.newBuilder().setVolumeId(vol).build())
                            .getPrimaryNodeId())
                    .isEqualTo(ev.getPrimaryNodeId());
              }
            });
    byte[] expected = new byte[1 << 20];
    for (int i = 0; i < 8; i++) {
      byte[] b = pattern(50_000);
      WriteResponse r =
          io(OWNER, ev.getPrimaryNodeId())
              .write(
                  WriteRequest.newBuilder()
                      .setVolumeId(vol)
                      .setEpoch(1)
                      .setOffset(i * 100_000L)
                      .setData(ByteString.copyFrom(b))
                      .build());
      assertThat(r.getDurableReplicas()).isEqualTo(1); // answered after the primary's write
      assertThat(r.getSequence()).isEqualTo(i + 1);
      System.arraycopy(b, 0, expected, i * 100_000, b.length);
    }
    // The follower gets every write in order, after the answers.
    await()
        .atMost(Duration.ofSeconds(10))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (String n : holders) {
                byte[] got =
                    io(OWNER, n)
                        .read(
                            ReadRequest.newBuilder()
                                .setVolumeId(vol)
                                .setEpoch(1)
                                .setLength(1 << 20)
                                .build())
                        .getData()
                        .toByteArray();
                assertThat(Arrays.mismatch(got, expected)).as("on %s", n).isEqualTo(-1);
              }
            });
    assertThat(
            io(OWNER, ev.getPrimaryNodeId())
                .stat(StatRequest.newBuilder().setVolumeId(vol).build())
                .getOutOfSyncList())
        .isEmpty();
    manager.release(vol);
    await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () -> {
              for (String n : holders) {
                assertCode(
                    Status.Code.NOT_FOUND,
                    () -> io(OWNER, n).stat(StatRequest.newBuilder().setVolumeId(vol).build()));
              }
            });
  }

  @Test
  @Order(6)
  void aKilledReplicaIsRebuiltOnAFourthNodeWithEveryAcknowledgedWrite() throws Exception {
    String victim = followers.get(1);
    String survivor = followers.get(0);
    agents.get(victim).kill();
    // Two of three durable is a majority: acknowledged, the dead follower marked out of sync.
    ownerWrite(1, 100_000, pattern(300_000), 2);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> stat(OWNER, primary).getOutOfSyncList().contains(victim));

    // The control plane's replication loop notices (lease gone, then the grace period) and starts
    // a rebuild on the spare.
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(300))
        .until(
            () ->
                allocation().getReplicasList().stream()
                    .anyMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING));
    Allocation rebuilding = allocation();
    assertThat(rebuilding.getReplicasList())
        .anySatisfy(
            r -> {
              assertThat(r.getNodeId()).isEqualTo(spare);
              assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_REBUILDING);
            });

    // Writes keep coming while the spare is rebuilt; only acknowledged ones are expected.
    AtomicBoolean stop = new AtomicBoolean();
    List<long[]> unacknowledged = new ArrayList<>();
    int[] acked = new int[1];
    Thread writer =
        new Thread(
            () -> {
              int slot = 0;
              while (!stop.get() && slot < 40) {
                long off = (5L << 20) + slot * 65_536L + 7;
                byte[] data = pattern(65_536 - 14);
                try {
                  WriteResponse r = write(OWNER, primary, primaryEpoch(), off, data);
                  synchronized (model) {
                    System.arraycopy(data, 0, model, (int) off, data.length);
                    acked[0]++;
                  }
                  assertThat(r.getDurableReplicas()).isGreaterThanOrEqualTo(2);
                } catch (StatusRuntimeException e) {
                  synchronized (model) {
                    unacknowledged.add(new long[] {off, data.length});
                  }
                }
                slot++;
                try {
                  Thread.sleep(50);
                } catch (InterruptedException e) {
                  return;
                }
              }
            },
            "writer");
    writer.start();
    try {
      // The spare copies, catches up, reports in sync; completeRebuild counts it healthy and
      // retires the dead replica.
      dp.awaitReplaced(VOL, spare, victim, Duration.ofSeconds(30));
    } finally {
      stop.set(true);
      writer.join(20_000);
    }
    assertThat(acked[0]).isGreaterThan(0);
    Allocation done = allocation();
    long epoch = done.getEpoch();
    assertThat(epoch).isGreaterThanOrEqualTo(3);
    assertThat(done.getReplicasList())
        .extracting(Replica::getNodeId)
        .containsExactlyInAnyOrder(primary, survivor, spare);
    await()
        .atMost(Duration.ofSeconds(15))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (String n : List.of(primary, survivor, spare)) {
                VolumeStat s = stat(OWNER, n);
                assertThat(s.getEpoch()).isEqualTo(epoch);
                assertThat(s.getRole())
                    .isEqualTo(
                        n.equals(primary)
                            ? ReplicaRole.REPLICA_ROLE_PRIMARY
                            : ReplicaRole.REPLICA_ROLE_FOLLOWER);
              }
            });
    // Unacknowledged writes (refused for a stale epoch while the epoch moved) may or may not have
    // landed: take their slots from the primary, then every byte of every replica must match.
    synchronized (model) {
      for (long[] u : unacknowledged) {
        byte[] b = read(OWNER, primary, epoch, u[0], u[1]);
        System.arraycopy(b, 0, model, (int) u[0], b.length);
      }
    }
    for (String n : List.of(spare, survivor, primary)) {
      assertWholeVolumeMatches(n, epoch);
    }
    // The rebuilt replica is a full member: a new write is durable on all three.
    ownerWrite(epoch, 3 << 20, pattern(8192), 3);
    assertThat(read(OWNER, spare, epoch, 3 << 20, 8192))
        .isEqualTo(Arrays.copyOfRange(model, 3 << 20, (3 << 20) + 8192));
    // The old epoch is refused now.
    assertCode(Status.Code.FAILED_PRECONDITION, () -> write(OWNER, primary, 1, 0, pattern(10)));
    alloc = done;
  }

  @Test
  @Order(7)
  void aBlockRewrittenWithAMatchingChecksumPassesReadsButFailsTheAudit() throws Exception {
    // The control plane again, now auditing every volume every second (same ports: the agents
    // reconnect on their own).
    int session = cp.sessionPort;
    int join = cp.joinPort;
    cp.controlPlane.stop(ControlPlaneFixture.STOP_GRACE);
    cp.startControlPlane(
        "MYCNET_SESSION_PORT=" + session, "MYCNET_JOIN_PORT=" + join, "MYCNET_AUDIT_INTERVAL=1s");
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> cp.controlPlane.countInStderr("audit of " + VOL + ": all agree []") > 0);
    Allocation q = quiet();
    long epoch = q.getEpoch();
    String node =
        q.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(q.getPrimaryNodeId()) && !n.equals(spare))
            .findFirst()
            .orElseThrow();
    // Bytes and checksum changed together (bit rot the checksum cannot see, or a dishonest node).
    long block = (2 << 20) / 4096 + 1;
    byte[] bad = Arrays.copyOfRange(model, (int) block * 4096, (int) block * 4096 + 4096);
    bad[100] ^= 0x01;
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    crc.update(bad);
    Path replica = cp.agentDataDir(node).resolve("replicas").resolve(VOL);
    try (RandomAccessFile d = new RandomAccessFile(replica.resolve("data").toFile(), "rw");
        RandomAccessFile c = new RandomAccessFile(replica.resolve("blocks.crc").toFile(), "rw")) {
      d.seek(block * 4096);
      d.write(bad);
      c.seek(block * 8);
      c.writeLong((0x4D594331L << 32) | crc.getValue());
    }
    // Reads pass the checksum: only the audit can tell.
    assertThat(read(OWNER, node, epoch, block * 4096, 4096)).isEqualTo(bad);
    await()
        .atMost(Duration.ofSeconds(15))
        .until(
            () ->
                allocation().getReplicasList().stream()
                    .anyMatch(
                        r ->
                            r.getNodeId().equals(node)
                                && r.getState() == ReplicaState.REPLICA_STATE_STALE));
    assertThat(cp.controlPlane.countInStderr(node + " failed: audit of " + VOL)).isPositive();
    assertThat(agents.get(node).countInStderr("scrub: block")).isZero();
    assertThat(allocation().getReplicasList())
        .filteredOn(r -> !r.getNodeId().equals(node))
        .allSatisfy(r -> assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_HEALTHY));
  }

  @Test
  @Order(8)
  void aCorruptBlockIsRefusedOnReadFoundByScrubAndTheReplicaReplaced() throws Exception {
    // The replica the audit failed above is caught up first.
    Allocation q = quiet();
    long epoch = q.getEpoch();
    String primary = q.getPrimaryNodeId();
    String node =
        q.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(primary))
            .min(java.util.Comparator.comparing(n -> !n.equals(spare))) // the spare if it follows
            .orElseThrow();
    long blockOffset = 2 << 20; // written above, in every replica
    Path data = cp.agentDataDir(node).resolve("replicas").resolve(VOL).resolve("data");
    try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
      f.seek(blockOffset + 17);
      int b = f.read();
      f.seek(blockOffset + 17);
      f.write(b ^ 0x5a);
    }
    assertCode(Status.Code.DATA_LOSS, () -> read(OWNER, node, epoch, blockOffset, 4096));
    // The other replicas still serve the good bytes.
    assertThat(read(OWNER, primary, epoch, blockOffset, 4096))
        .isEqualTo(Arrays.copyOfRange(model, (int) blockOffset, (int) blockOffset + 4096));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                agents
                        .get(node)
                        .countInStderr(
                            "scrub: block at " + blockOffset + " of the replica of " + VOL)
                    > 0);
    // The control plane marks it STALE for the replication manager to replace.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                allocation().getReplicasList().stream()
                    .anyMatch(
                        r ->
                            r.getNodeId().equals(node)
                                && r.getState() == ReplicaState.REPLICA_STATE_STALE));
  }
}
