package io.mycnet.storage.agent.frontend;

import io.mycnet.storage.agent.data.DataServer;
import io.mycnet.storage.agent.data.VolumeIoCalls;
import io.mycnet.storage.agent.identity.IdentityKeys;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.agent.identity.Revocations;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.agent.replication.GrpcReplicaLink;
import io.mycnet.storage.agent.replication.PeerChannels;
import io.mycnet.storage.agent.replication.ReplicaLink;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.api.v1.ConsistencyLevel;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaReport;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.RevocationList;
import io.mycnet.storage.operator.security.CertificateAuthority;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Agents in one JVM with their real parts: a replica store in a directory each, the data port
 * ({@link DataServer}: mutual TLS on loopback, certificates of a real CA), the peer channels and
 * the gRPC replica link between them, and what a block frontend of each needs. An agent's "crash"
 * is the close of its data port: its peers and frontends find it unreachable.
 */
public final class FrontendAgents implements AutoCloseable {
  public static final long SIZE = 1 << 20;
  public static final String VOLUME = "app.data";

  final CertificateAuthority ca;
  final Map<String, Agent> agents = new LinkedHashMap<>();
  public final List<ReplicaReport> reports = new CopyOnWriteArrayList<>();
  private final Path dir;

  public FrontendAgents(Path dir, String... nodes) throws IOException {
    this.dir = dir;
    this.ca =
        CertificateAuthority.openOrCreate(
            dir.resolve("ca"), Clock.systemUTC(), Duration.ofHours(1));
    for (String n : nodes) {
      agents.put(n, new Agent(n));
    }
  }

  public Agent agent(String node) {
    return agents.get(node);
  }

  X509Certificate client(String namespace) {
    return ca.signClient(NodeIdentity.generateKeyPair().getPublic(), namespace);
  }

  /** One agent: its store, its data port, its channels to the others. */
  public final class Agent implements AutoCloseable {
    public final String nodeId;
    final Path dataDir;
    final ReplicaStore store;
    final Revocations revocations;
    final IdentityKeys keys = new IdentityKeys();
    public final PeerChannels peers;

    /** What this agent's volumes report through (into {@link FrontendAgents#reports}). */
    public final ReplicatedVolume.Context context;

    final VolumeIoCalls local;
    DataServer port;

    Agent(String nodeId) throws IOException {
      this.nodeId = nodeId;
      this.dataDir = dir.resolve(nodeId);
      KeyPair kp = NodeIdentity.generateKeyPair();
      X509Certificate cert =
          ca.signNode(ca.checkCsr(NodeIdentity.csr(kp, nodeId), nodeId), nodeId).certificate();
      keys.set(new NodeIdentity(kp.getPrivate(), cert, List.of(ca.certificate())));
      this.revocations = Revocations.open(dataDir);
      revocations.update(RevocationList.getDefaultInstance());
      this.store = ReplicaStore.open(dataDir);
      this.peers = new PeerChannels(keys, revocations);
      ReplicaLink link = new GrpcReplicaLink(peers);
      this.context =
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
              reports.add(r);
            }

            @Override
            public void recordEpoch(String volumeId, long epoch) {
              try {
                store.recordEpoch(volumeId, epoch);
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            }
          };
      store.context(context);
      this.local = new VolumeIoCalls(store, reports::add);
      this.port =
          new DataServer(store, nodeId, reports::add, revocations).start("127.0.0.1:0", keys);
    }

    public String address() {
      return "127.0.0.1:" + port.port();
    }

    /** Creates this agent's replica of {@link #VOLUME} and applies {@code a}. */
    public ReplicatedVolume replica(AssignReplica a) throws IOException {
      ReplicaStore.Outcome o = store.create(VOLUME, a.getEpoch(), SIZE, 1L << 30);
      if (!o.ok()) {
        throw new IllegalStateException(o.message());
      }
      ReplicatedVolume v = store.volume(VOLUME);
      v.assign(a);
      return v;
    }

    public ReplicatedVolume volume() {
      return store.volume(VOLUME);
    }

    /** A frontend of {@link #VOLUME} on this agent. */
    VolumeFrontend frontend(Attachment at, AssignReplica a, Duration window) {
      return new VolumeFrontend(nodeId, VOLUME, at, a, store, local, peers, window);
    }

    /** This agent's crash as its peers see it: its data port goes away. */
    public void stopPort() {
      port.close();
    }

    @Override
    public void close() {
      port.close();
      peers.close();
      for (ReplicatedVolume v : store.volumes()) {
        v.close();
      }
    }
  }

  static Attachment attachment(String node, boolean readOnly, long generation) {
    return Attachment.newBuilder()
        .setNodeId(node)
        .setReadOnly(readOnly)
        .setGeneration(generation)
        .setRequestedBy("test")
        .build();
  }

  /**
   * The assignment of {@link #VOLUME} at {@code epoch}, owned by namespace {@code app}: {@code
   * primary}, every member HEALTHY at its agent's data port, and the attachments.
   */
  public AssignReplica assignment(
      long epoch, String primary, List<String> members, Attachment... attachments) {
    AssignReplica.Builder b =
        AssignReplica.newBuilder()
            .setVolumeId(VOLUME)
            .setEpoch(epoch)
            .setSizeBytes(SIZE)
            .setConsistency(ConsistencyLevel.CONSISTENCY_LEVEL_STRONG)
            .setPrimaryNodeId(primary)
            .setNamespace("app");
    for (String m : members) {
      b.addPeers(
          ReplicaMember.newBuilder()
              .setNodeId(m)
              .setAddress(agent(m).address())
              .setState(ReplicaState.REPLICA_STATE_HEALTHY));
    }
    for (Attachment at : attachments) {
      b.addAttachments(at);
    }
    return b.build();
  }

  @Override
  public void close() {
    List<Exception> failures = new ArrayList<>();
    for (Agent a : agents.values()) {
      try {
        a.close();
      } catch (RuntimeException e) {
        failures.add(e);
      }
    }
    if (!failures.isEmpty()) {
      throw new IllegalStateException("closing the agents failed", failures.get(0));
    }
  }
}
