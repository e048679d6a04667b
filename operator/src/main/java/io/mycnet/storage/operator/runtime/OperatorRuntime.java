package io.mycnet.storage.operator.runtime;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.RegisteredController;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.health.InformerHealthIndicator;
import io.javaoperatorsdk.operator.health.InformerWrappingEventSourceHealthIndicator;
import io.javaoperatorsdk.operator.monitoring.micrometer.MicrometerMetrics;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.KubeEvents;
import io.mycnet.storage.operator.reconciler.servicenamespace.ServiceNamespaceReconciler;
import io.mycnet.storage.operator.reconciler.storageclaim.OrphanAllocationCollector;
import io.mycnet.storage.operator.reconciler.storageclaim.StorageClaimReconciler;
import io.mycnet.storage.operator.reconciler.storagepool.StoragePoolReconciler;
import io.mycnet.storage.operator.reconciler.trustpolicy.TrustPolicyReconciler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The JOSDK operator with the four reconcilers over one {@link ControlPlane}, Micrometer metrics
 * and the health endpoints. Server-side apply, leader election, retry, rate limits, resync and
 * watched namespaces all come from {@link OperatorSettings}.
 */
public final class OperatorRuntime implements AutoCloseable {
  private final ControlPlane controlPlane;
  private final OperatorSettings settings;
  private final Operator operator;
  private final KubeEvents events;
  private final PrometheusMeterRegistry metrics;
  private final ScheduledExecutorService etcdProbe;
  private volatile String etcdProblem = "not checked yet";
  private final OrphanAllocationCollector orphans;
  private final io.mycnet.storage.operator.security.SecurityStore security;
  private final io.mycnet.storage.operator.reconciler.node.NodeActionWatcher nodeActions;
  private HealthServer health;
  private HealthServer trustHttp;

  /**
   * @param leaderElection the Lease election (cluster mode), or null when this is the only replica
   *     (tests, local mode)
   */
  public OperatorRuntime(
      KubernetesClient client,
      ControlPlane controlPlane,
      OperatorSettings settings,
      Clock clock,
      LeaderElectionConfiguration leaderElection) {
    this(client, controlPlane, settings, clock, leaderElection, Clock.systemUTC());
  }

  /**
   * @param collectorClock the clock the orphan volume collector measures its delay on
   */
  public OperatorRuntime(
      KubernetesClient client,
      ControlPlane controlPlane,
      OperatorSettings settings,
      Clock clock,
      LeaderElectionConfiguration leaderElection,
      Clock collectorClock) {
    this.controlPlane = controlPlane;
    this.settings = settings;
    this.metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(metrics);
    new JvmThreadMetrics().bindTo(metrics);
    new ProcessorMetrics().bindTo(metrics);
    new UptimeMetrics().bindTo(metrics);
    this.events = new KubeEvents(client, clock);
    this.operator =
        new Operator(
            o -> {
              o.withKubernetesClient(client)
                  .withCloseClientOnStop(false)
                  .withUseSSAToPatchPrimaryResource(settings.useServerSideApply())
                  .withConcurrentReconciliationThreads(settings.reconcileThreads())
                  .withMetrics(MicrometerMetrics.withoutPerResourceMetrics(metrics));
              if (leaderElection != null) {
                o.withLeaderElectionConfiguration(leaderElection);
              }
            });
    Conditions conditions = new Conditions(clock);
    ControlPlane cp = controlPlane;
    cp.replication().addObserver(new ReplicationReports(cp.pools(), events, metrics));
    operator.register(
        new TrustPolicyReconciler(cp.trustEngine(), cp.replicationTrigger(), events, conditions),
        o -> settings.configure(o, false));
    operator.register(
        new StoragePoolReconciler(
            cp.pools(), cp.cluster(), cp.manager(), cp.replicationTrigger(), events, conditions),
        o -> settings.configure(o, false));
    operator.register(
        new ServiceNamespaceReconciler(
            cp.manager(), cp.pools(), cp.allocationEvents(), events, conditions),
        o -> settings.configure(o, true));
    operator.register(
        new StorageClaimReconciler(
            cp.manager(),
            cp.pools(),
            cp.trust(),
            cp.allocationEvents(),
            events,
            conditions,
            settings.pendingRecheck()),
        o -> settings.configure(o, true));
    this.orphans =
        new OrphanAllocationCollector(
            client,
            cp.manager(),
            events,
            settings.watchNamespaces(),
            () -> cp.isLeader().getAsBoolean() && claimsSynced(),
            collectorClock,
            settings.orphanGcDelay());
    FunctionCounter.builder(
            "mycnet.orphan.volumes.released", orphans, OrphanAllocationCollector::releasedTotal)
        .description("volumes released by the garbage collector because their claim was gone")
        .register(metrics);
    this.security =
        new io.mycnet.storage.operator.security.SecurityStore(cp.store(), cp.keys(), clock);
    this.nodeActions =
        new io.mycnet.storage.operator.reconciler.node.NodeActionWatcher(
            client,
            new io.mycnet.storage.operator.security.NodeAdmission(cp.registry(), security, clock),
            cp.attachments(),
            events,
            cp.isLeader());
    this.etcdProbe =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "etcd-probe");
              t.setDaemon(true);
              return t;
            });
  }

  /** Starts the control plane's watches and loop, the operator and the health endpoints. */
  public void start() {
    controlPlane.start();
    etcdProbe.scheduleWithFixedDelay(this::probeEtcd, 0, 5, TimeUnit.SECONDS);
    operator.start();
    orphans.start();
    nodeActions.start();
    if (settings.httpPort() >= 0) {
      Map<String, Supplier<String>> live = new LinkedHashMap<>();
      live.put("operator", () -> operator.getRuntimeInfo().isStarted() ? null : "not started");
      Map<String, Supplier<String>> ready = new LinkedHashMap<>(live);
      ready.put(
          "informers",
          () ->
              operator.getRuntimeInfo().allEventSourcesAreHealthy()
                  ? null
                  : "unhealthy event sources: "
                      + operator.getRuntimeInfo().unhealthyEventSources());
      ready.put("etcd", () -> etcdProblem);
      ready.put("trust", controlPlane::trustReadiness);
      boolean trustHere = settings.httpLoopbackOnly();
      InetSocketAddress bind = new InetSocketAddress(settings.httpAddress(), settings.httpPort());
      try {
        health =
            new HealthServer(
                bind, metrics, live, ready, trustHere ? controlPlane.trustEngine() : null);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot listen on " + bind, e);
      }
      health.start();
      if (!trustHere && settings.trustHttpPort() >= 0) {
        try {
          trustHttp = HealthServer.trustOnly(settings.trustHttpPort(), controlPlane.trustEngine());
        } catch (IOException e) {
          throw new UncheckedIOException(
              "cannot listen on loopback port " + settings.trustHttpPort() + " for /trust", e);
        }
        trustHttp.start();
      }
    }
  }

  private void probeEtcd() {
    try {
      controlPlane.store().getString(controlPlane.keys().leader());
      etcdProblem = null;
    } catch (RuntimeException e) {
      etcdProblem = "unreachable: " + e.getMessage();
    }
  }

  /**
   * Whether the StorageClaim controller runs and every informer it holds has completed its first
   * full listing (JOSDK starts controllers only on the leader).
   */
  private boolean claimsSynced() {
    if (!operator.getRuntimeInfo().isStarted()) {
      return false;
    }
    for (RegisteredController<?> c : operator.getRuntimeInfo().getRegisteredControllers()) {
      if (c.getConfiguration().getResourceClass() != StorageClaim.class) {
        continue;
      }
      var informers = c.getControllerHealthInfo().informerEventSourceHealthIndicators();
      if (informers.isEmpty()) {
        return false;
      }
      for (InformerWrappingEventSourceHealthIndicator<?> i : informers.values()) {
        if (i.informerHealthIndicators().isEmpty()) {
          return false;
        }
        for (InformerHealthIndicator h : i.informerHealthIndicators().values()) {
          if (!h.hasSynced() || !h.isRunning()) {
            return false;
          }
        }
      }
      return true;
    }
    return false;
  }

  /** The garbage collector of volumes whose claim is gone. */
  public OrphanAllocationCollector orphans() {
    return orphans;
  }

  /** The port of the health endpoints, or -1 when they are off. */
  public int healthPort() {
    return health == null ? -1 : health.port();
  }

  /** Where the health endpoints listen, or null when they are off. */
  public InetSocketAddress healthAddress() {
    return health == null ? null : health.address();
  }

  /**
   * Where {@code /trust} is served: the health endpoints' address when it is loopback, else the
   * loopback listener of its own; null when it is not served.
   */
  public InetSocketAddress trustAddress() {
    if (trustHttp != null) {
      return trustHttp.address();
    }
    return health != null && settings.httpLoopbackOnly() ? health.address() : null;
  }

  public PrometheusMeterRegistry metrics() {
    return metrics;
  }

  public Operator operator() {
    return operator;
  }

  public KubeEvents events() {
    return events;
  }

  /**
   * A planned shutdown: the replication loop stops deciding first, so that what ends while the
   * process stops (sessions, reconcilers, the leadership) is never taken for a failed node.
   */
  @Override
  public void close() {
    controlPlane.replicationLoop().close();
    if (trustHttp != null) {
      trustHttp.close();
    }
    if (health != null) {
      health.close();
    }
    etcdProbe.shutdownNow();
    orphans.close();
    nodeActions.close();
    security.close();
    operator.stop();
    events.close();
  }
}
