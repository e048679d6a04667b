package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.api.v1.AccessGrant;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.AttachRequest;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.ReadChunkRequest;
import io.mycnet.storage.api.v1.ReadIndexRequest;
import io.mycnet.storage.api.v1.ReadRequest;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaPeerGrpc;
import io.mycnet.storage.api.v1.ReplicaWrite;
import io.mycnet.storage.api.v1.VolumeIoGrpc;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Revocation reaches the data path: a control plane and three agents (three zones) as separate
 * processes against a real etcd, a STRONG volume on all three, mutual TLS to the agents' data
 * ports. A client certificate revoked while it streams reads stops being served; a removed node's
 * certificate (revoked with {@code SecurityStore.revokeNode}, what node removal calls) can no
 * longer read from, write to or attach to its former peers, the primary no longer forwards to it,
 * and an agent restarted while the control plane is down still refuses it (the list is on its
 * disk).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RevocationDataPathIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "fleet1.0123456789abcdef";
  static final String VOL = "vol-rev";
  static final int SIZE = 4 << 20;
  static final String OWNER = "app";
  static final List<String> NODES = List.of("r1", "r2", "r3");
  static final SecureRandom random = new SecureRandom();

  @TempDir static Path dir;
  static DataPathCluster dp;
  static ControlPlaneFixture cp;
  static Allocation alloc;
  static String primary;
  static String removed;
  static String other;
  static NodeIdentity removedIdentity;
  static final byte[] model = new byte[SIZE];
  static final List<ManagedChannel> channels = new java.util.concurrent.CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    dp = new DataPathCluster(dir, ETCD, TOKEN, NODES, Duration.ofSeconds(15), "revocation-it-logs");
    cp = dp.cp;
    dp.manager.putNamespace(
        NamespaceRecord.newBuilder()
            .setNamespace(OWNER)
            .addShares(AccessGrant.newBuilder().setNamespace("viewer").setReadOnly(true))
            .build());
    alloc =
        dp.manager.allocate(
            StorageRequest.of(VOL, OWNER, "default", SIZE, StorageType.CONSENSUS)
                .withConsistency(ConsistencyLevel.STRONG));
    primary = alloc.getPrimaryNodeId();
    List<String> followers =
        alloc.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(primary))
            .toList();
    removed = followers.get(0);
    other = followers.get(1);
    await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .until(
            () ->
                NODES.stream()
                    .allMatch(n -> dp.stat(OWNER, n, VOL).getPrimaryNodeId().equals(primary)));
    byte[] data = new byte[1 << 20];
    random.nextBytes(data);
    assertThat(dp.write(OWNER, primary, VOL, 1, 0, data).getDurableReplicas()).isEqualTo(3);
    System.arraycopy(data, 0, model, 0, data.length);
    // What the removed node holds: its key and certificate, as on its disk before removal.
    removedIdentity = cp.storedIdentity(removed);
  }

  @AfterAll
  static void stopAll() throws Exception {
    channels.forEach(ManagedChannel::shutdownNow);
    if (dp != null) {
      dp.close();
    }
  }

  static ManagedChannel channel(String node, String address, SslContext tls) {
    int colon = address.lastIndexOf(':');
    ManagedChannel ch =
        NettyChannelBuilder.forAddress(
                address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)))
            .sslContext(tls)
            .overrideAuthority(node)
            .maxInboundMessageSize(8 << 20)
            .build();
    channels.add(ch);
    return ch;
  }

  static ReplicaPeerGrpc.ReplicaPeerBlockingStub peerAs(NodeIdentity id, String node) {
    return ReplicaPeerGrpc.newBlockingStub(channel(node, dp.address(node), id.clientTls()));
  }

  static ReadChunkRequest chunk(long offset) {
    return ReadChunkRequest.newBuilder()
        .setVolumeId(VOL)
        .setEpoch(1)
        .setOffset(offset)
        .setLength(64 * 1024)
        .build();
  }

  /** A client certificate of {@code namespace}, recorded as issued (what the CLI does). */
  static SslContext recordedClient(String namespace, AtomicReference<String> serial)
      throws Exception {
    KeyPair kp = CertificateAuthority.generateEcKeyPair();
    X509Certificate cert = dp.ca.signClient(kp.getPublic(), namespace);
    serial.set(CertificateAuthority.serialHex(cert));
    cp.security.recordIssuedClient(namespace, serial.get(), cert.getNotAfter().toInstant());
    return GrpcSslContexts.forClient()
        .keyManager(kp.getPrivate(), cert)
        .trustManager(dp.ca.certificate())
        .build();
  }

  static void assertRevoked(Runnable call, String... mentions) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
              assertThat(e.getStatus().getDescription()).contains("revoked").contains(mentions);
            });
  }

  static byte[] ownerRead(String node, long offset, int length) {
    return dp.read(OWNER, node, VOL, 1, offset, length);
  }

  @Test
  @Order(1)
  void aClientRevokedWhileStreamingReadsIsRefusedOnItsOpenConnection() throws Exception {
    AtomicReference<String> serial = new AtomicReference<>();
    VolumeIoGrpc.VolumeIoBlockingStub io =
        VolumeIoGrpc.newBlockingStub(
            channel(primary, dp.address(primary), recordedClient(OWNER, serial)));
    AtomicInteger served = new AtomicInteger();
    AtomicLong refusedAtNanos = new AtomicLong();
    AtomicReference<StatusRuntimeException> refusal = new AtomicReference<>();
    // One connection, reads back to back (bounded: 60 s or the first refusal).
    CompletableFuture<Void> reader =
        CompletableFuture.runAsync(
            () -> {
              long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
              while (System.nanoTime() < until) {
                try {
                  byte[] got =
                      io.withDeadlineAfter(10, TimeUnit.SECONDS)
                          .read(
                              ReadRequest.newBuilder()
                                  .setVolumeId(VOL)
                                  .setEpoch(1)
                                  .setOffset(4096)
                                  .setLength(4096)
                                  .build())
                          .getData()
                          .toByteArray();
                  assertThat(got).isEqualTo(Arrays.copyOfRange(model, 4096, 8192));
                  served.incrementAndGet();
                } catch (StatusRuntimeException e) {
                  refusedAtNanos.set(System.nanoTime());
                  refusal.set(e);
                  return;
                }
              }
            });
    await().atMost(Duration.ofSeconds(20)).until(() -> served.get() >= 20 || reader.isDone());
    assertThat(refusal.get()).as("served before the revocation").isNull();

    long revokedAt = System.nanoTime();
    assertThat(cp.security.revokeClients(OWNER, "key leaked (test)")).containsExactly(serial.get());
    reader.get(60, TimeUnit.SECONDS);
    assertThat(refusal.get()).as("the reads were stopped").isNotNull();
    assertThat(refusal.get().getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(refusal.get().getStatus().getDescription())
        .contains(serial.get())
        .contains("client:" + OWNER)
        .contains("revoked");
    System.out.printf(
        "client revocation: reads refused %d ms after revokeClients returned (%d reads served)%n",
        TimeUnit.NANOSECONDS.toMillis(refusedAtNanos.get() - revokedAt), served.get());
    int servedWhenRefused = served.get();

    // Every agent refuses it from now on, on the same connection and on new ones.
    for (int i = 0; i < 5; i++) {
      assertRevoked(
          () ->
              io.withDeadlineAfter(10, TimeUnit.SECONDS)
                  .read(
                      ReadRequest.newBuilder()
                          .setVolumeId(VOL)
                          .setEpoch(1)
                          .setOffset(0)
                          .setLength(4096)
                          .build()),
          serial.get());
    }
    assertThat(served.get()).isEqualTo(servedWhenRefused);
    // Other client certificates of the namespace (issued by other means) are not affected.
    assertThat(ownerRead(primary, 4096, 4096)).isEqualTo(Arrays.copyOfRange(model, 4096, 8192));
  }

  @Test
  @Order(2)
  void aRemovedNodeCanNoLongerReadWriteOrAttachOnItsFormerPeers() {
    ReplicaPeerGrpc.ReplicaPeerBlockingStub onPrimary = peerAs(removedIdentity, primary);
    ReplicaPeerGrpc.ReplicaPeerBlockingStub onOther = peerAs(removedIdentity, other);
    // Before: as a member of the volume it reads the primary's replica.
    assertThat(
            onPrimary
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .readChunk(chunk(0))
                .getData()
                .toByteArray())
        .isEqualTo(Arrays.copyOfRange(model, 0, 64 * 1024));
    VolumeStat before = dp.stat(OWNER, other, VOL);

    long revokedAt = System.nanoTime();
    List<String> serials = cp.security.revokeNode(removed, "removed by the test");
    assertThat(serials).contains(removedIdentity.serial());
    await()
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(20))
        .until(
            () -> {
              try {
                onPrimary.withDeadlineAfter(10, TimeUnit.SECONDS).readChunk(chunk(0));
                return false;
              } catch (StatusRuntimeException e) {
                return e.getStatus().getCode() == Status.Code.PERMISSION_DENIED;
              }
            });
    System.out.printf(
        "node revocation: the removed node's reads refused %d ms after revokeNode returned%n",
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - revokedAt));

    await()
        .atMost(Duration.ofSeconds(15))
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertRevoked(
                    () -> onOther.withDeadlineAfter(10, TimeUnit.SECONDS).readChunk(chunk(0)),
                    removed));
    for (ReplicaPeerGrpc.ReplicaPeerBlockingStub peer : List.of(onPrimary, onOther)) {
      assertRevoked(
          () -> peer.withDeadlineAfter(10, TimeUnit.SECONDS).readChunk(chunk(65536)), removed);
      assertRevoked(
          () ->
              peer.withDeadlineAfter(10, TimeUnit.SECONDS)
                  .readIndex(ReadIndexRequest.newBuilder().setVolumeId(VOL).setEpoch(1).build()),
          removed);
      assertRevoked(
          () ->
              peer.withDeadlineAfter(10, TimeUnit.SECONDS)
                  .attach(AttachRequest.newBuilder().setVolumeId(VOL).setEpoch(1).build()),
          removed);
      assertRevoked(
          () ->
              peer.withDeadlineAfter(10, TimeUnit.SECONDS)
                  .apply(
                      ReplicaWrite.newBuilder()
                          .setVolumeId(VOL)
                          .setEpoch(1)
                          .setSequence(before.getAppliedSequence() + 1)
                          .setOffset(0)
                          .setData(ByteString.copyFrom(new byte[4096]))
                          .build()),
          removed);
    }
    // Nothing changed on the replicas it tried.
    for (String n : List.of(primary, other)) {
      assertThat(dp.stat(OWNER, n, VOL).getAppliedSequence())
          .isEqualTo(before.getAppliedSequence());
      assertThat(ownerRead(n, 0, 1 << 20)).isEqualTo(Arrays.copyOfRange(model, 0, 1 << 20));
    }

    // The primary no longer forwards to it: a write is durable on the two others only, and the
    // removed node's replica does not move.
    long removedApplied = dp.stat(OWNER, removed, VOL).getAppliedSequence();
    byte[] data = new byte[8192];
    random.nextBytes(data);
    assertThat(dp.write(OWNER, primary, VOL, 1, 1 << 20, data).getDurableReplicas()).isEqualTo(2);
    System.arraycopy(data, 0, model, 1 << 20, data.length);
    assertThat(dp.stat(OWNER, primary, VOL).getOutOfSyncList()).contains(removed);
    assertThat(dp.stat(OWNER, removed, VOL).getAppliedSequence()).isEqualTo(removedApplied);
    ChildProcess primaryAgent = dp.agents.get(primary);
    assertThat(primaryAgent.stdout() + primaryAgent.stderr()).contains("revocations now");
  }

  @Test
  @Order(3)
  void anAgentRestartedWithoutTheControlPlaneStillRefusesTheRemovedNode() {
    cp.controlPlane.stop(ControlPlaneFixture.STOP_GRACE);
    ChildProcess old = dp.agents.get(other);
    old.stop(ControlPlaneFixture.STOP_GRACE);
    // The new process appends to the same log: wait for a ready line after the old ones.
    long before = readyLines(old).size();
    int index = NODES.indexOf(other);
    ChildProcess restarted =
        cp.startAgentAt(other, TOKEN, "region=eu/zone=z" + (index + 1) + "/rack=r1/node=" + other);
    await().atMost(Duration.ofSeconds(30)).until(() -> readyLines(restarted).size() > before);
    List<String> ready = readyLines(restarted);
    String address = ready.get(ready.size() - 1).replaceAll(".* data=(\\S+).*", "$1");
    assertThat(restarted.stdout() + restarted.stderr()).contains("revocations loaded");
    ReplicaPeerGrpc.ReplicaPeerBlockingStub peer =
        ReplicaPeerGrpc.newBlockingStub(channel(other, address, removedIdentity.clientTls()));
    assertRevoked(() -> peer.withDeadlineAfter(10, TimeUnit.SECONDS).readChunk(chunk(0)), removed);
    // A node that was not removed is still served by it (its replica is there, unchanged).
    NodeIdentity primaryIdentity = cp.storedIdentity(primary);
    ReplicaPeerGrpc.ReplicaPeerBlockingStub fine =
        ReplicaPeerGrpc.newBlockingStub(channel(other, address, primaryIdentity.clientTls()));
    try {
      assertThat(
              fine.withDeadlineAfter(10, TimeUnit.SECONDS)
                  .readChunk(chunk(0))
                  .getData()
                  .toByteArray())
          .isEqualTo(Arrays.copyOfRange(model, 0, 64 * 1024));
    } catch (StatusRuntimeException e) {
      // Without its control plane the agent may not know the volume's members yet; what matters
      // is that the node is not refused as revoked.
      assertThat(e.getStatus().getDescription()).doesNotContain("revoked");
    }
  }

  private static List<String> readyLines(ChildProcess p) {
    return p.stdout().lines().filter(l -> l.matches("ready health=\\S+ data=\\S+( .*)?")).toList();
  }
}
