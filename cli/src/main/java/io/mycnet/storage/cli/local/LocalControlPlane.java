package io.mycnet.storage.cli.local;

import io.etcd.jetcd.Client;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.mycnet.storage.common.process.ReadyLine;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.local.LocalApiServer;
import io.mycnet.storage.operator.nodeapi.NodeApiSettings;
import io.mycnet.storage.operator.runtime.ControlPlane;
import io.mycnet.storage.operator.runtime.ControlPlaneProcess;
import io.mycnet.storage.operator.runtime.NodeApiConfig;
import io.mycnet.storage.operator.runtime.NodeApiRuntime;
import io.mycnet.storage.operator.runtime.OperatorRuntime;
import io.mycnet.storage.operator.runtime.OperatorSettings;
import io.mycnet.storage.operator.runtime.TrustPersistence;
import io.mycnet.storage.operator.trust.TrustEngine;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Local mode's control plane, one process: the same {@link ControlPlane}, reconcilers ({@link
 * OperatorRuntime}) and node API ({@link NodeApiRuntime}) as the operator in a cluster, with the
 * Fabric8 mock API server (CRUD mode) standing in for the Kubernetes API, a {@link ManifestWatcher}
 * applying the manifest directory to it, and the nodes' {@link TrustHistory} recorded into the
 * trust engine at their first start (later starts restore the trust persisted in etcd). {@code
 * mycnet local up} starts it; it serves the CSI controller on {@link
 * LocalState#csiControllerSocket} and prints {@code ready session=.. join=.. http=.. csi=.. api=..}
 * once serving.
 */
@Command(
    name = "mycnet-control-plane",
    mixinStandardHelpOptions = true,
    description = "Local mode's control plane (started by `mycnet local up`).")
public final class LocalControlPlane implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(LocalControlPlane.class);

  @Option(names = "--state-dir", required = true, description = "local mode's state directory")
  Path stateDir;

  @Option(names = "--etcd", required = true, description = "etcd endpoint, http://127.0.0.1:PORT")
  String etcd;

  @Option(names = "--manifests", required = true, description = "manifest directory to apply")
  Path manifests;

  @Option(names = "--topology", required = true, description = "the topology file")
  Path topologyFile;

  @Option(names = "--session-port", defaultValue = "0")
  int sessionPort;

  @Option(names = "--join-port", defaultValue = "0")
  int joinPort;

  @Option(names = "--audit-interval", defaultValue = "0s", description = "0s: no periodic audits")
  String auditInterval;

  public static void main(String[] args) {
    System.exit(new CommandLine(new LocalControlPlane()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    LocalTopology topology = LocalTopology.read(topologyFile);
    Clock clock = Clock.systemUTC();
    LocalState state = new LocalState(stateDir);
    LocalApiServer api =
        new LocalApiServer(
            StoragePool.class, TrustPolicy.class, ServiceNamespace.class, StorageClaim.class);
    KubernetesClient kube = api.newClient();
    Client etcdClient = Client.builder().endpoints(etcd).build();
    OperatorSettings settings =
        OperatorSettings.fromEnvironment(
            Map.of(
                "MYCNET_ETCD_ENDPOINTS",
                etcd,
                "MYCNET_USE_SSA",
                "false",
                "MYCNET_LEADER_ELECTION",
                "false",
                "MYCNET_NODE_LEASE_TTL",
                topology.nodeLeaseTtl().toMillis() + "ms",
                "MYCNET_DOWN_GRACE_PERIOD",
                topology.downGrace().toMillis() + "ms",
                "MYCNET_REPLICATION_INTERVAL",
                "2s",
                "MYCNET_PENDING_RECHECK",
                "2s",
                "MYCNET_ORPHAN_GC_DELAY",
                System.getenv().getOrDefault("MYCNET_ORPHAN_GC_DELAY", "30s"),
                "MYCNET_HTTP_PORT",
                "0",
                "MYCNET_HTTP_ADDRESS",
                "127.0.0.1"));
    // The CSI controller, on the socket `mycnet volume mount` and the sanity suite talk to.
    Path csiSocket = state.csiControllerSocket();
    state.prepareSocketDir(csiSocket);
    settings = settings.withCsiControllerSocket(csiSocket);
    TrustEngine trust =
        new TrustEngine(io.mycnet.storage.operator.trust.TrustPolicy.defaults(), clock);
    NodeApiConfig nodeApiConfig =
        new NodeApiConfig(
            state.caDir(),
            state.tokenFile(),
            sessionPort,
            joinPort,
            Duration.ofHours(24),
            io.mycnet.storage.common.settings.DurationText.parse(auditInterval),
            "127.0.0.1",
            NodeApiSettings.defaults().pingInterval(),
            List.of("localhost", "127.0.0.1"),
            NodeApiSettings.defaults().joinFailuresPerMinute(),
            NodeApiSettings.defaults().maxSessions());
    ControlPlaneProcess process =
        ControlPlaneProcess.builder(settings, kube, etcdClient)
            .clock(clock)
            .trustEngine(trust)
            .nodeApi(nodeApiConfig, topology.heartbeatInterval())
            // A node's history is seeded once, at its first start; later starts restore its real
            // evidence.
            .seedTrust(
                cp -> {
                  Set<String> persisted = TrustPersistence.persistedNodes(cp.store(), cp.keys());
                  List<String> seeded =
                      TrustHistory.seed(trust, topology, clock.instant(), persisted);
                  LOG.info(
                      "trust seeded from the topology for {}, restored for {}", seeded, persisted);
                })
            .build();
    // The stand-in API starts empty: apply the manifests (and what the applied record says was
    // removed while stopped) before the reconcilers and the orphan collector first look at it.
    ManifestWatcher watcher =
        new ManifestWatcher(kube, manifests, state.manifestStatus(), state.appliedManifests())
            .start(1000);
    // One Kubernetes Node object per node of the topology, as a cluster has: operator actions on a
    // node (mycnet node remove/readmit) are annotations on it, as in a cluster.
    for (LocalTopology.Node n : topology.nodes()) {
      if (kube.nodes().withName(n.id()).get() == null) {
        kube.nodes()
            .resource(
                new io.fabric8.kubernetes.api.model.NodeBuilder()
                    .withNewMetadata()
                    .withName(n.id())
                    .endMetadata()
                    .build())
            .create();
      }
    }
    process.start();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  // Stopping is not failing: no replication decision while sessions end.
                  process.controlPlane().replicationLoop().close();
                  watcher.close();
                  process.close();
                  kube.close();
                  api.close();
                  etcdClient.close();
                  stopped.countDown();
                },
                "shutdown"));
    Map<String, Object> ready = new LinkedHashMap<>(process.readyFields());
    ready.put("api", api.url());
    ReadyLine.print(System.out, ready);
    stopped.await();
    return 0;
  }
}
