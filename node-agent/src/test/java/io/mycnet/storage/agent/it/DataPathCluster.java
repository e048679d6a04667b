package io.mycnet.storage.agent.it;

import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.ReadRequest;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.StatRequest;
import io.mycnet.storage.api.v1.VolumeIoGrpc;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.api.v1.WriteRequest;
import io.mycnet.storage.api.v1.WriteResponse;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.operator.allocation.ClusterViewCache;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.allocation.PlannerPlacement;
import io.mycnet.storage.operator.allocation.ReplicaPlacer;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The data-path tests' cluster: the production control plane and one agent per node, each in its
 * own zone, as processes over a real etcd, every node with a vetted history (CRITICAL) and in the
 * StoragePool {@code default}; the allocation manager the test drives against the same etcd (as the
 * claim reconciler would) and a replication manager for the state changes a test injects (a failed
 * audit), while the control plane's replication loop takes every decision; and volume I/O clients,
 * one mutual-TLS channel per (namespace, node), with client certificates from the control plane's
 * CA.
 */
final class DataPathCluster implements AutoCloseable {
  final ControlPlaneFixture cp;
  final Map<String, ChildProcess> agents = new ConcurrentHashMap<>();
  final CertificateAuthority ca;
  final ClusterViewCache cluster;
  final TrustAwareStorageManager manager;
  final ReplicationManager replication;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Map<String, String> topologies = new ConcurrentHashMap<>();
  private final Function<String, List<String>> agentFlags;
  private final String token;
  private final Duration ioDeadline;
  private final String logDir;

  /**
   * Starts the control plane and the agents ({@code nodes.get(i)} in zone {@code z<i+1>}, with
   * {@code agentFlags}) and waits until every agent is live.
   *
   * @param logDir where, under {@code target/}, the processes' logs are kept after {@link #close}
   */
  DataPathCluster(
      Path dir,
      EtcdExtension etcd,
      String token,
      List<String> nodes,
      Duration ioDeadline,
      String logDir,
      String... agentFlags)
      throws Exception {
    this(dir, etcd, token, nodes, ioDeadline, logDir, node -> List.of(agentFlags));
  }

  /** As above, with flags per agent: {@code agentFlags} of the node id. */
  DataPathCluster(
      Path dir,
      EtcdExtension etcd,
      String token,
      List<String> nodes,
      Duration ioDeadline,
      String logDir,
      Function<String, List<String>> agentFlags)
      throws Exception {
    this(dir, etcd, token, nodes, ioDeadline, logDir, agentFlags, List.of());
  }

  /**
   * As above, with further control plane settings ({@code MYCNET_NAME=value}, see {@link
   * ControlPlaneFixture#startControlPlane}).
   */
  DataPathCluster(
      Path dir,
      EtcdExtension etcd,
      String token,
      List<String> nodes,
      Duration ioDeadline,
      String logDir,
      Function<String, List<String>> agentFlags,
      List<String> controlPlaneSettings)
      throws Exception {
    this.ioDeadline = ioDeadline;
    this.logDir = logDir;
    this.agentFlags = agentFlags;
    this.token = token;
    cp =
        new ControlPlaneFixture(dir, etcd.client(), etcd.endpoints(), token + " reusable\n")
            .trusting(nodes)
            .startControlPlane(controlPlaneSettings.toArray(String[]::new));
    List<CompletableFuture<Void>> starts = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      String id = nodes.get(i);
      String topology = "region=eu/zone=z" + (i + 1) + "/rack=r1/node=" + id;
      topologies.put(id, topology);
      starts.add(
          CompletableFuture.runAsync(
              () ->
                  agents.put(
                      id,
                      cp.startAgentAt(
                          id, token, topology, agentFlags.apply(id).toArray(String[]::new)))));
    }
    CompletableFuture.allOf(starts.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> nodes.stream().allMatch(n -> cp.registry.isLive(n)));
    cp.awaitReplicationQuiet();
    ca = CertificateAuthority.openOrCreate(cp.caDir, Clock.systemUTC(), Duration.ofHours(1));
    NodeTrustSource trust = id -> new NodeTrustSource.NodeTrust(TrustTier.CRITICAL, 0.9);
    cluster = new ClusterViewCache(cp.store, cp.keys, trust);
    ReplicaPlacer placer = new PlannerPlacement(r -> Set.of("default"));
    manager =
        new TrustAwareStorageManager(
            cp.store, cp.keys, cp.queue, cluster, placer, p -> 1.0, Clock.systemUTC());
    replication =
        new ReplicationManager(
            cp.store,
            cp.keys,
            cp.registry,
            cp.queue,
            cluster,
            placer,
            trust,
            p -> 1.0,
            new ReplicationManager.Settings(Duration.ZERO, 2, 8),
            Clock.systemUTC());
  }

  /**
   * Starts {@code node}'s agent again (same data directory, topology and flags; its process must
   * have ended) and waits until it is live; clients reconnect to its new data port.
   */
  void restart(String node) {
    // The new process appends to the same log: wait for a ready line after the old ones.
    long before = readyLines(agents.get(node)).size();
    ChildProcess p =
        cp.startAgentAt(
            node, token, topologies.get(node), agentFlags.apply(node).toArray(String[]::new));
    agents.put(node, p);
    await().atMost(Duration.ofSeconds(30)).until(() -> readyLines(p).size() > before);
    String data = readyLines(p).get(readyLines(p).size() - 1).replaceAll(".* data=(\\S+).*", "$1");
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> cp.registry.isLive(node) && address(node).equals(data));
    channels
        .entrySet()
        .removeIf(
            e -> {
              if (e.getKey().endsWith("@" + node)) {
                e.getValue().shutdownNow();
                return true;
              }
              return false;
            });
  }

  private static List<String> readyLines(ChildProcess p) {
    return p.stdout().lines().filter(l -> l.matches("ready health=\\S+ data=\\S+( .*)?")).toList();
  }

  String address(String node) {
    return cp.registry.get(node).map(NodeRecord::getAddress).orElseThrow();
  }

  /** A VolumeIo stub to {@code node}'s data port as a client of {@code namespace}. */
  VolumeIoGrpc.VolumeIoBlockingStub io(String namespace, String node) {
    ManagedChannel ch =
        channels.computeIfAbsent(
            namespace + "@" + node,
            k -> {
              String a = address(node);
              int colon = a.lastIndexOf(':');
              return NettyChannelBuilder.forAddress(
                      a.substring(0, colon), Integer.parseInt(a.substring(colon + 1)))
                  .sslContext(ca.volumeClientTls(namespace))
                  .overrideAuthority(node)
                  .maxInboundMessageSize(8 << 20)
                  .build();
            });
    return VolumeIoGrpc.newBlockingStub(ch)
        .withDeadlineAfter(ioDeadline.toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Waits until the volume's replica on {@code spare} is HEALTHY (rebuilt, verified, counted by
   * completeRebuild) and {@code gone} holds no replica of it any more.
   */
  void awaitReplaced(String volume, String spare, String gone, Duration atMost) {
    await()
        .atMost(atMost)
        .until(
            () -> {
              Allocation a = manager.get(volume).orElseThrow();
              return a.getReplicasList().stream()
                      .anyMatch(
                          r ->
                              r.getNodeId().equals(spare)
                                  && r.getState() == ReplicaState.REPLICA_STATE_HEALTHY)
                  && a.getReplicasList().stream().noneMatch(r -> r.getNodeId().equals(gone));
            });
  }

  VolumeStat stat(String ns, String node, String volume) {
    return io(ns, node).stat(StatRequest.newBuilder().setVolumeId(volume).build());
  }

  byte[] read(String ns, String node, String volume, long epoch, long offset, long length) {
    return io(ns, node)
        .read(
            ReadRequest.newBuilder()
                .setVolumeId(volume)
                .setEpoch(epoch)
                .setOffset(offset)
                .setLength(length)
                .build())
        .getData()
        .toByteArray();
  }

  WriteResponse write(String ns, String node, String volume, long epoch, long offset, byte[] data) {
    return io(ns, node)
        .write(
            WriteRequest.newBuilder()
                .setVolumeId(volume)
                .setEpoch(epoch)
                .setOffset(offset)
                .setData(ByteString.copyFrom(data))
                .build());
  }

  /** Keeps the processes' logs under {@code target/<logDir>}, then stops everything. */
  @Override
  public void close() throws Exception {
    Path logs = Path.of("target", logDir);
    if (Files.isDirectory(cp.dir.resolve("logs"))) {
      Files.createDirectories(logs);
      try (var files = Files.list(cp.dir.resolve("logs"))) {
        for (Path f : files.toList()) {
          Files.copy(f, logs.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
    channels.values().forEach(ManagedChannel::shutdownNow);
    cluster.close();
    cp.close();
  }
}
