package io.mycnet.storage.agent.data;

import io.grpc.Attributes;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServerTransportFilter;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.agent.identity.Revocations;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.ConsistencyLevel;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaPeerGrpc;
import io.mycnet.storage.api.v1.ReplicaReport;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.RevocationList;
import io.mycnet.storage.api.v1.VolumeIoGrpc;
import io.mycnet.storage.operator.security.CertificateAuthority;
import java.io.IOException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * One agent's data services over the in-process transport: a real {@link ReplicaStore} in a
 * directory, the services and the identity interceptor exactly as {@link DataServer} serves them,
 * and a channel per caller. As on the data port, the caller's certificate is a property of its
 * connection: each caller's connection carries the certificate (signed by a real CA) in its
 * transport attributes, where the TLS transport keeps the verified session.
 */
final class InProcessDataPort implements AutoCloseable {
  static final Attributes.Key<X509Certificate> CERTIFICATE =
      Attributes.Key.create("caller certificate of the in-process connection");
  static final long SIZE = 1 << 20;

  final String nodeId;
  final ReplicaStore store;
  final Revocations revocations;
  final CertificateAuthority ca;
  final List<ReplicaReport> reports = new CopyOnWriteArrayList<>();
  private final List<Server> servers = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();

  InProcessDataPort(Path dir, String nodeId, RevocationList revoked) throws IOException {
    this.nodeId = nodeId;
    this.ca =
        CertificateAuthority.openOrCreate(
            dir.resolve("ca"), Clock.systemUTC(), Duration.ofHours(1));
    this.revocations = Revocations.open(dir.resolve("agent"));
    this.revocations.update(revoked);
    this.store = ReplicaStore.open(dir.resolve("agent"));
    store.context(
        new ReplicatedVolume.Context() {
          @Override
          public String nodeId() {
            return nodeId;
          }

          @Override
          public io.mycnet.storage.agent.replication.ReplicaLink link() {
            return null; // the assignments here name no other reachable replica
          }

          @Override
          public void report(ReplicaReport r) {
            reports.add(r);
          }

          @Override
          public void recordEpoch(String volumeId, long epoch) {
            try {
              store.recordEpoch(volumeId, epoch);
            } catch (IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
          }
        });
  }

  X509Certificate node(String id) {
    KeyPair kp = NodeIdentity.generateKeyPair();
    return ca.signNode(ca.checkCsr(NodeIdentity.csr(kp, id), id), id).certificate();
  }

  X509Certificate client(String namespace) {
    return ca.signClient(NodeIdentity.generateKeyPair().getPublic(), namespace);
  }

  /** A channel whose connection presents {@code cert} (null: no certificate). */
  ManagedChannel as(X509Certificate cert) throws IOException {
    String name = InProcessServerBuilder.generateName();
    InProcessServerBuilder b =
        InProcessServerBuilder.forName(name)
            .addTransportFilter(
                new ServerTransportFilter() {
                  @Override
                  public Attributes transportReady(Attributes connection) {
                    return cert == null
                        ? connection
                        : connection.toBuilder().set(CERTIFICATE, cert).build();
                  }
                });
    for (ServerServiceDefinition s :
        DataServer.services(store, reports::add, revocations, c -> c.get(CERTIFICATE))) {
      b.addService(s);
    }
    servers.add(b.build().start());
    ManagedChannel ch = InProcessChannelBuilder.forName(name).build();
    channels.add(ch);
    return ch;
  }

  VolumeIoGrpc.VolumeIoBlockingStub io(X509Certificate cert) throws IOException {
    return VolumeIoGrpc.newBlockingStub(as(cert)).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  ReplicaPeerGrpc.ReplicaPeerBlockingStub peer(X509Certificate cert) throws IOException {
    return ReplicaPeerGrpc.newBlockingStub(as(cert)).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  /** Creates the replica of {@code volumeId} at {@code epoch} and applies its assignment. */
  ReplicatedVolume replica(String volumeId, AssignReplica a) throws IOException {
    ReplicaStore.Outcome o = store.create(volumeId, a.getEpoch(), SIZE, 1L << 30);
    if (!o.ok()) {
      throw new IllegalStateException(o.message());
    }
    ReplicatedVolume v = store.volume(volumeId);
    v.assign(a);
    return v;
  }

  /** An assignment of {@code volumeId} owned by {@code namespace}, every member HEALTHY. */
  static AssignReplica.Builder assignment(
      String volumeId, String namespace, long epoch, String primary, String... members) {
    AssignReplica.Builder b =
        AssignReplica.newBuilder()
            .setVolumeId(volumeId)
            .setEpoch(epoch)
            .setSizeBytes(SIZE)
            .setConsistency(ConsistencyLevel.CONSISTENCY_LEVEL_STRONG)
            .setPrimaryNodeId(primary)
            .setNamespace(namespace);
    for (String m : members) {
      b.addPeers(
          ReplicaMember.newBuilder()
              .setNodeId(m)
              .setAddress("127.0.0.1:1")
              .setState(ReplicaState.REPLICA_STATE_HEALTHY));
    }
    return b;
  }

  @Override
  public void close() throws InterruptedException {
    for (ManagedChannel ch : channels) {
      ch.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    for (Server s : servers) {
      s.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    for (ReplicatedVolume v : store.volumes()) {
      v.close();
    }
  }
}
