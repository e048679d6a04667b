package io.mycnet.storage.operator.reconciler;

import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.Client;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.local.LocalApiServer;
import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.runtime.ControlPlane;
import io.mycnet.storage.operator.runtime.OperatorRuntime;
import io.mycnet.storage.operator.runtime.OperatorSettings;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvidence;
import io.mycnet.storage.operator.trust.TrustEvidence.AuditKind;
import io.mycnet.storage.operator.trust.TrustEvidence.RoundTrip;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * One operator as it runs in a cluster, against the Fabric8 mock server in CRUD mode (server-side
 * apply off) and a real etcd: the same {@link ControlPlane} and {@link OperatorRuntime} wiring as
 * {@code OperatorMain}. Nodes are registered through the node registry with a liveness lease, and
 * their trust is earned through the real trust engine from evidence that the test feeds (the
 * engine's clock is a {@link TestClock}); conditions carry times from a fixed clock.
 */
public final class OperatorHarness implements AutoCloseable {
  public static final long GIB = 1L << 30;
  public static final String NS = "mycnet-demo";
  public static final Instant FIXED = Instant.parse("2026-03-01T12:00:00Z");
  public static final Duration TICK = Duration.ofMinutes(15);

  public final LocalApiServer server;
  public final KubernetesClient client;
  public final Client etcd;
  public final TestClock trustClock;
  public final TrustEngine engine;
  public final ControlPlane cp;
  public final OperatorRuntime runtime;
  private final boolean ownsServer;

  public OperatorHarness(List<String> etcdEndpoints, String prefix) {
    this(etcdEndpoints, prefix, io.mycnet.storage.operator.trust.TrustPolicy.defaults());
  }

  public OperatorHarness(
      List<String> etcdEndpoints,
      String prefix,
      io.mycnet.storage.operator.trust.TrustPolicy policy) {
    this(null, etcdEndpoints, prefix, policy, new TestClock(), Clock.systemUTC());
  }

  /**
   * An operator over an API server that outlives it ({@code sharedServer}, not closed by {@link
   * #close()}; null: a new one of its own): a second harness on the same server and etcd is the
   * same operator restarted.
   */
  public OperatorHarness(
      List<String> etcdEndpoints,
      String prefix,
      io.mycnet.storage.operator.trust.TrustPolicy policy,
      LocalApiServer sharedServer,
      TestClock trustClock) {
    this(sharedServer, etcdEndpoints, prefix, policy, trustClock, Clock.systemUTC());
  }

  /**
   * An operator on {@code sharedServer} (null: a server of its own, closed with it), whose orphan
   * volume collector measures its delay on {@code collectorClock}: a second operator can follow a
   * first one on the same API server and etcd, as after a restart.
   */
  public OperatorHarness(
      LocalApiServer sharedServer,
      List<String> etcdEndpoints,
      String prefix,
      io.mycnet.storage.operator.trust.TrustPolicy policy,
      Clock collectorClock) {
    this(sharedServer, etcdEndpoints, prefix, policy, new TestClock(), collectorClock);
  }

  private OperatorHarness(
      LocalApiServer sharedServer,
      List<String> etcdEndpoints,
      String prefix,
      io.mycnet.storage.operator.trust.TrustPolicy policy,
      TestClock trustClock,
      Clock collectorClock) {
    this.ownsServer = sharedServer == null;
    this.trustClock = trustClock;
    server =
        ownsServer
            ? new LocalApiServer(
                StoragePool.class, TrustPolicy.class, ServiceNamespace.class, StorageClaim.class)
            : sharedServer;
    client = server.newClient();
    etcd = Client.builder().endpoints(etcdEndpoints.toArray(String[]::new)).build();
    engine = new TrustEngine(policy, trustClock);
    OperatorSettings settings = OperatorSettings.forMockServer(etcdEndpoints, prefix);
    cp = ControlPlane.builder(etcd, settings).clock(Clock.systemUTC()).trustEngine(engine).build();
    runtime =
        new OperatorRuntime(
            client,
            cp,
            settings,
            Clock.fixed(FIXED, java.time.ZoneOffset.UTC),
            null,
            collectorClock);
  }

  public OperatorHarness start() {
    runtime.start();
    return this;
  }

  // ---------------------------------------------------------------- nodes and trust

  /** Registers a node with a liveness lease (TTL 10 minutes: alive for the whole test). */
  public void node(String id, String topology, String pool, long capacityGib) {
    cp.registry()
        .register(
            NodeRecord.newBuilder()
                .setNodeId(id)
                .setTopologyPath(topology)
                .setCapacityBytes(capacityGib * GIB)
                .putLabels("storage.mycnet.io/pool", pool)
                .setAddress("127.0.0.1:0")
                .build());
    cp.registry().heartbeat(id);
    cp.cluster().invalidate();
  }

  /** {@code regions x zones x perZone} nodes of {@code pool}, ids {@code <prefix><r><z><n>}. */
  public List<String> nodes(
      String prefix, String pool, int regions, int zones, int perZone, long gib) {
    List<String> ids = new ArrayList<>();
    for (int r = 0; r < regions; r++) {
      for (int z = 0; z < zones; z++) {
        for (int n = 0; n < perZone; n++) {
          String id = prefix + r + z + n;
          node(
              id,
              "region=" + prefix + "r" + r + "/zone=" + prefix + "z" + r + z + "/rack=k" + r + z + n
                  + "/node=" + id,
              pool,
              gib);
          ids.add(id);
        }
      }
    }
    return ids;
  }

  /**
   * Feeds {@code ticks} ticks of evidence (15 minutes apart) for every node in {@code behaviour}: a
   * well-behaved node's tick has every factor good; its ACCESS_CONTROL report is the value given
   * (1.0 for a perfect node, 0.5 for one whose score settles around 0.92). 120 ticks vet a node (30
   * hours, 120 audits): it reaches CRITICAL; 40 leave it at STANDARD while vetting.
   */
  public void earnTrust(Map<String, Double> behaviour, int ticks) {
    for (int i = 0; i < ticks; i++) {
      trustClock.advance(TICK);
      Instant at = trustClock.instant();
      List<TrustEvidence> tick = new ArrayList<>();
      behaviour.forEach((node, access) -> tick.addAll(healthyTick(node, at, access)));
      engine.recordAll(tick);
    }
    cp.cluster().invalidate();
  }

  static List<TrustEvidence> healthyTick(String node, Instant at, double accessControl) {
    return List.of(
        new TrustEvidence.Heartbeat(node, at, true),
        new TrustEvidence.LatencySample(node, at, RoundTrip.HEARTBEAT, Duration.ofMillis(20)),
        new TrustEvidence.ReplicationAck(node, at, true),
        new TrustEvidence.IntegrityAudit(node, at, AuditKind.CHALLENGE, true),
        new TrustEvidence.BytesServed(node, at, 1_000_000, 1_000_000),
        new TrustEvidence.ReportedFactor(node, at, TrustFactor.IO_PERFORMANCE, 1.0),
        new TrustEvidence.ReportedFactor(node, at, TrustFactor.ENCRYPTION_COMPLIANCE, 1.0),
        new TrustEvidence.ReportedFactor(node, at, TrustFactor.ACCESS_CONTROL, accessControl));
  }

  /** 8 core nodes (2 regions x 2 zones x 2) vetted to CRITICAL and 6 edge nodes at STANDARD. */
  public void sampleCluster() {
    List<String> core = nodes("c", "core", 2, 2, 2, 100);
    List<String> edge = nodes("e", "edge", 2, 3, 1, 100);
    Map<String, Double> all = new HashMap<>();
    core.forEach(n -> all.put(n, 1.0));
    earnTrust(all, 80);
    edge.forEach(n -> all.put(n, 1.0));
    earnTrust(all, 40);
  }

  // ---------------------------------------------------------------- resources

  /** Creates or replaces every object of every YAML file in {@code dir}, in file-name order. */
  public List<HasMetadata> applyDirectory(Path dir) throws IOException {
    List<HasMetadata> out = new ArrayList<>();
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    for (Path f : files) {
      try (InputStream in = Files.newInputStream(f)) {
        out.addAll(client.load(in).createOrReplace());
      }
    }
    return out;
  }

  public <T extends HasMetadata> T create(T resource) {
    return client.resource(resource).create();
  }

  public StorageClaim claim(String name) {
    return client.resources(StorageClaim.class).inNamespace(NS).withName(name).get();
  }

  public ServiceNamespace serviceNamespace(String name) {
    return client.resources(ServiceNamespace.class).inNamespace(NS).withName(name).get();
  }

  public StoragePool pool(String name) {
    return client.resources(StoragePool.class).withName(name).get();
  }

  public TrustPolicy trustPolicy(String name) {
    return client.resources(TrustPolicy.class).withName(name).get();
  }

  public Optional<Allocation> allocation(String claimName) {
    return cp.manager().get(NS + "." + claimName);
  }

  /**
   * Answers every queued CreateReplica as the node's agent does once the replica exists (this
   * harness runs no agents): the ok result goes to the control plane's {@code ReplicaCreation}, the
   * command is acknowledged. Returns how many.
   */
  public int agentsConfirmCreates() {
    int n = 0;
    for (NodeRecord r : cp.registry().list()) {
      for (io.mycnet.storage.api.v1.NodeCommand c : cp.queue().pending(r.getNodeId())) {
        if (c.hasCreateReplica()) {
          cp.creation()
              .onResult(
                  r.getNodeId(),
                  io.mycnet.storage.api.v1.CommandResult.newBuilder()
                      .setCommandId(c.getCommandId())
                      .setOk(true)
                      .setMessage("created")
                      .build());
          cp.queue().ack(r.getNodeId(), c.getCommandId());
          n++;
        }
      }
    }
    return n;
  }

  /** Waits for the phase; meanwhile the nodes confirm the replicas they are asked to create. */
  public StorageClaim awaitPhase(String claimName, ClaimPhase phase) {
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              agentsConfirmCreates();
              StorageClaim c = claim(claimName);
              return c != null && c.getStatus() != null && c.getStatus().getPhase() == phase;
            });
    return claim(claimName);
  }

  /** Waits until the resource's Ready condition has {@code reason}; returns its message. */
  public String awaitReady(HasMetadata resource, String reason) {
    String[] message = new String[1];
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              agentsConfirmCreates();
              HasMetadata r = client.resource(resource).get();
              if (r == null) {
                return false;
              }
              Object status = r.getClass().getMethod("getStatus").invoke(r);
              if (status == null) {
                return false;
              }
              @SuppressWarnings("unchecked")
              List<io.fabric8.kubernetes.api.model.Condition> cs =
                  (List<io.fabric8.kubernetes.api.model.Condition>)
                      status.getClass().getMethod("getConditions").invoke(status);
              return Conditions.find(cs, Conditions.READY)
                  .filter(c -> reason.equals(c.getReason()))
                  .map(c -> message[0] = c.getMessage())
                  .isPresent();
            });
    return message[0];
  }

  public static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.exists(p.resolve("samples"))) {
      p = p.getParent();
    }
    if (p == null) {
      throw new IllegalStateException("samples/ not found above " + Path.of("").toAbsolutePath());
    }
    return p;
  }

  @Override
  public void close() {
    runtime.close();
    cp.close();
    client.close();
    if (ownsServer) {
      server.close();
    }
    etcd.close();
  }
}
