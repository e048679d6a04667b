package io.mycnet.storage.operator.runtime;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.api.config.ControllerConfigurationOverrider;
import io.javaoperatorsdk.operator.processing.event.rate.LinearRateLimiter;
import io.javaoperatorsdk.operator.processing.retry.GenericRetry;
import io.mycnet.storage.common.settings.Check;
import io.mycnet.storage.common.settings.ProcessSettings;
import io.mycnet.storage.common.settings.Setting;
import io.mycnet.storage.common.settings.SettingException;
import io.mycnet.storage.common.settings.SettingValues;
import io.mycnet.storage.operator.store.EtcdKeys;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Every tunable of the operator process, read once ({@link #fromEnvironment}) and applied to every
 * controller in one place ({@link #configure}).
 *
 * @param watchNamespaces namespaces whose ServiceNamespaces and StorageClaims are reconciled; empty
 *     means all
 * @param useServerSideApply patch status with server-side apply (a real API server); off against
 *     the Fabric8 mock server, which answers SSA patches with 415
 * @param leaderElection elect one active replica through a Lease (cluster mode); the etcd election
 *     that fences allocation writes follows it
 * @param leaseNamespace namespace of the Lease; null: the operator's own namespace
 * @param resyncInterval longest time between two reconciles of a resource (status refresh)
 * @param pendingRecheck how often a Pending claim is tried again
 * @param httpPort port of /metrics, /livez, /readyz; 0 picks a free one, -1 disables
 * @param httpAddress the IP address that port binds; when it is a loopback address, /trust is
 *     served on the same port
 * @param trustHttpPort port of /trust (node weaknesses), always bound to loopback only, used when
 *     {@code httpAddress} is not loopback: reachable in a cluster only through {@code kubectl
 *     port-forward}, which the API server authorises; 0 picks a free one, -1 disables
 * @param orphanGcDelay how long a volume whose claim is gone (or a replica no volume names) must
 *     stay so before the garbage collector releases it; at least one second
 * @param massFailureShare silent nodes above this share of all nodes hold every node DOWN decision
 *     (a suspected partition, docs/replication.md); in (0, 1], 1 never holds for the share
 */
public record OperatorSettings(
    List<String> etcdEndpoints,
    String etcdPrefix,
    Set<String> watchNamespaces,
    boolean useServerSideApply,
    boolean leaderElection,
    String leaseName,
    String leaseNamespace,
    Duration etcdLeaderTtl,
    int reconcileThreads,
    int retryMaxAttempts,
    Duration retryInitialInterval,
    double retryMultiplier,
    Duration retryMaxInterval,
    Duration rateLimitPeriod,
    int rateLimitPerPeriod,
    Duration resyncInterval,
    Duration pendingRecheck,
    Duration replicationInterval,
    Duration nodeLeaseTtl,
    Duration downGracePeriod,
    int httpPort,
    String httpAddress,
    int trustHttpPort,
    Duration orphanGcDelay,
    double massFailureShare,
    Path csiControllerSocket) {

  /** The shortest orphan delay accepted: a claim must be seen absent over more than one pass. */
  public static final Duration MIN_ORPHAN_GC_DELAY = Duration.ofSeconds(1);

  // The settings, declared once: name (MYCNET_ + upper case), type, default, checks, meaning.
  // Adding one: declare it here (or in NodeApiConfig), add it to SETTINGS, read it below.

  public static final Setting<List<String>> ETCD_ENDPOINTS =
      Setting.list("etcd-endpoints")
          .defaultValue(List.of("http://127.0.0.1:2379"))
          .doc("etcd client URLs, comma separated");
  public static final Setting<String> ETCD_PREFIX =
      Setting.string("etcd-prefix")
          .defaultValue("/mycnet")
          .check((v, t) -> etcdPrefixProblem(v))
          .doc("prefix of every key the control plane keeps in etcd");
  public static final Setting<List<String>> WATCH_NAMESPACES =
      Setting.list("watch-namespaces")
          .defaultValue(List.of())
          .defaultText("all")
          .doc(
              "namespaces whose ServiceNamespaces and StorageClaims are reconciled, comma"
                  + " separated; empty: all");
  public static final Setting<Boolean> USE_SSA =
      Setting.bool("use-ssa")
          .defaultValue(true)
          .doc("patch status with server-side apply (off only against a mock API server)");
  public static final Setting<Boolean> LEADER_ELECTION =
      Setting.bool("leader-election")
          .defaultValue(true)
          .doc(
              "elect one active replica through a Lease; the etcd election that fences"
                  + " allocation writes follows it");
  public static final Setting<String> LEASE_NAME =
      Setting.string("lease-name").defaultValue("mycnet-operator").doc("name of that Lease");
  public static final Setting<String> LEASE_NAMESPACE =
      Setting.string("lease-namespace")
          .defaultText("the operator's own namespace")
          .doc("namespace of that Lease");
  public static final Setting<Duration> ETCD_LEADER_TTL =
      Setting.duration("etcd-leader-ttl")
          .defaultValue(Duration.ofSeconds(15))
          .doc("TTL of the etcd leadership that fences every allocation write");
  public static final Setting<Integer> RECONCILE_THREADS =
      Setting.integer("reconcile-threads")
          .defaultValue(10)
          .check(Check.atLeast(1))
          .doc("threads that run the reconcilers");
  public static final Setting<Integer> RETRY_MAX_ATTEMPTS =
      Setting.integer("retry-max-attempts")
          .defaultValue(8)
          .check(Check.atLeast(0))
          .doc("retries of a failed reconcile before it waits for the next change");
  public static final Setting<Duration> RETRY_INITIAL_INTERVAL =
      Setting.duration("retry-initial-interval")
          .defaultValue(Duration.ofSeconds(2))
          .doc("wait before the first retry of a failed reconcile");
  public static final Setting<Double> RETRY_MULTIPLIER =
      Setting.decimal("retry-multiplier")
          .defaultValue(2.0)
          .check(Check.atLeast(1.0))
          .doc("factor each further retry wait grows by (at least 1.0)");
  public static final Setting<Duration> RETRY_MAX_INTERVAL =
      Setting.duration("retry-max-interval")
          .defaultValue(Duration.ofMinutes(2))
          .doc("longest wait between two retries");
  public static final Setting<Duration> RATE_LIMIT_PERIOD =
      Setting.duration("rate-limit-period")
          .defaultValue(Duration.ofSeconds(1))
          .doc("period of the reconcile rate limit");
  public static final Setting<Integer> RATE_LIMIT_PER_PERIOD =
      Setting.integer("rate-limit-per-period")
          .defaultValue(100)
          .check(Check.atLeast(1))
          .doc("reconciles of one resource per rate-limit period");
  public static final Setting<Duration> RESYNC_INTERVAL =
      Setting.duration("resync-interval")
          .defaultValue(Duration.ofMinutes(5))
          .doc("longest time between two reconciles of a resource (status refresh)");
  public static final Setting<Duration> PENDING_RECHECK =
      Setting.duration("pending-recheck")
          .defaultValue(Duration.ofSeconds(30))
          .doc("how often a Pending claim is tried again");
  public static final Setting<Duration> REPLICATION_INTERVAL =
      Setting.duration("replication-interval")
          .defaultValue(Duration.ofSeconds(30))
          .doc("how often the replication loop looks at every volume's replicas");
  public static final Setting<Duration> NODE_LEASE_TTL =
      Setting.duration("node-lease-ttl")
          .defaultValue(Duration.ofSeconds(15))
          .doc(
              "a node's lease, renewed by its heartbeats; at least two heartbeat intervals"
                  + " (docs/node-protocol.md#liveness-timings)");
  public static final Setting<Duration> DOWN_GRACE_PERIOD =
      Setting.duration("down-grace-period")
          .defaultValue(Duration.ofMinutes(10))
          .doc(
              "how long a node stays silent before it is marked DOWN and its replicas are rebuilt"
                  + " elsewhere; more than node-lease-ttl + 1.2 × agent-reconnect-max");
  public static final Setting<Integer> HTTP_PORT =
      Setting.integer("http-port")
          .defaultValue(8080)
          .check(Check.atLeast(-1))
          .doc("port of /metrics, /livez, /readyz; 0: a free one, -1: off");
  public static final Setting<String> HTTP_ADDRESS =
      Setting.string("http-address")
          .defaultValue("0.0.0.0")
          .check((v, t) -> literal(v) == null ? notAnIpAddress(v) : null)
          .doc(
              "the IP address http-port binds; when it is a loopback address, /trust is served"
                  + " on the same port");
  public static final Setting<Integer> TRUST_HTTP_PORT =
      Setting.integer("trust-http-port")
          .defaultValue(8081)
          .check(Check.atLeast(-1))
          .doc(
              "port of /trust and /trust/NODE (which name every node's failing gates), bound to"
                  + " loopback only, used when http-address is not loopback: in a cluster only"
                  + " kubectl port-forward reaches it; -1: off");
  public static final Setting<Duration> ORPHAN_GC_DELAY =
      Setting.duration("orphan-gc-delay")
          .defaultValue(Duration.ofMinutes(5))
          .check(Check.atLeast(MIN_ORPHAN_GC_DELAY))
          .doc(
              "how long a volume without a claim, or a replica no volume names, stays so before"
                  + " it is released (docs/resources.md#garbage-collection)");
  public static final Setting<Double> MASS_FAILURE_SHARE =
      Setting.decimal("mass-failure-share")
          .defaultValue(0.3)
          .check((v, t) -> v > 0 && v <= 1 ? null : shareProblem(v))
          .doc(
              "more nodes than this share of all silent at once hold every DOWN decision (a"
                  + " suspected partition, docs/replication.md); in (0, 1]");

  public static final Setting<Path> CSI_CONTROLLER_SOCKET =
      Setting.path("csi-controller-socket")
          .defaultText("off")
          .doc(
              "the Unix socket where the CSI controller (driver `storage.mycnet.io`) serves the"
                  + " Identity and Controller services to the CSI sidecars; only the leader acts,"
                  + " a standby answers UNAVAILABLE");

  /** The settings of this record, in the reference's order. */
  public static final List<Setting<?>> SETTINGS =
      List.of(
          ETCD_ENDPOINTS,
          ETCD_PREFIX,
          WATCH_NAMESPACES,
          USE_SSA,
          LEADER_ELECTION,
          LEASE_NAME,
          LEASE_NAMESPACE,
          ETCD_LEADER_TTL,
          RECONCILE_THREADS,
          RETRY_MAX_ATTEMPTS,
          RETRY_INITIAL_INTERVAL,
          RETRY_MULTIPLIER,
          RETRY_MAX_INTERVAL,
          RATE_LIMIT_PERIOD,
          RATE_LIMIT_PER_PERIOD,
          RESYNC_INTERVAL,
          PENDING_RECHECK,
          REPLICATION_INTERVAL,
          NODE_LEASE_TTL,
          DOWN_GRACE_PERIOD,
          HTTP_PORT,
          HTTP_ADDRESS,
          TRUST_HTTP_PORT,
          ORPHAN_GC_DELAY,
          MASS_FAILURE_SHARE,
          CSI_CONTROLLER_SOCKET);

  /** Every setting of the operator process: these and the node API's ({@link NodeApiConfig}). */
  public static final ProcessSettings PROCESS =
      new ProcessSettings(
          "Operator",
          "OperatorMain",
          "`MYCNET_*` environment variables. An invalid value stops the operator with exit code 2"
              + " naming the variable; so do timings that do not hold together"
              + " ([docs/node-protocol.md](docs/node-protocol.md#liveness-timings)). With"
              + " `MYCNET_CA_DIR` set it also serves the node API.",
          false,
          null,
          Stream.concat(SETTINGS.stream(), NodeApiConfig.SETTINGS.stream()).toList());

  public OperatorSettings {
    problem(ETCD_PREFIX, etcdPrefix);
    problem(HTTP_ADDRESS, httpAddress);
    problem(ORPHAN_GC_DELAY, orphanGcDelay);
    problem(MASS_FAILURE_SHARE, massFailureShare);
  }

  private static <T> void problem(Setting<T> s, T value) {
    String p = s.problem(value);
    if (p != null) {
      throw new SettingException(s.name(), s.envName(), p);
    }
  }

  private static String etcdPrefixProblem(String v) {
    try {
      new EtcdKeys(v);
      return null;
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  private static String notAnIpAddress(String v) {
    return "'" + v + "' is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)";
  }

  private static String shareProblem(double v) {
    return "must be above 0 and at most 1, was " + v;
  }

  /** Production defaults (cluster mode): every declaration's default. */
  public static OperatorSettings defaults() {
    return fromEnvironment(Map.of());
  }

  /**
   * Settings for tests and benchmarks against the mock server: no SSA, no leader election, short
   * intervals, no HTTP endpoint.
   */
  public static OperatorSettings forMockServer(List<String> etcdEndpoints, String etcdPrefix) {
    OperatorSettings d = defaults();
    return new OperatorSettings(
        etcdEndpoints,
        etcdPrefix,
        Set.of(),
        false,
        false,
        d.leaseName,
        null,
        d.etcdLeaderTtl,
        d.reconcileThreads,
        d.retryMaxAttempts,
        Duration.ofMillis(200),
        2.0,
        Duration.ofSeconds(5),
        d.rateLimitPeriod,
        1000,
        Duration.ofSeconds(10),
        Duration.ofSeconds(1),
        Duration.ofSeconds(30),
        Duration.ofMinutes(10),
        Duration.ofMinutes(10),
        -1,
        "127.0.0.1",
        -1,
        d.orphanGcDelay,
        d.massFailureShare,
        d.csiControllerSocket);
  }

  public OperatorSettings withHttpPort(int port) {
    return new OperatorSettings(
        etcdEndpoints,
        etcdPrefix,
        watchNamespaces,
        useServerSideApply,
        leaderElection,
        leaseName,
        leaseNamespace,
        etcdLeaderTtl,
        reconcileThreads,
        retryMaxAttempts,
        retryInitialInterval,
        retryMultiplier,
        retryMaxInterval,
        rateLimitPeriod,
        rateLimitPerPeriod,
        resyncInterval,
        pendingRecheck,
        replicationInterval,
        nodeLeaseTtl,
        downGracePeriod,
        port,
        httpAddress,
        trustHttpPort,
        orphanGcDelay,
        massFailureShare,
        csiControllerSocket);
  }

  /** The HTTP endpoints on {@code address:port}, and /trust's own loopback port. */
  public OperatorSettings withHttp(String address, int port, int trustPort) {
    return new OperatorSettings(
        etcdEndpoints,
        etcdPrefix,
        watchNamespaces,
        useServerSideApply,
        leaderElection,
        leaseName,
        leaseNamespace,
        etcdLeaderTtl,
        reconcileThreads,
        retryMaxAttempts,
        retryInitialInterval,
        retryMultiplier,
        retryMaxInterval,
        rateLimitPeriod,
        rateLimitPerPeriod,
        resyncInterval,
        pendingRecheck,
        replicationInterval,
        nodeLeaseTtl,
        downGracePeriod,
        port,
        address,
        trustPort,
        orphanGcDelay,
        massFailureShare,
        csiControllerSocket);
  }

  public OperatorSettings withReconcileThreads(int threads) {
    return new OperatorSettings(
        etcdEndpoints,
        etcdPrefix,
        watchNamespaces,
        useServerSideApply,
        leaderElection,
        leaseName,
        leaseNamespace,
        etcdLeaderTtl,
        threads,
        retryMaxAttempts,
        retryInitialInterval,
        retryMultiplier,
        retryMaxInterval,
        rateLimitPeriod,
        rateLimitPerPeriod,
        resyncInterval,
        pendingRecheck,
        replicationInterval,
        nodeLeaseTtl,
        downGracePeriod,
        httpPort,
        httpAddress,
        trustHttpPort,
        orphanGcDelay,
        massFailureShare,
        csiControllerSocket);
  }

  public OperatorSettings withOrphanGcDelay(Duration delay) {
    return new OperatorSettings(
        etcdEndpoints,
        etcdPrefix,
        watchNamespaces,
        useServerSideApply,
        leaderElection,
        leaseName,
        leaseNamespace,
        etcdLeaderTtl,
        reconcileThreads,
        retryMaxAttempts,
        retryInitialInterval,
        retryMultiplier,
        retryMaxInterval,
        rateLimitPeriod,
        rateLimitPerPeriod,
        resyncInterval,
        pendingRecheck,
        replicationInterval,
        nodeLeaseTtl,
        downGracePeriod,
        httpPort,
        httpAddress,
        trustHttpPort,
        delay,
        massFailureShare,
        csiControllerSocket);
  }

  /** The same settings with the CSI controller served on {@code socket} (null: off). */
  public OperatorSettings withCsiControllerSocket(Path socket) {
    return new OperatorSettings(
        etcdEndpoints,
        etcdPrefix,
        watchNamespaces,
        useServerSideApply,
        leaderElection,
        leaseName,
        leaseNamespace,
        etcdLeaderTtl,
        reconcileThreads,
        retryMaxAttempts,
        retryInitialInterval,
        retryMultiplier,
        retryMaxInterval,
        rateLimitPeriod,
        rateLimitPerPeriod,
        resyncInterval,
        pendingRecheck,
        replicationInterval,
        nodeLeaseTtl,
        downGracePeriod,
        httpPort,
        httpAddress,
        trustHttpPort,
        orphanGcDelay,
        massFailureShare,
        socket);
  }

  /**
   * Reads the {@code MYCNET_*} variables of {@link #SETTINGS} over their defaults. Durations as
   * ISO-8601 or 500ms, 15s, 10m, 2h.
   *
   * @throws SettingException naming the variable
   */
  public static OperatorSettings fromEnvironment(Map<String, String> env) {
    SettingValues v = PROCESS.read(env);
    return new OperatorSettings(
        v.get(ETCD_ENDPOINTS),
        v.get(ETCD_PREFIX),
        Set.copyOf(v.get(WATCH_NAMESPACES)),
        v.get(USE_SSA),
        v.get(LEADER_ELECTION),
        v.get(LEASE_NAME),
        v.get(LEASE_NAMESPACE),
        v.get(ETCD_LEADER_TTL),
        v.get(RECONCILE_THREADS),
        v.get(RETRY_MAX_ATTEMPTS),
        v.get(RETRY_INITIAL_INTERVAL),
        v.get(RETRY_MULTIPLIER),
        v.get(RETRY_MAX_INTERVAL),
        v.get(RATE_LIMIT_PERIOD),
        v.get(RATE_LIMIT_PER_PERIOD),
        v.get(RESYNC_INTERVAL),
        v.get(PENDING_RECHECK),
        v.get(REPLICATION_INTERVAL),
        v.get(NODE_LEASE_TTL),
        v.get(DOWN_GRACE_PERIOD),
        v.get(HTTP_PORT),
        v.get(HTTP_ADDRESS),
        v.get(TRUST_HTTP_PORT),
        v.get(ORPHAN_GC_DELAY),
        v.get(MASS_FAILURE_SHARE),
        v.isSet(CSI_CONTROLLER_SOCKET) ? v.get(CSI_CONTROLLER_SOCKET).toAbsolutePath() : null);
  }

  /** The names of the liveness settings as operator environment variables. */
  public static final LivenessTimings.Names LIVENESS_VARIABLES =
      new LivenessTimings.Names(
          NodeApiConfig.HEARTBEAT_INTERVAL.envName(),
          NODE_LEASE_TTL.envName(),
          NodeApiConfig.AGENT_RECONNECT_MAX.envName(),
          DOWN_GRACE_PERIOD.envName());

  /**
   * Checks that the node lease, the grace period, the agents' heartbeat interval and their
   * reconnect backoff hold together ({@link LivenessTimings}); the operator calls it at start.
   *
   * @throws SettingException naming the variables whose relation does not hold
   */
  public void checkLiveness(Duration heartbeatInterval, Duration agentReconnectMax) {
    new LivenessTimings(heartbeatInterval, nodeLeaseTtl, agentReconnectMax, downGracePeriod)
        .problem(LIVENESS_VARIABLES)
        .ifPresent(
            p -> {
              String first = p.settings().split(",")[0].strip();
              throw new SettingException(
                  first.substring("MYCNET_".length()).toLowerCase(Locale.ROOT).replace('_', '-'),
                  p.settings(),
                  p.message());
            });
  }

  /**
   * Applies namespaces (to namespaced resources), retry, rate limit and resync interval to one
   * controller: the single place where they are set.
   */
  public <P extends HasMetadata> void configure(
      ControllerConfigurationOverrider<P> o, boolean namespaced) {
    if (namespaced) {
      if (watchNamespaces.isEmpty()) {
        o.watchingAllNamespaces();
      } else {
        o.settingNamespaces(new TreeSet<>(watchNamespaces));
      }
    }
    o.withRetry(
        new GenericRetry()
            .setMaxAttempts(retryMaxAttempts)
            .setInitialInterval(retryInitialInterval.toMillis())
            .setIntervalMultiplier(retryMultiplier)
            .setMaxInterval(retryMaxInterval.toMillis()));
    o.withRateLimiter(new LinearRateLimiter(rateLimitPeriod, rateLimitPerPeriod));
    o.withReconciliationMaxInterval(resyncInterval);
  }

  /** Whether {@code a} is an IPv4 or IPv6 literal (parsed, never looked up). */
  static boolean isIpLiteral(String a) {
    return a != null && literal(a) != null;
  }

  /** Whether the HTTP endpoints bind a loopback address only (then /trust shares their port). */
  public boolean httpLoopbackOnly() {
    InetAddress a = literal(httpAddress);
    return a != null && a.isLoopbackAddress();
  }

  private static final java.util.regex.Pattern IPV4 =
      java.util.regex.Pattern.compile(
          "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
              + "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])");

  /** An IP literal as an address, never by a name lookup; null when it is not one. */
  private static InetAddress literal(String a) {
    if (!IPV4.matcher(a).matches() && !a.contains(":")) {
      return null;
    }
    try {
      return InetAddress.getByName(a); // a literal: parsed, not looked up
    } catch (UnknownHostException e) {
      return null;
    }
  }
}
