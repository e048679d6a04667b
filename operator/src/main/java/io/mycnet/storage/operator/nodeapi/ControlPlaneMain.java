package io.mycnet.storage.operator.nodeapi;

import io.etcd.jetcd.Client;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.security.BootstrapTokens;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.SecurityStore;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the node API of the control plane as a process (local mode, tests, benchmarks):
 *
 * <pre>
 * java ... io.mycnet.storage.operator.nodeapi.ControlPlaneMain \
 *   --etcd-endpoints=http://127.0.0.1:2379 --listen=0.0.0.0:7443 \
 *   --ca-dir=/var/lib/mycnet/ca --token-file=/etc/mycnet/tokens
 * </pre>
 *
 * Flags (all {@code --name=value}): {@code etcd-endpoints} (required, comma separated), {@code
 * ca-dir} (required), {@code token-file} (required), {@code listen} (session port, default {@code
 * 0.0.0.0:7443}), {@code join-listen} (default: the listen host, port + 1), {@code etcd-prefix}
 * ({@code /mycnet}), {@code lease-ttl} (15s), {@code heartbeat-interval} (5s), {@code
 * ping-interval} (30s), {@code node-cert-lifetime} (24h), {@code server-names} (localhost,
 * 127.0.0.1, ::1 and the host name), {@code join-failures-per-minute} (20), {@code max-sessions}
 * (20000), {@code audit-interval} (0: off; else every volume's healthy replicas are audited whole
 * that often, {@link AuditCoordinator}), {@code orphan-gc-delay} (0: off; else replicas no volume
 * names are deleted after that long, {@link OrphanReplicaCollector}). Durations: {@code 500ms},
 * {@code 15s}, {@code 10m}, {@code 24h} or ISO-8601. An invalid setting stops the process with exit
 * code 2 and a message naming it. Prints {@code ready session=<port> join=<port>} on stdout once
 * serving.
 */
public final class ControlPlaneMain {
  private static final Logger LOG = LoggerFactory.getLogger(ControlPlaneMain.class);

  private ControlPlaneMain() {}

  /** A setting that cannot be used; the message names it. */
  static final class BadSetting extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BadSetting(String setting, String problem) {
      super("invalid setting --" + setting + ": " + problem);
    }
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> flags;
    Config cfg;
    try {
      flags = parseFlags(args);
      cfg = Config.from(flags);
    } catch (BadSetting e) {
      System.err.println("mycnet control plane: " + e.getMessage());
      System.exit(2);
      return;
    }
    Clock clock = Clock.systemUTC();
    CertificateAuthority ca;
    BootstrapTokens tokens;
    try {
      ca = CertificateAuthority.openOrCreate(cfg.caDir, clock, cfg.nodeCertLifetime);
    } catch (RuntimeException e) {
      System.err.println("mycnet control plane: invalid setting --ca-dir: " + e.getMessage());
      System.exit(2);
      return;
    }
    try {
      tokens = BootstrapTokens.load(cfg.tokenFile, clock);
    } catch (RuntimeException e) {
      System.err.println("mycnet control plane: invalid setting --token-file: " + e.getMessage());
      System.exit(2);
      return;
    }
    Client client = Client.builder().endpoints(cfg.etcdEndpoints.toArray(URI[]::new)).build();
    EtcdStore store = new EtcdStore(client, Duration.ofSeconds(5));
    EtcdKeys keys = new EtcdKeys(cfg.etcdPrefix);
    NodeRegistry registry = new NodeRegistry(store, keys, clock, cfg.leaseTtl);
    CommandQueue queue = new CommandQueue(store, keys);
    SecurityStore security = new SecurityStore(store, keys, clock);
    NodeApiSettings settings =
        NodeApiSettings.defaults()
            .withHeartbeatInterval(cfg.heartbeatInterval)
            .withPingInterval(cfg.pingInterval)
            .withServerNames(cfg.serverNames)
            .withJoinFailuresPerMinute(cfg.joinFailuresPerMinute)
            .withMaxSessions(cfg.maxSessions);
    OrphanReplicaCollector orphans =
        cfg.orphanGcDelay.isZero()
            ? null
            : new OrphanReplicaCollector(store, keys, queue, () -> true, clock, cfg.orphanGcDelay);
    NodeApiServer server =
        new NodeApiServer(
            settings,
            ca,
            tokens,
            security,
            registry,
            queue,
            orphans == null ? NodeMeasurementListener.NONE : orphans,
            clock);
    // The data path's control-plane side: rebuild completions and unhealthy replicas go to the
    // replication manager (only completeRebuild / replicaFailedAudit are used here; reconcile
    // passes are the operator's), and every epoch change is published to the replicas' agents.
    io.mycnet.storage.operator.allocation.NodeTrustSource noTrust =
        id -> io.mycnet.storage.operator.allocation.NodeTrustSource.NodeTrust.UNKNOWN;
    io.mycnet.storage.operator.replication.ReplicationManager replication =
        new io.mycnet.storage.operator.replication.ReplicationManager(
            store,
            keys,
            registry,
            queue,
            new io.mycnet.storage.operator.allocation.ClusterViewCache(store, keys, noTrust),
            new io.mycnet.storage.operator.allocation.PlannerPlacement(r -> java.util.Set.of()),
            noTrust,
            pool -> 1.0,
            io.mycnet.storage.operator.replication.ReplicationManager.Settings.defaults(),
            clock);
    // Create results confirm CREATING replicas and retry refused creates; re-placing a replica
    // whose creates were all refused needs the placement and is the operator's (replaceRefused).
    io.mycnet.storage.operator.allocation.ReplicaCreation creation =
        new io.mycnet.storage.operator.allocation.ReplicaCreation(
            store,
            keys,
            queue,
            null,
            null,
            pool -> 1.0,
            io.mycnet.storage.operator.allocation.ReplicaCreation.DEFAULT_MAX_ATTEMPTS,
            clock);
    server.replicaEvents(ReplicaEvents.of(replication, creation));
    AssignmentPublisher assignments =
        new AssignmentPublisher(store, keys, queue, registry, clock).start();
    server.start(cfg.listen, cfg.joinListen);
    if (orphans != null) {
      orphans.start();
    }
    java.util.concurrent.ScheduledExecutorService auditor = null;
    if (!cfg.auditInterval.isZero()) {
      AuditCoordinator audits =
          new AuditCoordinator(
              store,
              keys,
              queue,
              server,
              NodeMeasurementListener.NONE,
              ReplicaEvents.of(replication, creation),
              clock);
      auditor =
          java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "audits");
                t.setDaemon(true);
                return t;
              });
      auditor.scheduleWithFixedDelay(
          audits::auditEverything,
          cfg.auditInterval.toMillis(),
          cfg.auditInterval.toMillis(),
          java.util.concurrent.TimeUnit.MILLISECONDS);
    }
    java.util.concurrent.ScheduledExecutorService auditorToStop = auditor;
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  LOG.info("shutting down");
                  if (auditorToStop != null) {
                    auditorToStop.shutdownNow();
                  }
                  if (orphans != null) {
                    orphans.close();
                  }
                  assignments.close();
                  server.close();
                  client.close();
                  stopped.countDown();
                },
                "shutdown"));
    System.out.println("ready session=" + server.sessionPort() + " join=" + server.joinPort());
    System.out.flush();
    stopped.await();
  }

  static Map<String, String> parseFlags(String[] args) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String a : args) {
      if (!a.startsWith("--") || a.indexOf('=') < 3) {
        throw new BadSetting(a, "flags are --name=value");
      }
      int eq = a.indexOf('=');
      String name = a.substring(2, eq);
      if (!Config.KNOWN.contains(name)) {
        throw new BadSetting(name, "unknown setting; known: " + String.join(", ", Config.KNOWN));
      }
      out.put(name, a.substring(eq + 1));
    }
    return out;
  }

  /** Parses 500ms, 15s, 10m, 24h, 7d or ISO-8601 (PT15S). */
  static Duration duration(String setting, String v) {
    try {
      return io.mycnet.storage.api.DurationText.parse(v);
    } catch (IllegalArgumentException e) {
      throw new BadSetting(setting, "'" + v + "' is not a duration (e.g. 500ms, 15s, 10m, 24h)");
    }
  }

  static InetSocketAddress address(String setting, String v) {
    int colon = v.lastIndexOf(':');
    if (colon < 0) {
      throw new BadSetting(setting, "'" + v + "' is not host:port");
    }
    String host = v.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(v.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new BadSetting(setting, "'" + v + "': port is not a number");
    }
    if (port < 0 || port > 65535) {
      throw new BadSetting(setting, "'" + v + "': port must be 0 to 65535");
    }
    return host.isEmpty() ? new InetSocketAddress(port) : new InetSocketAddress(host, port);
  }

  /** The validated settings. */
  static final class Config {
    static final List<String> KNOWN =
        List.of(
            "etcd-endpoints",
            "ca-dir",
            "token-file",
            "listen",
            "join-listen",
            "etcd-prefix",
            "lease-ttl",
            "heartbeat-interval",
            "ping-interval",
            "node-cert-lifetime",
            "server-names",
            "join-failures-per-minute",
            "max-sessions",
            "audit-interval",
            "orphan-gc-delay");

    List<URI> etcdEndpoints = new ArrayList<>();
    Path caDir;
    Path tokenFile;
    InetSocketAddress listen;
    InetSocketAddress joinListen;
    String etcdPrefix;
    Duration leaseTtl;
    Duration heartbeatInterval;
    Duration pingInterval;
    Duration nodeCertLifetime;
    List<String> serverNames;
    int joinFailuresPerMinute;
    int maxSessions;
    Duration auditInterval;
    Duration orphanGcDelay;

    static Config from(Map<String, String> f) {
      Config c = new Config();
      String eps = required(f, "etcd-endpoints");
      for (String e : eps.split(",")) {
        try {
          URI u = URI.create(e.strip());
          if (u.getHost() == null || u.getPort() < 0) {
            throw new IllegalArgumentException();
          }
          c.etcdEndpoints.add(u);
        } catch (IllegalArgumentException ex) {
          throw new BadSetting(
              "etcd-endpoints", "'" + e + "' is not an endpoint URL like http://127.0.0.1:2379");
        }
      }
      c.caDir = Path.of(required(f, "ca-dir"));
      if (Files.exists(c.caDir) && !Files.isDirectory(c.caDir)) {
        throw new BadSetting("ca-dir", c.caDir + " exists and is not a directory");
      }
      c.tokenFile = Path.of(required(f, "token-file"));
      if (!Files.isRegularFile(c.tokenFile) || !Files.isReadable(c.tokenFile)) {
        throw new BadSetting("token-file", c.tokenFile + " is not a readable file");
      }
      c.listen = address("listen", f.getOrDefault("listen", "0.0.0.0:7443"));
      c.joinListen =
          f.containsKey("join-listen")
              ? address("join-listen", f.get("join-listen"))
              : new InetSocketAddress(
                  c.listen.getAddress(), c.listen.getPort() == 0 ? 0 : c.listen.getPort() + 1);
      c.etcdPrefix = f.getOrDefault("etcd-prefix", EtcdKeys.DEFAULT_PREFIX);
      try {
        new EtcdKeys(c.etcdPrefix);
      } catch (IllegalArgumentException e) {
        throw new BadSetting("etcd-prefix", e.getMessage());
      }
      c.leaseTtl = duration("lease-ttl", f.getOrDefault("lease-ttl", "15s"));
      if (c.leaseTtl.toSeconds() < 1) {
        throw new BadSetting("lease-ttl", "must be at least 1s");
      }
      c.heartbeatInterval =
          duration("heartbeat-interval", f.getOrDefault("heartbeat-interval", "5s"));
      if (c.heartbeatInterval.toMillis() < 100 || c.heartbeatInterval.compareTo(c.leaseTtl) >= 0) {
        throw new BadSetting(
            "heartbeat-interval",
            "must be at least 100ms and shorter than --lease-ttl ("
                + c.leaseTtl.toSeconds()
                + "s), ideally a third of it");
      }
      c.pingInterval = duration("ping-interval", f.getOrDefault("ping-interval", "30s"));
      if (c.pingInterval.toMillis() < 100) {
        throw new BadSetting("ping-interval", "must be at least 100ms");
      }
      c.nodeCertLifetime =
          duration("node-cert-lifetime", f.getOrDefault("node-cert-lifetime", "24h"));
      if (c.nodeCertLifetime.toMinutes() < 1 || c.nodeCertLifetime.toDays() > 366) {
        throw new BadSetting("node-cert-lifetime", "must be between 1m and 366d");
      }
      List<String> names = new ArrayList<>();
      if (f.containsKey("server-names")) {
        for (String n : f.get("server-names").split(",")) {
          if (!n.isBlank()) {
            names.add(n.strip());
          }
        }
        if (names.isEmpty()) {
          throw new BadSetting("server-names", "is empty");
        }
      } else {
        names.addAll(List.of("localhost", "127.0.0.1", "::1"));
        try {
          String h = InetAddress.getLocalHost().getHostName();
          if (!names.contains(h)) {
            names.add(h);
          }
        } catch (java.io.IOException e) {
          // no host name: the loopback names suffice
        }
      }
      c.serverNames = names;
      c.joinFailuresPerMinute = positive(f, "join-failures-per-minute", "20");
      c.maxSessions = positive(f, "max-sessions", "20000");
      c.auditInterval =
          f.containsKey("audit-interval")
              ? duration("audit-interval", f.get("audit-interval"))
              : Duration.ZERO;
      if (c.auditInterval.isNegative()) {
        throw new BadSetting("audit-interval", "must not be negative");
      }
      c.orphanGcDelay =
          f.containsKey("orphan-gc-delay")
              ? duration("orphan-gc-delay", f.get("orphan-gc-delay"))
              : Duration.ZERO;
      if (c.orphanGcDelay.isNegative()) {
        throw new BadSetting("orphan-gc-delay", "must not be negative");
      }
      return c;
    }

    private static String required(Map<String, String> f, String name) {
      String v = f.get(name);
      if (v == null || v.isBlank()) {
        throw new BadSetting(name, "is required");
      }
      return v;
    }

    private static int positive(Map<String, String> f, String name, String dflt) {
      String v = f.getOrDefault(name, dflt);
      try {
        int n = Integer.parseInt(v);
        if (n >= 1) {
          return n;
        }
      } catch (NumberFormatException e) {
        // fall through
      }
      throw new BadSetting(name, "'" + v + "' is not a positive whole number");
    }
  }
}
