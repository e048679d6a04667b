package io.mycnet.storage.agent.it;

import io.etcd.jetcd.Client;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.local.LocalApiServer;
import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.runtime.TrustPersistence;
import io.mycnet.storage.operator.security.SecurityStore;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.KeyValueStore;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvidence;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The production control plane ({@code OperatorMain}) as a separate process on loopback against a
 * real etcd, with the Fabric8 mock API server (CRUD mode, in this JVM) as its Kubernetes API, plus
 * agents ({@code NodeAgentMain}) as separate processes, and the test's own view of etcd (registry,
 * queues, revocations) through the same classes the control plane uses. The nodes a test names
 * ({@link #trusting}) bring a vetted history with them, persisted in etcd the way a leader persists
 * it before the control plane starts (as local mode's nodes do): the control plane restores it and
 * trusts them CRITICAL. The StoragePool {@code default} holds every node and the TrustPolicy {@code
 * tests} asks for no encrypted disks, both applied through the mock API server as a user applies
 * them; the control plane's replication loop decides every rebuild, failover and take-back (9 s
 * grace). The volumes the tests allocate (through the storage manager, as no claim) live in
 * namespaces the reconcilers do not watch. Every process is stopped by PID in {@link #close}.
 */
final class ControlPlaneFixture implements AutoCloseable {
  static final String CP_MAIN = "io.mycnet.storage.operator.OperatorMain";
  static final String AGENT_MAIN = "io.mycnet.storage.agent.NodeAgentMain";
  static final String PREFIX = "/mycnet";
  static final Duration STOP_GRACE = Duration.ofSeconds(10);

  final Path dir;
  final Path caDir;
  final Path tokenFile;
  final List<String> etcdEndpoints;
  final KeyValueStore store;
  final EtcdKeys keys = new EtcdKeys(PREFIX);
  final NodeRegistry registry;
  final CommandQueue queue;
  final SecurityStore security;
  private final List<ChildProcess> processes = new CopyOnWriteArrayList<>();
  private final Set<String> trusted = new TreeSet<>();
  private LocalApiServer api;
  ChildProcess controlPlane;
  private int starts;
  int sessionPort;
  int joinPort;

  ControlPlaneFixture(Path dir, Client etcd, List<String> etcdEndpoints, String tokens) {
    this.dir = dir;
    this.caDir = dir.resolve("ca");
    this.tokenFile = dir.resolve("tokens");
    this.etcdEndpoints = etcdEndpoints;
    try {
      Files.writeString(tokenFile, tokens);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    this.store = new EtcdStore(etcd, Duration.ofSeconds(5));
    this.registry = new NodeRegistry(store, keys, Clock.systemUTC(), Duration.ofSeconds(2));
    this.queue = new CommandQueue(store, keys);
    this.security = new SecurityStore(store, keys, Clock.systemUTC());
  }

  /** The nodes that come with a vetted history (CRITICAL); before {@link #startControlPlane}. */
  ControlPlaneFixture trusting(List<String> nodes) {
    trusted.addAll(nodes);
    return this;
  }

  /**
   * Starts the control plane: heartbeat 500 ms, lease TTL 2 s, ping 500 ms, everything on loopback,
   * ports picked by the system; {@code extra}: further {@code MYCNET_NAME=value} settings.
   */
  ControlPlaneFixture startControlPlane(String... extra) {
    if (api == null) {
      api =
          new LocalApiServer(
              StoragePool.class,
              io.mycnet.storage.crds.v1alpha1.TrustPolicy.class,
              ServiceNamespace.class,
              StorageClaim.class);
    }
    persistTrustHistory();
    Map<String, String> env = new LinkedHashMap<>();
    env.put("MYCNET_ETCD_ENDPOINTS", String.join(",", etcdEndpoints));
    env.put("MYCNET_ETCD_PREFIX", PREFIX);
    env.put("MYCNET_USE_SSA", "false");
    env.put("MYCNET_LEADER_ELECTION", "false");
    // The tests allocate volumes through the storage manager, not through claims: their
    // namespaces are not the reconcilers', so no claim reconciler or orphan collector owns them.
    env.put("MYCNET_WATCH_NAMESPACES", "mycnet-reconciled");
    env.put("MYCNET_HTTP_ADDRESS", "127.0.0.1");
    env.put("MYCNET_HTTP_PORT", "0");
    env.put("MYCNET_CA_DIR", caDir.toString());
    env.put("MYCNET_TOKEN_FILE", tokenFile.toString());
    env.put("MYCNET_NODE_API_ADDRESS", "127.0.0.1");
    env.put("MYCNET_SESSION_PORT", "0");
    env.put("MYCNET_JOIN_PORT", "0");
    env.put("MYCNET_HEARTBEAT_INTERVAL", "500ms");
    env.put("MYCNET_NODE_LEASE_TTL", "2s");
    env.put("MYCNET_PING_INTERVAL", "500ms");
    env.put("MYCNET_SERVER_NAMES", "127.0.0.1,localhost");
    // The replication loop decides as in production (a pass every 30 s and on every liveness
    // change), a silent node DOWN 9 s after its lease lapsed (the shortest grace the liveness check
    // accepts with a 2 s lease and the agents' 5 s reconnect backoff).
    env.put("MYCNET_DOWN_GRACE_PERIOD", "9s");
    // Three- and four-node clusters: one silent node is a third or a quarter of them, which the
    // production default (0.3) would already hold as a suspected partition.
    env.put("MYCNET_MASS_FAILURE_SHARE", "0.5");
    for (String e : extra) {
      int eq = e.indexOf('=');
      env.put(e.substring(0, eq), e.substring(eq + 1));
    }
    controlPlane = startJava("control-plane-" + (++starts), CP_MAIN, List.of(), env, "384m");
    Map<String, String> ready = controlPlane.awaitReady(Duration.ofSeconds(120));
    sessionPort = Integer.parseInt(ready.get("session"));
    joinPort = Integer.parseInt(ready.get("join"));
    applyDefaultPool();
    return this;
  }

  /**
   * What a user of this test cluster applies: the StoragePool every test volume is in (every node,
   * the whole hierarchy, every classification) and a TrustPolicy for nodes whose disks are not
   * encrypted (the agents run without encryption at rest unless a test says otherwise): no
   * encryption gate and no weight on encryption compliance, every other field the default. Waits
   * until the control plane has reconciled both.
   */
  private void applyDefaultPool() {
    apply(
        io.mycnet.storage.crds.v1alpha1.TrustPolicy.class,
        "tests",
        String.join(
            "\n",
            "apiVersion: storage.mycnet.io/v1alpha1",
            "kind: TrustPolicy",
            "metadata:",
            "  name: tests",
            "spec:",
            "  default: true",
            "  weights:",
            "    uptime: 0.20",
            "    dataIntegrity: 0.25",
            "    ioPerformance: 0.05",
            "    responseTime: 0.10",
            "    encryptionCompliance: 0.0",
            "    accessControl: 0.10",
            "    consensusParticipation: 0.15",
            "    networkContribution: 0.05",
            "  gates: []",
            ""));
    apply(
        StoragePool.class,
        "default",
        String.join(
            "\n",
            "apiVersion: storage.mycnet.io/v1alpha1",
            "kind: StoragePool",
            "metadata:",
            "  name: default",
            "spec:",
            "  description: every node of the test",
            "  hierarchyLevels: [region, zone, rack, node]",
            "  defaultStrategy: HIERARCHY_AWARE",
            "  classifications: [CRITICAL, SENSITIVE, STANDARD, PUBLIC]",
            "  overcommitRatio: 1.0",
            "  maxRebuildsPerNode: 2",
            "  maxRebuildsPerPool: 8",
            ""));
  }

  private <T extends io.fabric8.kubernetes.api.model.HasMetadata> void apply(
      Class<T> type, String name, String yaml) {
    try (KubernetesClient kube = api.newClient()) {
      kube.load(new java.io.ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)))
          .createOrReplace();
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                T r = kube.resources(type).withName(name).get();
                if (r == null) {
                  return false;
                }
                Object status = type.getMethod("getStatus").invoke(r);
                if (status == null) {
                  return false;
                }
                @SuppressWarnings("unchecked")
                List<io.fabric8.kubernetes.api.model.Condition> conditions =
                    (List<io.fabric8.kubernetes.api.model.Condition>)
                        status.getClass().getMethod("getConditions").invoke(status);
                return conditions.stream()
                    .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
              });
    }
  }

  /**
   * The history of a node vetted over 30 hours (120 audits passed, every heartbeat seen), recorded
   * into a trust engine and persisted the way a leader persists it, for every trusted node that has
   * no persisted record yet (later starts restore what the control plane wrote).
   */
  private void persistTrustHistory() {
    Set<String> persisted = TrustPersistence.persistedNodes(store, keys);
    List<String> nodes = trusted.stream().filter(n -> !persisted.contains(n)).toList();
    if (nodes.isEmpty()) {
      return;
    }
    Duration tick = Duration.ofMinutes(15);
    int ticks = 120;
    Instant[] now = {Instant.now().minus(tick.multipliedBy(ticks))};
    Clock clock =
        new Clock() {
          @Override
          public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
          }

          @Override
          public Clock withZone(java.time.ZoneId zone) {
            return this;
          }

          @Override
          public Instant instant() {
            return now[0];
          }
        };
    TrustEngine engine = new TrustEngine(TrustPolicy.defaults(), clock);
    for (int i = 0; i < ticks; i++) {
      now[0] = now[0].plus(tick);
      Instant at = now[0];
      List<TrustEvidence> evidence = new ArrayList<>();
      for (String n : nodes) {
        evidence.add(new TrustEvidence.Heartbeat(n, at, true));
        evidence.add(
            new TrustEvidence.LatencySample(
                n, at, TrustEvidence.RoundTrip.HEARTBEAT, Duration.ofMillis(20)));
        evidence.add(new TrustEvidence.ReplicationAck(n, at, true));
        evidence.add(
            new TrustEvidence.IntegrityAudit(n, at, TrustEvidence.AuditKind.CHALLENGE, true));
        evidence.add(new TrustEvidence.BytesServed(n, at, 1_000_000, 1_000_000));
        evidence.add(new TrustEvidence.ReportedFactor(n, at, TrustFactor.IO_PERFORMANCE, 1.0));
        evidence.add(
            new TrustEvidence.ReportedFactor(n, at, TrustFactor.ENCRYPTION_COMPLIANCE, 1.0));
        evidence.add(new TrustEvidence.ReportedFactor(n, at, TrustFactor.ACCESS_CONTROL, 1.0));
      }
      engine.recordAll(evidence);
    }
    for (String n : nodes) {
      if (engine.tier(n) != TrustTier.CRITICAL) {
        throw new IllegalStateException(n + "'s history earned " + engine.tier(n));
      }
    }
    try (TrustPersistence p =
        new TrustPersistence(
            store, keys, engine, () -> true, TrustPersistence.Settings.defaults())) {
      p.restore();
      p.flush(true);
    }
  }

  /**
   * Waits until the control plane's replication loop has been quiet (no acting pass logged) for two
   * seconds, bounded: the passes the agents' arrival triggered are over, so that what a test
   * allocates next is not decided on while its replicas are still being created.
   */
  void awaitReplicationQuiet() {
    long[] last = {-1};
    long[] since = {System.nanoTime()};
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(250))
        .until(
            () -> {
              long n = controlPlane.countInStderr("replication pass:");
              if (n != last[0]) {
                last[0] = n;
                since[0] = System.nanoTime();
                return false;
              }
              return System.nanoTime() - since[0] > Duration.ofSeconds(2).toNanos();
            });
  }

  Path caFile() {
    return caDir.resolve("ca.crt");
  }

  /**
   * A new client of the mock API server (the caller closes it); after {@link #startControlPlane}.
   */
  KubernetesClient kube() {
    return api.newClient();
  }

  Path agentDataDir(String nodeId) {
    return dir.resolve("agents").resolve(nodeId);
  }

  /** Writes a token file for an agent. */
  Path agentTokenFile(String nodeId, String token) {
    try {
      Path f = dir.resolve("agent-tokens").resolve(nodeId);
      Files.createDirectories(f.getParent());
      Files.writeString(f, token + "\n");
      return f;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Starts an agent process and waits for it to be up (not necessarily joined). */
  ChildProcess startAgent(String nodeId, String token, String... extra) {
    return startAgentAt(nodeId, token, "region=eu/zone=eu-1/rack=r1/node=" + nodeId, extra);
  }

  /** Starts an agent process at {@code topology} and waits for it to be up. */
  ChildProcess startAgentAt(String nodeId, String token, String topology, String... extra) {
    List<String> args = new ArrayList<>();
    args.add("--node-id=" + nodeId);
    args.add("--topology=" + topology);
    args.add("--owner=tests");
    args.add("--data-dir=" + agentDataDir(nodeId));
    args.add("--capacity=1GiB");
    args.add("--control-plane=127.0.0.1:" + sessionPort);
    args.add("--join-address=127.0.0.1:" + joinPort);
    args.add("--token-file=" + agentTokenFile(nodeId, token));
    args.add("--ca-file=" + caFile());
    args.add("--listen=127.0.0.1:0");
    args.add("--probe-bytes=256KiB");
    args.addAll(List.of(extra));
    ChildProcess p = startJava("agent-" + nodeId, AGENT_MAIN, args, Map.of(), "128m");
    p.awaitReady(Duration.ofSeconds(30));
    return p;
  }

  /** Runs a main class that is expected to exit (e.g. on a bad setting). */
  ChildProcess run(String name, String mainClass, List<String> args) {
    return run(name, mainClass, args, Map.of());
  }

  /** As {@link #run(String, String, List)}, with {@code env} added to the environment. */
  ChildProcess run(String name, String mainClass, List<String> args, Map<String, String> env) {
    return startJava(name, mainClass, args, env, "128m");
  }

  private ChildProcess startJava(
      String name, String mainClass, List<String> args, Map<String, String> env, String heap) {
    Path logs = dir.resolve("logs");
    List<String> jvm = new ArrayList<>();
    jvm.add("-Xmx" + heap);
    jvm.add("-XX:+UseSerialGC");
    jvm.add("-XX:TieredStopAtLevel=1");
    jvm.add("-Dorg.slf4j.simpleLogger.showDateTime=true");
    if (api != null) {
      // The operator's Kubernetes client: the mock API server, no kubeconfig, no service account.
      jvm.add("-Dkubernetes.master=" + api.url());
      jvm.add("-Dkubernetes.namespace=test");
      jvm.add("-Dkubernetes.http2.disable=true");
      jvm.add("-Dkubernetes.auth.tryKubeConfig=false");
      jvm.add("-Dkubernetes.auth.tryServiceAccount=false");
      jvm.add("-Dno.proxy=*");
    }
    ChildProcess p =
        ChildProcess.java(mainClass)
            .name(name)
            .jvmArgs(jvm)
            .args(args)
            .env(env)
            .log(logs.resolve(name + ".out"))
            .stderr(logs.resolve(name + ".err"))
            .start();
    processes.add(p);
    return p;
  }

  NodeIdentity storedIdentity(String nodeId) {
    return NodeIdentity.load(agentDataDir(nodeId)).orElseThrow();
  }

  @Override
  public void close() {
    for (ChildProcess p : processes) {
      p.stop(STOP_GRACE);
    }
    if (api != null) {
      api.close();
    }
    security.close();
  }
}
