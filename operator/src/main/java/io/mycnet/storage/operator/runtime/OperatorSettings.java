package io.mycnet.storage.operator.runtime;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.api.config.ControllerConfigurationOverrider;
import io.javaoperatorsdk.operator.processing.event.rate.LinearRateLimiter;
import io.javaoperatorsdk.operator.processing.retry.GenericRetry;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

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
    double massFailureShare) {

  /** The shortest orphan delay accepted: a claim must be seen absent over more than one pass. */
  public static final Duration MIN_ORPHAN_GC_DELAY = Duration.ofSeconds(1);

  public OperatorSettings {
    try {
      new io.mycnet.storage.operator.allocation.EtcdKeys(etcdPrefix);
    } catch (IllegalArgumentException e) {
      throw new BadSetting("MYCNET_ETCD_PREFIX", e.getMessage());
    }
    if (literal(httpAddress) == null) {
      throw new BadSetting(
          "MYCNET_HTTP_ADDRESS",
          "'" + httpAddress + "' is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)");
    }
    if (orphanGcDelay.compareTo(MIN_ORPHAN_GC_DELAY) < 0) {
      throw new BadSetting(
          "MYCNET_ORPHAN_GC_DELAY", "must be at least 1s, was " + orphanGcDelay.toMillis() + "ms");
    }
    if (!(massFailureShare > 0 && massFailureShare <= 1)) {
      throw new BadSetting(
          "MYCNET_MASS_FAILURE_SHARE", "must be above 0 and at most 1, was " + massFailureShare);
    }
  }

  /** A setting that cannot be used; the message names the environment variable. */
  public static final class BadSetting extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public BadSetting(String variable, String problem) {
      super(variable + ": " + problem);
    }
  }

  /** Production defaults (cluster mode). */
  public static OperatorSettings defaults() {
    return new OperatorSettings(
        List.of("http://127.0.0.1:2379"),
        "/mycnet",
        Set.of(),
        true,
        true,
        "mycnet-operator",
        null,
        Duration.ofSeconds(15),
        10,
        8,
        Duration.ofSeconds(2),
        2.0,
        Duration.ofMinutes(2),
        Duration.ofSeconds(1),
        100,
        Duration.ofMinutes(5),
        Duration.ofSeconds(30),
        Duration.ofSeconds(30),
        Duration.ofSeconds(15),
        Duration.ofMinutes(10),
        8080,
        "0.0.0.0",
        8081,
        Duration.ofMinutes(5),
        0.3);
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
        d.massFailureShare);
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
        massFailureShare);
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
        massFailureShare);
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
        massFailureShare);
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
        massFailureShare);
  }

  /**
   * Reads {@code MYCNET_*} variables over the defaults: ETCD_ENDPOINTS (comma separated),
   * ETCD_PREFIX, WATCH_NAMESPACES (comma separated; empty: all), USE_SSA, LEADER_ELECTION,
   * LEASE_NAME, LEASE_NAMESPACE, ETCD_LEADER_TTL, RECONCILE_THREADS, RETRY_MAX_ATTEMPTS,
   * RETRY_INITIAL_INTERVAL, RETRY_MULTIPLIER, RETRY_MAX_INTERVAL, RATE_LIMIT_PERIOD,
   * RATE_LIMIT_PER_PERIOD, RESYNC_INTERVAL, PENDING_RECHECK, REPLICATION_INTERVAL, NODE_LEASE_TTL,
   * DOWN_GRACE_PERIOD, HTTP_PORT, HTTP_ADDRESS, TRUST_HTTP_PORT, ORPHAN_GC_DELAY,
   * MASS_FAILURE_SHARE. Durations as ISO-8601 or 500ms, 15s, 10m, 2h.
   *
   * @throws BadSetting naming the variable
   */
  public static OperatorSettings fromEnvironment(Map<String, String> env) {
    OperatorSettings d = defaults();
    Function<String, String> get = k -> env.get("MYCNET_" + k);
    return new OperatorSettings(
        list(get.apply("ETCD_ENDPOINTS"), d.etcdEndpoints),
        str(get.apply("ETCD_PREFIX"), d.etcdPrefix),
        Set.copyOf(list(get.apply("WATCH_NAMESPACES"), List.of())),
        bool("MYCNET_USE_SSA", get.apply("USE_SSA"), d.useServerSideApply),
        bool("MYCNET_LEADER_ELECTION", get.apply("LEADER_ELECTION"), d.leaderElection),
        str(get.apply("LEASE_NAME"), d.leaseName),
        str(get.apply("LEASE_NAMESPACE"), null),
        dur("MYCNET_ETCD_LEADER_TTL", get.apply("ETCD_LEADER_TTL"), d.etcdLeaderTtl),
        num("MYCNET_RECONCILE_THREADS", get.apply("RECONCILE_THREADS"), d.reconcileThreads, 1),
        num("MYCNET_RETRY_MAX_ATTEMPTS", get.apply("RETRY_MAX_ATTEMPTS"), d.retryMaxAttempts, 0),
        dur(
            "MYCNET_RETRY_INITIAL_INTERVAL",
            get.apply("RETRY_INITIAL_INTERVAL"),
            d.retryInitialInterval),
        dbl("MYCNET_RETRY_MULTIPLIER", get.apply("RETRY_MULTIPLIER"), d.retryMultiplier),
        dur("MYCNET_RETRY_MAX_INTERVAL", get.apply("RETRY_MAX_INTERVAL"), d.retryMaxInterval),
        dur("MYCNET_RATE_LIMIT_PERIOD", get.apply("RATE_LIMIT_PERIOD"), d.rateLimitPeriod),
        num(
            "MYCNET_RATE_LIMIT_PER_PERIOD",
            get.apply("RATE_LIMIT_PER_PERIOD"),
            d.rateLimitPerPeriod,
            1),
        dur("MYCNET_RESYNC_INTERVAL", get.apply("RESYNC_INTERVAL"), d.resyncInterval),
        dur("MYCNET_PENDING_RECHECK", get.apply("PENDING_RECHECK"), d.pendingRecheck),
        dur(
            "MYCNET_REPLICATION_INTERVAL",
            get.apply("REPLICATION_INTERVAL"),
            d.replicationInterval),
        dur("MYCNET_NODE_LEASE_TTL", get.apply("NODE_LEASE_TTL"), d.nodeLeaseTtl),
        dur("MYCNET_DOWN_GRACE_PERIOD", get.apply("DOWN_GRACE_PERIOD"), d.downGracePeriod),
        num("MYCNET_HTTP_PORT", get.apply("HTTP_PORT"), d.httpPort, -1),
        address(get.apply("HTTP_ADDRESS"), d.httpAddress),
        num("MYCNET_TRUST_HTTP_PORT", get.apply("TRUST_HTTP_PORT"), d.trustHttpPort, -1),
        dur("MYCNET_ORPHAN_GC_DELAY", get.apply("ORPHAN_GC_DELAY"), d.orphanGcDelay),
        share("MYCNET_MASS_FAILURE_SHARE", get.apply("MASS_FAILURE_SHARE"), d.massFailureShare));
  }

  /** The names of the liveness settings as operator environment variables. */
  public static final LivenessTimings.Names LIVENESS_VARIABLES =
      new LivenessTimings.Names(
          "MYCNET_HEARTBEAT_INTERVAL",
          "MYCNET_NODE_LEASE_TTL",
          "MYCNET_AGENT_RECONNECT_MAX",
          "MYCNET_DOWN_GRACE_PERIOD");

  /**
   * Checks that the node lease, the grace period, the agents' heartbeat interval and their
   * reconnect backoff hold together ({@link LivenessTimings}); the operator calls it at start.
   *
   * @throws BadSetting naming the variables whose relation does not hold
   */
  public void checkLiveness(Duration heartbeatInterval, Duration agentReconnectMax) {
    new LivenessTimings(heartbeatInterval, nodeLeaseTtl, agentReconnectMax, downGracePeriod)
        .problem(LIVENESS_VARIABLES)
        .ifPresent(
            p -> {
              throw new BadSetting(p.settings(), p.message());
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

  private static String address(String v, String dflt) {
    if (v == null || v.isBlank()) {
      return dflt;
    }
    return v.trim(); // checked by the constructor
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

  private static String str(String v, String dflt) {
    return v == null || v.isBlank() ? dflt : v.trim();
  }

  private static List<String> list(String v, List<String> dflt) {
    if (v == null) {
      return dflt;
    }
    return Arrays.stream(v.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
  }

  private static boolean bool(String name, String v, boolean dflt) {
    if (v == null || v.isBlank()) {
      return dflt;
    }
    if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
      return Boolean.parseBoolean(v);
    }
    throw new BadSetting(name, "must be true or false, was '" + v + "'");
  }

  private static int num(String name, String v, int dflt, int min) {
    if (v == null || v.isBlank()) {
      return dflt;
    }
    try {
      int n = Integer.parseInt(v.trim());
      if (n < min) {
        throw new BadSetting(name, "must be >= " + min + ", was " + n);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new BadSetting(name, "must be a whole number, was '" + v + "'");
    }
  }

  private static double dbl(String name, String v, double dflt) {
    double n = number(name, v, dflt);
    if (!(n >= 1.0)) {
      throw new BadSetting(name, "must be >= 1.0, was " + n);
    }
    return n;
  }

  /** A share in (0, 1]. */
  private static double share(String name, String v, double dflt) {
    double n = number(name, v, dflt);
    if (!(n > 0 && n <= 1)) {
      throw new BadSetting(name, "must be above 0 and at most 1, was " + n);
    }
    return n;
  }

  private static double number(String name, String v, double dflt) {
    if (v == null || v.isBlank()) {
      return dflt;
    }
    try {
      return Double.parseDouble(v.trim());
    } catch (NumberFormatException e) {
      throw new BadSetting(name, "must be a number, was '" + v + "'");
    }
  }

  static Duration dur(String name, String v, Duration dflt) {
    if (v == null || v.isBlank()) {
      return dflt;
    }
    Duration d;
    try {
      d = io.mycnet.storage.api.DurationText.parse(v);
    } catch (IllegalArgumentException e) {
      throw new BadSetting(name, "'" + v + "' is not a duration (e.g. 500ms, 15s, 10m, 2h, PT15S)");
    }
    if (d.isNegative()) {
      throw new BadSetting(name, "must not be negative, was " + v);
    }
    return d;
  }
}
