package io.mycnet.storage.cli;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.Client;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.FlushRequest;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.ReadRequest;
import io.mycnet.storage.api.v1.StatRequest;
import io.mycnet.storage.api.v1.VolumeIoGrpc;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.api.v1.WriteRequest;
import io.mycnet.storage.cli.local.LocalProcesses;
import io.mycnet.storage.cli.local.LocalState;
import io.mycnet.storage.common.settings.HostPort;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.SecurityStore;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.KeyValueStore;
import io.mycnet.storage.operator.store.Versioned;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * What the commands read and do against a running local mode: nodes and volumes from etcd, claims
 * from the API server, trust from the control plane's {@code /trust} endpoint, and volume I/O on
 * the agents' data ports with a client certificate of the volume's service namespace (signed by the
 * local CA, as a service would hold).
 */
public final class LocalClient implements AutoCloseable {
  final LocalState state;
  private final Client etcd;
  public final KeyValueStore store;
  public final EtcdKeys keys = EtcdKeys.defaults();
  public final NodeRegistry registry;
  private final String httpBase;
  private final String apiUrl;
  private KubernetesClient kube;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private CertificateAuthority ca;
  private SecurityStore security;

  public LocalClient(LocalState state) {
    this.state = state;
    String etcdPort = state.require("etcd.client.port");
    httpBase = "http://127.0.0.1:" + state.require("control-plane.http");
    apiUrl = state.require("control-plane.api");
    etcd = Client.builder().endpoints("http://127.0.0.1:" + etcdPort).build();
    store = new EtcdStore(etcd, Duration.ofSeconds(5));
    registry = new NodeRegistry(store, keys, Clock.systemUTC(), Duration.ofSeconds(15));
  }

  public KubernetesClient kube() {
    if (kube == null) {
      kube =
          new KubernetesClientBuilder()
              .withConfig(
                  new ConfigBuilder()
                      .withMasterUrl(apiUrl)
                      .withTrustCerts(true)
                      .withHttp2Disable(true)
                      .withNoProxy("*")
                      .withRequestTimeout(10_000)
                      .build())
              .build();
    }
    return kube;
  }

  /**
   * An operator action on a node, the way a cluster takes it: sets {@code annotation} (and a fresh
   * request id) on the Kubernetes Node of that name, creating the object if the API lacks it, then
   * waits until the operator has written the request's result. Returns the result ("ok: ..." or
   * "unchanged: ..."); a refusal is a {@link CliException} with the operator's words.
   */
  String nodeAction(String node, String annotation, String value, Duration timeout) {
    if (registry.get(node).isEmpty()) {
      List<String> known = new ArrayList<>();
      for (NodeRecord r : registry.list()) {
        known.add(r.getNodeId());
      }
      throw new CliException(
          "node "
              + node
              + " is not registered with the control plane; nodes: "
              + (known.isEmpty() ? "(none)" : String.join(", ", known)));
    }
    String requestId = java.util.UUID.randomUUID().toString();
    String result = io.mycnet.storage.operator.reconciler.node.NodeActionWatcher.RESULT;
    String rid = io.mycnet.storage.operator.reconciler.node.NodeActionWatcher.REQUEST_ID;
    var nodes = kube().nodes();
    if (nodes.withName(node).get() == null) {
      nodes
          .resource(
              new io.fabric8.kubernetes.api.model.NodeBuilder()
                  .withNewMetadata()
                  .withName(node)
                  .addToAnnotations(annotation, value)
                  .addToAnnotations(rid, requestId)
                  .endMetadata()
                  .build())
          .create();
    } else {
      nodes
          .withName(node)
          .edit(
              n ->
                  new io.fabric8.kubernetes.api.model.NodeBuilder(n)
                      .editMetadata()
                      .addToAnnotations(annotation, value)
                      .addToAnnotations(rid, requestId)
                      .endMetadata()
                      .build());
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      var n = nodes.withName(node).get();
      String r =
          n == null || n.getMetadata().getAnnotations() == null
              ? null
              : n.getMetadata().getAnnotations().get(result);
      if (r != null && r.startsWith(requestId + " ")) {
        String text = r.substring(requestId.length() + 1);
        int space = text.indexOf(' ');
        String verdict = text.substring(space + 1);
        if (verdict.startsWith("refused: ")) {
          throw new CliException(verdict.substring("refused: ".length()));
        }
        return verdict;
      }
      if (System.nanoTime() > deadline) {
        throw new CliException(
            "the operator did not apply "
                + annotation
                + " on Node "
                + node
                + " within "
                + timeout.toSeconds()
                + " s; the request stays on the Node and is applied when the control plane runs");
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CliException("interrupted while waiting for the operator");
      }
    }
  }

  public List<NodeRecord> nodes() {
    return registry.list();
  }

  public List<Allocation> volumes() {
    List<Allocation> out = new ArrayList<>();
    for (Versioned<Allocation> v : store.list(keys.allocations(), Allocation.parser())) {
      out.add(v.value());
    }
    return out;
  }

  /** The replication manager's status (whether node DOWN decisions are held, and why). */
  public io.mycnet.storage.api.v1.ReplicationStatus replication() {
    Versioned<io.mycnet.storage.api.v1.ReplicationStatus> v =
        store.get(keys.replicationStatus(), io.mycnet.storage.api.v1.ReplicationStatus.parser());
    return v.exists() ? v.value() : io.mycnet.storage.api.v1.ReplicationStatus.getDefaultInstance();
  }

  public Optional<Allocation> volume(String id) {
    Versioned<Allocation> v = store.get(keys.allocation(id), Allocation.parser());
    return v.exists() ? Optional.of(v.value()) : Optional.empty();
  }

  /** Node to {score, tier}, from the control plane. */
  public Map<String, String[]> trust() {
    Map<String, String[]> out = new LinkedHashMap<>();
    for (String line : get("/trust").split("\n")) {
      String[] f = line.split("\t");
      if (f.length == 3) {
        out.put(f[0], new String[] {f[1], f[2]});
      }
    }
    return out;
  }

  public String explainNode(String node) {
    return get("/trust/" + node);
  }

  private String get(String path) {
    try {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create(httpBase + path))
                  .timeout(Duration.ofSeconds(10))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() == 404) {
        throw new CliException(r.body().strip());
      }
      if (r.statusCode() != 200) {
        throw new CliException("control plane answered " + r.statusCode() + ": " + r.body());
      }
      return r.body();
    } catch (IOException e) {
      throw new CliException(
          "the control plane is not answering at "
              + httpBase
              + " ("
              + e.getMessage()
              + "); is local mode up? (mycnet local up)");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliException("interrupted");
    }
  }

  /** A claim by name; {@code namespace} null: the only claim of that name in any namespace. */
  StorageClaim claim(String name, String namespace) {
    List<StorageClaim> found =
        (namespace == null
                ? kube().resources(StorageClaim.class).inAnyNamespace()
                : kube().resources(StorageClaim.class).inNamespace(namespace))
            .list().getItems().stream()
                .filter(c -> c.getMetadata().getName().equals(name))
                .toList();
    if (found.isEmpty()) {
      throw new CliException(
          "no StorageClaim '"
              + name
              + "'"
              + (namespace == null ? "" : " in namespace " + namespace));
    }
    if (found.size() > 1) {
      throw new CliException(
          "StorageClaim '" + name + "' exists in several namespaces; name one with -n");
    }
    return found.get(0);
  }

  /** The volume of a bound claim. */
  public Allocation volumeOf(StorageClaim claim) {
    String id = claim.getMetadata().getNamespace() + "." + claim.getMetadata().getName();
    return volume(id)
        .orElseThrow(
            () ->
                new CliException(
                    "claim "
                        + claim.getMetadata().getName()
                        + " has no volume yet (phase "
                        + (claim.getStatus() == null ? "unknown" : claim.getStatus().getPhase())
                        + "); see: mycnet claim explain "
                        + claim.getMetadata().getName()));
  }

  /** The revocations and issued certificates in etcd (no watch). */
  SecurityStore security() {
    if (security == null) {
      security = new SecurityStore(store, keys, Clock.systemUTC());
    }
    return security;
  }

  public VolumeIoGrpc.VolumeIoBlockingStub io(String namespace, String node) {
    NodeRecord rec =
        registry.get(node).orElseThrow(() -> new CliException("no node " + node + " registered"));
    ManagedChannel ch =
        channels.computeIfAbsent(
            namespace + "@" + node + "@" + rec.getAddress(),
            k -> {
              if (ca == null) {
                ca =
                    CertificateAuthority.openOrCreate(
                        state.caDir(), Clock.systemUTC(), Duration.ofHours(1));
              }
              HostPort a;
              try {
                a = HostPort.parse(rec.getAddress());
              } catch (IllegalArgumentException e) {
                throw new CliException(
                    "node " + node + " has no usable address: " + e.getMessage());
              }
              return NettyChannelBuilder.forAddress(a.host(), a.port())
                  .sslContext(
                      ca.volumeClientTls(
                          namespace,
                          // Recorded so that `mycnet client revoke --namespace` finds it.
                          cert ->
                              security()
                                  .recordIssuedClient(
                                      namespace,
                                      CertificateAuthority.serialHex(cert),
                                      cert.getNotAfter().toInstant())))
                  .overrideAuthority(node)
                  .maxInboundMessageSize(8 << 20)
                  .build();
            });
    return VolumeIoGrpc.newBlockingStub(ch).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  /** How long an NBD client certificate written by {@code mycnet volume export} is valid. */
  static final Duration NBD_CLIENT_LIFETIME = Duration.ofDays(7);

  /**
   * The NBD client certificate directory of service namespace {@code namespace} under the state
   * directory ({@code nbd-tls/<namespace>/}), signed by local mode's CA and recorded in etcd like
   * the certificates of {@code mycnet volume}; a certificate there with more than a day left is
   * kept.
   */
  NbdClientCertificates.Written nbdClientCertificates(String namespace) {
    CertificateAuthority exportCa =
        CertificateAuthority.openOrCreate(state.caDir(), Clock.systemUTC(), NBD_CLIENT_LIFETIME);
    try {
      return NbdClientCertificates.write(
          exportCa,
          namespace,
          state.nbdTlsDir(namespace),
          Duration.ofDays(1),
          cert ->
              security()
                  .recordIssuedClient(
                      namespace,
                      CertificateAuthority.serialHex(cert),
                      cert.getNotAfter().toInstant()));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(
          "cannot write the NBD client certificates into " + state.nbdTlsDir(namespace), e);
    }
  }

  /**
   * Writes {@code data} at {@code offset} through the volume's primary, 1 MiB per request, then
   * flushes. When the volume's epoch or primary moves during the write (a handover, a rebalance),
   * the whole write is repeated against the new allocation ({@link #following}): writes of the same
   * bytes at the same offsets are idempotent.
   */
  public void write(Allocation v, long offset, byte[] data) {
    following(
        v,
        a -> {
          writeOnce(a, offset, data);
          return null;
        });
  }

  private void writeOnce(Allocation v, long offset, byte[] data) {
    VolumeIoGrpc.VolumeIoBlockingStub io = io(v.getNamespace(), v.getPrimaryNodeId());
    int chunk = 1 << 20;
    for (int at = 0; at < data.length; at += chunk) {
      int len = Math.min(chunk, data.length - at);
      WriteRequest req =
          WriteRequest.newBuilder()
              .setVolumeId(v.getVolumeId())
              .setEpoch(v.getEpoch())
              .setOffset(offset + at)
              .setData(ByteString.copyFrom(data, at, len))
              .build();
      retrying(() -> io.withDeadlineAfter(60, TimeUnit.SECONDS).write(req));
    }
    retrying(
        () ->
            io.withDeadlineAfter(60, TimeUnit.SECONDS)
                .flush(
                    FlushRequest.newBuilder()
                        .setVolumeId(v.getVolumeId())
                        .setEpoch(v.getEpoch())
                        .build()));
  }

  /**
   * Reads {@code length} bytes at {@code offset} from {@code node}'s replica, at the volume's
   * current epoch ({@link #following}).
   */
  public byte[] read(Allocation v, String node, long offset, int length) {
    return following(v, a -> readOnce(a, node, offset, length));
  }

  private byte[] readOnce(Allocation v, String node, long offset, int length) {
    VolumeIoGrpc.VolumeIoBlockingStub io = io(v.getNamespace(), node);
    byte[] out = new byte[length];
    int chunk = 1 << 20;
    for (int at = 0; at < length; at += chunk) {
      int len = Math.min(chunk, length - at);
      ReadRequest req =
          ReadRequest.newBuilder()
              .setVolumeId(v.getVolumeId())
              .setEpoch(v.getEpoch())
              .setOffset(offset + at)
              .setLength(len)
              .build();
      retrying(() -> io.withDeadlineAfter(60, TimeUnit.SECONDS).read(req))
          .getData()
          .copyTo(out, at);
    }
    return out;
  }

  /**
   * Runs {@code call} against the volume's allocation and, when an agent refuses it
   * FAILED_PRECONDITION because the allocation moved on (a stale epoch, a node that is no longer
   * the primary, a replica that has not heard of the new epoch yet), re-reads the allocation from
   * etcd and runs it again, for up to 30 s: what a volume client does after a failover. A refusal
   * while the allocation stays the same (a fenced replica, a replica that is not there) is the
   * caller's answer.
   */
  <T> T following(Allocation v, java.util.function.Function<Allocation, T> call) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    Allocation current = v;
    while (true) {
      try {
        return call.apply(current);
      } catch (io.grpc.StatusRuntimeException e) {
        if (e.getStatus().getCode() != io.grpc.Status.Code.FAILED_PRECONDITION
            || System.nanoTime() > deadline) {
          throw e;
        }
        Allocation fresh = volume(v.getVolumeId()).orElseThrow(() -> e);
        String why = String.valueOf(e.getStatus().getDescription());
        boolean moved =
            fresh.getEpoch() != current.getEpoch()
                || !fresh.getPrimaryNodeId().equals(current.getPrimaryNodeId());
        boolean settling =
            why.startsWith("stale epoch") || why.contains("has not heard of the change yet");
        if (!moved && !settling) {
          throw e;
        }
        current = fresh;
      }
      LocalProcesses.sleep(200);
    }
  }

  /**
   * Runs a call, retrying for up to 30 s while the agent answers UNAVAILABLE (a replica that has
   * not received its assignment yet, a primary catching up): what a volume client does.
   */
  static <T> T retrying(java.util.function.Supplier<T> call) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    long backoff = 100;
    while (true) {
      try {
        return call.get();
      } catch (io.grpc.StatusRuntimeException e) {
        if (e.getStatus().getCode() != io.grpc.Status.Code.UNAVAILABLE
            || System.nanoTime() > deadline) {
          throw e;
        }
      }
      LocalProcesses.sleep(backoff);
      backoff = Math.min(backoff * 2, 2000);
    }
  }

  public VolumeStat stat(Allocation v, String node) {
    return io(v.getNamespace(), node)
        .withDeadlineAfter(5, TimeUnit.SECONDS)
        .stat(StatRequest.newBuilder().setVolumeId(v.getVolumeId()).build());
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
    if (kube != null) {
      kube.close();
    }
    etcd.close();
  }
}
