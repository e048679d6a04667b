package io.mycnet.storage.operator.runtime;

import io.etcd.jetcd.Client;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.grpc.BindableService;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.mycnet.storage.common.settings.SettingException;
import io.mycnet.storage.csi.CsiNames;
import io.mycnet.storage.csi.UnixSocketGrpc;
import io.mycnet.storage.operator.csi.CsiController;
import io.mycnet.storage.operator.csi.CsiIdentity;
import io.mycnet.storage.operator.election.LeaderElection;
import io.mycnet.storage.operator.security.BootstrapTokens;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root of the control plane: the one place where a {@link ControlPlane}, its node
 * API ({@link NodeApiRuntime}), its reconcilers ({@link OperatorRuntime}) and, in a cluster, the
 * leader election are assembled. The operator process ({@code OperatorMain}) and local mode's
 * control plane both build it; they differ only in what they pass (settings, the Kubernetes API,
 * and local mode's hook that seeds the nodes' trust history).
 *
 * <p>{@link Builder#build} wires everything and starts serving the node API (when configured);
 * {@link #start} starts the control plane's watches and loop, the reconcilers and the health
 * endpoints; {@link #close} is the planned shutdown (replication decisions stop first). The
 * Kubernetes and etcd clients stay the caller's.
 */
public final class ControlPlaneProcess implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ControlPlaneProcess.class);

  private final ControlPlane controlPlane;
  private final NodeApiRuntime nodeApi;
  private final OperatorRuntime runtime;
  private final LeaderElection election;
  private final boolean leaderElection;
  private final KubernetesClient kube;
  private final Path csiSocket;
  private UnixSocketGrpc.Served csi;

  /** A control plane over {@code etcd} reconciling the resources of {@code kube}. */
  public static Builder builder(OperatorSettings settings, KubernetesClient kube, Client etcd) {
    return new Builder(settings, kube, etcd);
  }

  /** What a control plane process is made of; every part but the three given has a default. */
  public static final class Builder {
    private final OperatorSettings settings;
    private final KubernetesClient kube;
    private final Client etcd;
    private NodeApiConfig nodeApi;
    private Duration heartbeatInterval;
    private Clock clock = Clock.systemUTC();
    private TrustEngine trustEngine;
    private String identity = "mycnet-operator";
    private Consumer<ControlPlane> seedTrust = cp -> {};

    private Builder(OperatorSettings settings, KubernetesClient kube, Client etcd) {
      this.settings = settings;
      this.kube = kube;
      this.etcd = etcd;
    }

    /**
     * Serves the node API as {@code config} says, telling agents to heartbeat every {@code
     * heartbeatInterval}; without it there is no node API.
     */
    public Builder nodeApi(NodeApiConfig config, Duration heartbeatInterval) {
      this.nodeApi = config;
      this.heartbeatInterval = heartbeatInterval;
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** The trust engine (default: a new one under the default policy). */
    public Builder trustEngine(TrustEngine trustEngine) {
      this.trustEngine = trustEngine;
      return this;
    }

    /** This replica's name in the leader elections (the pod's name in a cluster). */
    public Builder identity(String identity) {
      this.identity = identity;
      return this;
    }

    /**
     * Called once the control plane is built, before the node API serves and anything acts: local
     * mode records its nodes' trust history into the engine here.
     */
    public Builder seedTrust(Consumer<ControlPlane> seedTrust) {
      this.seedTrust = seedTrust;
      return this;
    }

    /**
     * Wires the control plane and starts serving the node API.
     *
     * @throws SettingException when the CA directory or the token file cannot be used
     */
    public ControlPlaneProcess build() {
      return new ControlPlaneProcess(this);
    }
  }

  private ControlPlaneProcess(Builder b) {
    OperatorSettings settings = b.settings;
    Clock clock = b.clock;
    TrustEngine trust =
        b.trustEngine != null ? b.trustEngine : new TrustEngine(TrustPolicy.defaults(), clock);
    this.leaderElection = settings.leaderElection();
    this.kube = b.kube;
    this.csiSocket = settings.csiControllerSocket();
    AtomicReference<LeaderElection> etcdElection = new AtomicReference<>();
    this.controlPlane =
        ControlPlane.builder(b.etcd, settings)
            .clock(clock)
            .trustEngine(trust)
            .isLeader(
                () -> {
                  LeaderElection e = etcdElection.get();
                  return e == null || e.isLeader();
                })
            .build();
    ControlPlane cp = controlPlane;
    LeaderElectionConfiguration lease = null;
    if (leaderElection) {
      LeaderElection e =
          new LeaderElection(
              cp.store(),
              cp.keys(),
              b.identity,
              settings.etcdLeaderTtl(),
              new LeaderElection.Listener() {
                @Override
                public void elected(long term) {
                  LOG.info(
                      "etcd leadership won (term {}): allocation writes are fenced by it", term);
                  // Before acting, take over the evidence the previous leader persisted.
                  try {
                    cp.trustPersistence().restore();
                  } catch (RuntimeException ex) {
                    LOG.warn("trust not restored yet, retrying: {}", ex.getMessage());
                  }
                }

                @Override
                public void deposed(long term) {
                  cp.trustPersistence().leadershipLost();
                  LOG.warn("etcd leadership lost (term {})", term);
                }
              });
      etcdElection.set(e);
      LeaderElectionConfiguration d = new LeaderElectionConfiguration(settings.leaseName());
      lease =
          new LeaderElectionConfiguration(
              settings.leaseName(),
              settings.leaseNamespace(),
              d.getLeaseDuration(),
              d.getRenewDeadline(),
              d.getRetryPeriod(),
              b.identity,
              new LeaderCallbacks(
                  e::start, e::close, leader -> LOG.info("operator leader: {}", leader)),
              true);
    }
    this.election = etcdElection.get();
    b.seedTrust.accept(cp);
    // The node API: agents join and hold their sessions here; what it measures feeds the trust
    // engine, whose tier transitions reach the replication loop.
    NodeApiRuntime node = null;
    if (b.nodeApi != null) {
      NodeApiConfig c = b.nodeApi;
      CertificateAuthority ca;
      BootstrapTokens tokens;
      try {
        ca = CertificateAuthority.openOrCreate(c.caDir(), clock, c.nodeCertLifetime());
      } catch (RuntimeException e) {
        cp.close();
        throw new SettingException("ca-dir", "MYCNET_CA_DIR", e.getMessage());
      }
      try {
        tokens = BootstrapTokens.load(c.tokenFile(), clock);
      } catch (RuntimeException e) {
        cp.close();
        throw new SettingException("token-file", "MYCNET_TOKEN_FILE", e.getMessage());
      }
      node =
          new NodeApiRuntime(
              cp,
              c.settings(b.heartbeatInterval),
              ca,
              tokens,
              new InetSocketAddress(c.address(), c.sessionPort()),
              new InetSocketAddress(c.address(), c.joinPort()),
              c.auditInterval(),
              clock);
      LOG.info(
          "node API: session port {}, join port {}",
          node.server().sessionPort(),
          node.server().joinPort());
    }
    this.nodeApi = node;
    this.runtime = new OperatorRuntime(b.kube, cp, settings, clock, lease);
  }

  /** Starts the control plane's watches and loop, the reconcilers and the health endpoints. */
  public ControlPlaneProcess start() {
    runtime.start();
    if (csiSocket != null) {
      serveCsi();
    }
    LOG.info(
        "control plane started (health on port {}, leader election {})",
        runtime.healthPort(),
        leaderElection ? "on" : "off");
    return this;
  }

  /**
   * Serves the CSI driver's Identity and Controller services on the configured Unix socket
   * (docs/csi.md): the controller acts only while this process leads; Probe is ready while etcd
   * answers and a leader is known.
   */
  private void serveCsi() {
    ControlPlane cp = controlPlane;
    CsiController controller =
        new CsiController(
            new CsiController.Parts(
                kube,
                cp.manager(),
                cp.attachments(),
                cp.registry(),
                cp.cluster(),
                cp.pools(),
                cp.trust(),
                cp.isLeader()),
            CsiController.Timeouts.defaults());
    CsiIdentity identity =
        CsiIdentity.controller(
            () -> {
              String leader;
              try {
                leader = cp.store().getString(cp.keys().leader()).orElse("");
              } catch (RuntimeException e) {
                return "etcd is not reachable: " + e.getMessage();
              }
              if (leaderElection && leader.isEmpty() && !cp.isLeader().getAsBoolean()) {
                return "no control plane leader is elected yet";
              }
              return null;
            });
    try {
      csi = UnixSocketGrpc.serve(csiSocket, List.<BindableService>of(identity, controller));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    LOG.info("CSI controller (driver {}) serving on {}", CsiNames.DRIVER_NAME, csiSocket);
  }

  public ControlPlane controlPlane() {
    return controlPlane;
  }

  /** The node API, or null when it is off. */
  public NodeApiRuntime nodeApi() {
    return nodeApi;
  }

  public OperatorRuntime runtime() {
    return runtime;
  }

  /**
   * What the process's ready line reports: {@code session} and {@code join} (the node API's ports,
   * when it is on), {@code http} (the health endpoints' port, -1 when off) and {@code csi} (the CSI
   * controller's Unix socket, when it is served; after {@link #start}).
   */
  public Map<String, Object> readyFields() {
    Map<String, Object> f = new LinkedHashMap<>();
    if (nodeApi != null) {
      f.put("session", nodeApi.server().sessionPort());
      f.put("join", nodeApi.server().joinPort());
    }
    f.put("http", runtime.healthPort());
    if (csi != null) {
      f.put("csi", csi.socket());
    }
    return f;
  }

  /**
   * A planned shutdown: the replication loop stops deciding first, so that what ends while the
   * process stops (sessions, reconcilers, the leadership) is never taken for a failed node; the
   * last trust evidence is written while still the leader.
   */
  @Override
  public void close() {
    LOG.info("shutting down: replication decisions stop first");
    controlPlane.replicationLoop().close();
    if (csi != null) {
      csi.close();
    }
    if (nodeApi != null) {
      nodeApi.close();
    }
    runtime.close();
    controlPlane.trustPersistence().close();
    if (election != null) {
      election.close();
    }
    controlPlane.close();
  }
}
