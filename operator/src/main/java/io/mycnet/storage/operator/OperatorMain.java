package io.mycnet.storage.operator;

import io.etcd.jetcd.Client;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.mycnet.storage.operator.election.LeaderElection;
import io.mycnet.storage.operator.nodeapi.NodeApiSettings;
import io.mycnet.storage.operator.runtime.ControlPlane;
import io.mycnet.storage.operator.runtime.NodeApiConfig;
import io.mycnet.storage.operator.runtime.NodeApiRuntime;
import io.mycnet.storage.operator.runtime.OperatorRuntime;
import io.mycnet.storage.operator.runtime.OperatorSettings;
import io.mycnet.storage.operator.security.BootstrapTokens;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator process in a cluster: reads {@link OperatorSettings} from {@code MYCNET_*}
 * environment variables, connects to the Kubernetes API (in-cluster config or kubeconfig) and to
 * etcd, and runs the reconcilers. With leader election on, one replica leads through a Lease; it
 * then campaigns for the etcd leadership whose fence guards every allocation write, and it exits
 * when it loses the Lease (Kubernetes restarts it as a standby). With {@code MYCNET_CA_DIR} set it
 * also serves the node API ({@link NodeApiConfig}): agents join and report there, and what it
 * measures feeds the trust engine. An invalid setting exits with code 2 and a message naming the
 * variable.
 */
public final class OperatorMain {
  private static final Logger LOG = LoggerFactory.getLogger(OperatorMain.class);

  private OperatorMain() {}

  public static void main(String[] args) throws Exception {
    OperatorSettings settings;
    NodeApiConfig nodeApi;
    java.time.Duration heartbeat;
    try {
      settings = OperatorSettings.fromEnvironment(System.getenv());
      nodeApi = NodeApiConfig.fromEnvironment(System.getenv());
      heartbeat = NodeApiConfig.heartbeatInterval(System.getenv());
      settings.checkLiveness(heartbeat, NodeApiConfig.agentReconnectMax(System.getenv()));
    } catch (io.mycnet.storage.common.settings.SettingException e) {
      System.err.println("mycnet operator: invalid setting " + e.getMessage());
      System.exit(2);
      return;
    }
    Clock clock = Clock.systemUTC();
    String identity =
        System.getenv().getOrDefault("POD_NAME", InetAddress.getLocalHost().getHostName());
    Client etcd =
        Client.builder().endpoints(settings.etcdEndpoints().toArray(String[]::new)).build();
    KubernetesClient client = new KubernetesClientBuilder().build();
    TrustEngine trust = new TrustEngine(TrustPolicy.defaults(), clock);

    AtomicReference<LeaderElection> etcdElection = new AtomicReference<>();
    ControlPlane cp =
        new ControlPlane(
            etcd,
            settings,
            clock,
            trust,
            () -> {
              LeaderElection e = etcdElection.get();
              return e == null || e.isLeader();
            });
    LeaderElectionConfiguration lease = null;
    if (settings.leaderElection()) {
      LeaderElection election =
          new LeaderElection(
              cp.store,
              cp.keys,
              identity,
              settings.etcdLeaderTtl(),
              new LeaderElection.Listener() {
                @Override
                public void elected(long term) {
                  LOG.info(
                      "etcd leadership won (term {}): allocation writes are fenced by it", term);
                  // Before acting, take over the evidence the previous leader persisted.
                  try {
                    cp.trustPersistence.restore();
                  } catch (RuntimeException e) {
                    LOG.warn("trust not restored yet, retrying: {}", e.getMessage());
                  }
                }

                @Override
                public void deposed(long term) {
                  cp.trustPersistence.leadershipLost();
                  LOG.warn("etcd leadership lost (term {})", term);
                }
              });
      etcdElection.set(election);
      LeaderElectionConfiguration d = new LeaderElectionConfiguration(settings.leaseName());
      lease =
          new LeaderElectionConfiguration(
              settings.leaseName(),
              settings.leaseNamespace(),
              d.getLeaseDuration(),
              d.getRenewDeadline(),
              d.getRetryPeriod(),
              identity,
              new LeaderCallbacks(
                  election::start,
                  election::close,
                  leader -> LOG.info("operator leader: {}", leader)),
              true);
    }
    // The node API: agents join and hold their sessions here; what it measures feeds the trust
    // engine, whose tier transitions reach the replication loop.
    NodeApiRuntime nodeRuntime = null;
    if (nodeApi != null) {
      CertificateAuthority ca;
      BootstrapTokens tokens;
      try {
        ca = CertificateAuthority.openOrCreate(nodeApi.caDir(), clock, nodeApi.nodeCertLifetime());
        tokens = BootstrapTokens.load(nodeApi.tokenFile(), clock);
      } catch (RuntimeException e) {
        System.err.println(
            "mycnet operator: invalid setting MYCNET_CA_DIR or MYCNET_TOKEN_FILE: "
                + e.getMessage());
        System.exit(2);
        return;
      }
      nodeRuntime =
          new NodeApiRuntime(
              cp,
              NodeApiSettings.defaults().withHeartbeatInterval(heartbeat),
              ca,
              tokens,
              new InetSocketAddress(nodeApi.sessionPort()),
              new InetSocketAddress(nodeApi.joinPort()),
              nodeApi.auditInterval(),
              clock);
      LOG.info(
          "node API: session port {}, join port {}",
          nodeRuntime.server().sessionPort(),
          nodeRuntime.server().joinPort());
    }
    NodeApiRuntime nodeRuntimeRef = nodeRuntime;
    OperatorRuntime runtime = new OperatorRuntime(client, cp, settings, clock, lease);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  LOG.info("shutting down: replication decisions stop first");
                  // Stopping is not failing: no replication decision while sessions end.
                  cp.replicationLoop.close();
                  if (nodeRuntimeRef != null) {
                    nodeRuntimeRef.close();
                  }
                  runtime.close();
                  // Write the last evidence while still the leader (the fence lets it land).
                  cp.trustPersistence.close();
                  LeaderElection e = etcdElection.get();
                  if (e != null) {
                    e.close();
                  }
                  cp.close();
                  client.close();
                  etcd.close();
                  stopped.countDown();
                },
                "shutdown"));
    runtime.start();
    LOG.info(
        "mycnet operator started (health on port {}, leader election {})",
        runtime.healthPort(),
        settings.leaderElection() ? "on" : "off");
    stopped.await();
  }
}
