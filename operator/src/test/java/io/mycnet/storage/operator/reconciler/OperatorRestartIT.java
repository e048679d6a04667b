package io.mycnet.storage.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.Client;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.local.LocalApiServer;
import io.mycnet.storage.local.LoopbackPorts;
import io.mycnet.storage.operator.OperatorMain;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.runtime.TrustPersistence;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.Versioned;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvidence;
import io.mycnet.storage.operator.trust.TrustPolicy;
import io.mycnet.storage.testsupport.EtcdExtension;
import io.mycnet.storage.testsupport.JavaProcess;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator process (OperatorMain, a cluster's control plane, not local mode) SIGKILLed and
 * started again with volumes of every classification bound: every node keeps its tier, no replica
 * changes state, nothing moves. The processes share a real etcd with the test and talk to the
 * Fabric8 mock API server (CRUD mode) in the test JVM. The nodes' trust is what an earlier
 * incarnation persisted: evidence fed to a trust engine in the test, written by {@link
 * TrustPersistence} as a leader writes it.
 */
class OperatorRestartIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  static final String PREFIX = "/oprestart";
  static final String NS = OperatorHarness.NS;

  @TempDir Path tmp;

  @Test
  void theOperatorProcessRestartedKeepsEveryTierAndMovesNothing() throws Exception {
    try (LocalApiServer api =
            new LocalApiServer(
                StoragePool.class,
                io.mycnet.storage.crds.v1alpha1.TrustPolicy.class,
                ServiceNamespace.class,
                StorageClaim.class);
        KubernetesClient kube = api.newClient();
        Client etcd = Client.builder().endpoints(ETCD.endpoints().toArray(String[]::new)).build()) {
      EtcdStore store = new EtcdStore(etcd, Duration.ofSeconds(5));
      EtcdKeys keys = new EtcdKeys(PREFIX);
      List<String> critical = new ArrayList<>();
      List<String> sensitive = new ArrayList<>();
      List<String> standard = new ArrayList<>();
      registerNodes(store, keys, critical, sensitive, standard);
      persistEarnedTrust(store, keys, critical, sensitive, standard);

      applyResources(kube);
      String[][] claims = {
        {"crit-1", "CONSENSUS", ""},
        {"crit-2", "SERVICE", "CRITICAL"},
        {"sens-1", "INFRASTRUCTURE", ""},
        {"sens-2", "CONFIGURATION", ""},
        {"std-1", "SERVICE", ""},
        {"std-2", "SERVICE", ""},
        {"pub-1", "DISCOVERY", ""},
        {"pub-2", "DISCOVERY", ""}
      };
      String trustBefore;
      Map<String, Versioned<Allocation>> before;
      int port1 = LoopbackPorts.free();
      try (JavaProcess first = operator(api, port1, "first")) {
        awaitReady(first, port1);
        for (String[] c : claims) {
          kube.resource(claim(c[0], c[1], c[2])).create();
        }
        // No agents run here: the test confirms each create as the node's agent would.
        var creation =
            new io.mycnet.storage.operator.allocation.ReplicaCreation(
                store,
                keys,
                new io.mycnet.storage.operator.nodes.CommandQueue(store, keys),
                null,
                null,
                p -> 1.0,
                3,
                Clock.systemUTC());
        Runnable agentsConfirm = () -> confirmCreates(store, keys, creation);
        for (String[] c : claims) {
          awaitBound(kube, c[0], agentsConfirm);
        }
        trustBefore = get(port1, "/trust").body();
        before = allocations(store, keys);
        first.kill();
      }
      assertThat(trustBefore.lines()).hasSize(critical.size() + sensitive.size() + standard.size());
      for (String n : critical) {
        assertThat(trustBefore).containsPattern("(?m)^" + n + "\t[0-9.]+\tCRITICAL$");
      }
      for (String n : sensitive) {
        assertThat(trustBefore).containsPattern("(?m)^" + n + "\t[0-9.]+\tSENSITIVE$");
      }
      for (String n : standard) {
        assertThat(trustBefore).containsPattern("(?m)^" + n + "\t[0-9.]+\tSTANDARD$");
      }
      assertThat(before).hasSize(claims.length);
      Set<io.mycnet.storage.api.v1.Classification> classes =
          EnumSet.noneOf(io.mycnet.storage.api.v1.Classification.class);
      before.values().forEach(v -> classes.add(v.value().getClassification()));
      assertThat(classes).as("volumes of every classification").hasSize(4);
      before
          .values()
          .forEach(
              v ->
                  assertThat(v.value().getReplicasList())
                      .as(v.key())
                      .allMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_HEALTHY));

      int port2 = LoopbackPorts.free();
      try (JavaProcess second = operator(api, port2, "second")) {
        awaitReady(second, port2);
        assertThat(get(port2, "/trust").body()).isEqualTo(trustBefore);
        // Several replication passes (every second) and claim resyncs later: nothing written.
        Thread.sleep(6000);
        assertThat(second.isAlive()).isTrue();
        Map<String, Versioned<Allocation>> after = allocations(store, keys);
        assertThat(after.keySet()).isEqualTo(before.keySet());
        for (Map.Entry<String, Versioned<Allocation>> e : before.entrySet()) {
          Versioned<Allocation> a = after.get(e.getKey());
          assertThat(a.value()).as(e.getKey()).isEqualTo(e.getValue().value());
          assertThat(a.modRevision())
              .as(e.getKey() + " not rewritten")
              .isEqualTo(e.getValue().modRevision());
        }
        for (String[] c : claims) {
          assertThat(phase(kube, c[0])).as(c[0]).isEqualTo(ClaimPhase.Bound);
        }
        assertThat(get(port2, "/trust").body()).isEqualTo(trustBefore);
        second.stop(Duration.ofSeconds(10));
      }
    }
  }

  /** 8 nodes to be CRITICAL, 4 SENSITIVE, 4 STANDARD, over two regions of two zones each. */
  private static void registerNodes(
      EtcdStore store,
      EtcdKeys keys,
      List<String> critical,
      List<String> sensitive,
      List<String> standard) {
    NodeRegistry registry =
        new NodeRegistry(store, keys, Clock.systemUTC(), Duration.ofMinutes(10));
    for (int r = 0; r < 2; r++) {
      for (int z = 0; z < 2; z++) {
        for (String kind : List.of("c0", "c1", "s0", "t0")) {
          String id = kind + "-" + r + z;
          registry.register(
              NodeRecord.newBuilder()
                  .setNodeId(id)
                  .setTopologyPath(
                      "region=r" + r + "/zone=z" + r + z + "/rack=k" + id + "/node=" + id)
                  .setCapacityBytes(100L << 30)
                  .putLabels("storage.mycnet.io/pool", "core")
                  .setAddress("127.0.0.1:0")
                  .build());
          registry.heartbeat(id);
          (kind.startsWith("c") ? critical : kind.startsWith("s") ? sensitive : standard).add(id);
        }
      }
    }
  }

  /** The evidence an earlier leader gathered, persisted the way a leader persists it. */
  private static void persistEarnedTrust(
      EtcdStore store,
      EtcdKeys keys,
      List<String> critical,
      List<String> sensitive,
      List<String> standard) {
    TestClock clock = new TestClock();
    TrustEngine engine = new TrustEngine(TrustPolicy.defaults(), clock);
    Map<String, Double> vetted = new HashMap<>();
    critical.forEach(n -> vetted.put(n, 1.0));
    sensitive.forEach(n -> vetted.put(n, 0.0));
    Map<String, Double> everyone = new HashMap<>(vetted);
    standard.forEach(n -> everyone.put(n, 1.0));
    for (int i = 0; i < 120; i++) {
      clock.advance(OperatorHarness.TICK);
      List<TrustEvidence> tick = new ArrayList<>();
      (i < 80 ? vetted : everyone)
          .forEach(
              (n, access) -> tick.addAll(OperatorHarness.healthyTick(n, clock.instant(), access)));
      engine.recordAll(tick);
    }
    critical.forEach(n -> assertThat(engine.tier(n)).as(n).isEqualTo(TrustTier.CRITICAL));
    sensitive.forEach(n -> assertThat(engine.tier(n)).as(n).isEqualTo(TrustTier.SENSITIVE));
    standard.forEach(n -> assertThat(engine.tier(n)).as(n).isEqualTo(TrustTier.STANDARD));
    try (TrustPersistence p =
        new TrustPersistence(
            store, keys, engine, () -> true, TrustPersistence.Settings.defaults())) {
      p.restore();
      assertThat(p.flush(true)).isEqualTo(critical.size() + sensitive.size() + standard.size());
    }
  }

  private JavaProcess operator(LocalApiServer api, int httpPort, String name) {
    Map<String, String> env = new HashMap<>();
    env.put("MYCNET_ETCD_ENDPOINTS", String.join(",", ETCD.endpoints()));
    env.put("MYCNET_ETCD_PREFIX", PREFIX);
    env.put("MYCNET_USE_SSA", "false");
    env.put("MYCNET_LEADER_ELECTION", "false");
    env.put("MYCNET_HTTP_PORT", Integer.toString(httpPort));
    // /trust, which this test reads, is served on the probes' port only when that is loopback.
    env.put("MYCNET_HTTP_ADDRESS", "127.0.0.1");
    env.put("MYCNET_REPLICATION_INTERVAL", "1s");
    env.put("MYCNET_PENDING_RECHECK", "1s");
    env.put("MYCNET_DOWN_GRACE_PERIOD", "10m");
    return JavaProcess.start(
        OperatorMain.class.getName(),
        List.of(
            "-Xmx512m",
            "-Dkubernetes.master=" + api.url(),
            "-Dkubernetes.namespace=test",
            "-Dkubernetes.http2.disable=true",
            "-Dkubernetes.auth.tryKubeConfig=false",
            "-Dkubernetes.auth.tryServiceAccount=false",
            "-Dno.proxy=*"),
        List.of(),
        env,
        tmp.resolve("operator-" + name + ".log"));
  }

  private void awaitReady(JavaProcess p, int port) {
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(250))
        .failFast("the operator exited", () -> !p.isAlive())
        .until(
            () -> {
              try {
                return get(port, "/readyz").statusCode() == 200;
              } catch (java.io.IOException e) {
                return false;
              }
            });
  }

  private static HttpResponse<String> get(int port, String path) throws Exception {
    return HttpClient.newHttpClient()
        .send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10))
                .build(),
            HttpResponse.BodyHandlers.ofString());
  }

  private static void applyResources(KubernetesClient kube) throws Exception {
    Path samples = OperatorHarness.repoRoot().resolve("samples");
    for (String f : List.of("00-namespace.yaml", "20-storagepool-core.yaml")) {
      try (InputStream in = Files.newInputStream(samples.resolve(f))) {
        kube.load(in).createOrReplace();
      }
    }
    kube.resource(
            Serialization.unmarshal(
                """
                apiVersion: storage.mycnet.io/v1alpha1
                kind: ServiceNamespace
                metadata:
                  name: everything
                  namespace: mycnet-demo
                spec:
                  quota:
                    bytes: 200Gi
                    volumes: 40
                  allowedClassifications: [CRITICAL, SENSITIVE, STANDARD, PUBLIC]
                  allowedStorageTypes: [CONSENSUS, INFRASTRUCTURE, CONFIGURATION, SERVICE, DISCOVERY]
                  pools: [core]
                """,
                ServiceNamespace.class))
        .create();
  }

  private static StorageClaim claim(String name, String type, String classification) {
    return Serialization.unmarshal(
        "apiVersion: storage.mycnet.io/v1alpha1\nkind: StorageClaim\nmetadata:\n"
            + "  namespace: "
            + NS
            + "\n  name: "
            + name
            + "\nspec:\n  serviceNamespace: everything\n  size: 1Gi\n  storageType: "
            + type
            + "\n"
            + (classification.isEmpty() ? "" : "  classification: " + classification + "\n"),
        StorageClaim.class);
  }

  private static ClaimPhase phase(KubernetesClient kube, String name) {
    StorageClaim c = kube.resources(StorageClaim.class).inNamespace(NS).withName(name).get();
    return c == null || c.getStatus() == null ? null : c.getStatus().getPhase();
  }

  private static void awaitBound(KubernetesClient kube, String name, Runnable agentsConfirm) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              agentsConfirm.run();
              return phase(kube, name) == ClaimPhase.Bound;
            });
  }

  /** Answers every queued CreateReplica with success, as a node's agent does once it created it. */
  private static void confirmCreates(
      EtcdStore store, EtcdKeys keys, io.mycnet.storage.operator.allocation.ReplicaCreation c) {
    var queue = new io.mycnet.storage.operator.nodes.CommandQueue(store, keys);
    for (Versioned<NodeRecord> n : store.list(keys.nodes(), NodeRecord.parser())) {
      String node = n.value().getNodeId();
      for (var cmd : queue.pending(node)) {
        if (cmd.hasCreateReplica()) {
          c.onResult(
              node,
              io.mycnet.storage.api.v1.CommandResult.newBuilder()
                  .setCommandId(cmd.getCommandId())
                  .setOk(true)
                  .setMessage("created")
                  .build());
          queue.ack(node, cmd.getCommandId());
        }
      }
    }
  }

  private static Map<String, Versioned<Allocation>> allocations(EtcdStore store, EtcdKeys keys) {
    Map<String, Versioned<Allocation>> out = new TreeMap<>();
    for (Versioned<Allocation> v : store.list(keys.allocations(), Allocation.parser())) {
      out.put(v.key(), v);
    }
    return out;
  }
}
