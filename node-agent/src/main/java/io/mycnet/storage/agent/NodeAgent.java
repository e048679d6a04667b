package io.mycnet.storage.agent;

import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.mycnet.storage.agent.command.AppliedCommands;
import io.mycnet.storage.agent.command.CommandDispatch;
import io.mycnet.storage.agent.command.CommandExecutor;
import io.mycnet.storage.agent.csi.CsiNodePlugin;
import io.mycnet.storage.agent.data.DataServer;
import io.mycnet.storage.agent.data.VolumeIoCalls;
import io.mycnet.storage.agent.frontend.AttachedVolumes;
import io.mycnet.storage.agent.identity.IdentityKeys;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.agent.identity.Revocations;
import io.mycnet.storage.agent.nbd.NbdServer;
import io.mycnet.storage.agent.replica.NamespaceKeys;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.agent.replica.Scrubber;
import io.mycnet.storage.agent.replication.GrpcReplicaLink;
import io.mycnet.storage.agent.replication.PeerChannels;
import io.mycnet.storage.agent.replication.Rebuilder;
import io.mycnet.storage.agent.replication.ReplicaLink;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.agent.session.AgentSession;
import io.mycnet.storage.agent.session.FactorProbe;
import io.mycnet.storage.agent.support.LogOnce;
import io.mycnet.storage.api.v1.MeasuredFactors;
import io.mycnet.storage.common.settings.HostPort;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agent process, composed: the replica store and the data port ({@link DataServer}), the
 * one session to the control plane ({@link AgentSession}: join, heartbeats, reports, certificate
 * renewal, reconnects), the commands it delivers ({@link CommandDispatch}), the disk probe and the
 * scrub. Health is served on {@code listen}.
 *
 * <p>All state changes run on one thread ({@code agent}); gRPC callbacks hand their work to it.
 * Commands are applied one at a time in delivery order.
 */
public final class NodeAgent implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NodeAgent.class);
  public static final String VERSION = AgentSession.VERSION;
  public static final Duration CALL_DEADLINE = AgentSession.CALL_DEADLINE;
  public static final Duration KEEPALIVE_TIME = AgentSession.KEEPALIVE_TIME;
  public static final Duration KEEPALIVE_TIMEOUT = AgentSession.KEEPALIVE_TIMEOUT;

  private final AgentConfig cfg;
  private final Clock clock;
  private final ScheduledExecutorService loop =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "agent");
            t.setDaemon(true);
            return t;
          });
  private final HealthStatusManager health = new HealthStatusManager();
  private final LogOnce logOnce = new LogOnce(LOG);
  private final ReplicaStore store;
  private final AppliedCommands applied;
  private final CommandExecutor executor;
  private final FactorProbe probe;
  private final IdentityKeys keys = new IdentityKeys();
  private final Revocations revocations;
  private final PeerChannels peers;
  private final AgentSession session;
  private final ExecutorService background =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "rebuild-scrub");
            t.setDaemon(true);
            return t;
          });
  private final AttachedVolumes attached;
  private NbdServer nbdUnix;
  private NbdServer nbdTls;
  private CsiNodePlugin csi;
  private DataServer dataServer;
  private Server healthServer;
  private String advertisedAddress;
  private String healthAddress;
  private volatile boolean closed;

  public NodeAgent(AgentConfig cfg, Clock clock) {
    this.cfg = cfg;
    this.clock = clock;
    NamespaceKeys atRest =
        cfg.encryptionKeyFile() != null ? NamespaceKeys.load(cfg.encryptionKeyFile()) : null;
    this.store = ReplicaStore.open(cfg.dataDir(), atRest, cfg.encryptionAtRest());
    store.catchUpMaxBytes(cfg.rebuildCatchUpMax());
    this.revocations = Revocations.open(cfg.dataDir());
    this.peers = new PeerChannels(keys, revocations);
    this.applied = AppliedCommands.open(cfg.dataDir());
    this.executor = new CommandExecutor(store, applied, cfg.capacityBytes());
    this.probe =
        new FactorProbe(cfg.dataDir(), cfg.probeBytes(), cfg.encryptionAtRest() && atRest != null);
    ReplicaLink link = new GrpcReplicaLink(peers);
    this.session =
        new AgentSession(
            cfg,
            clock,
            loop,
            health,
            keys,
            store,
            new CommandDispatch(executor, store, revocations, clock));
    ReplicatedVolume.Context ctx =
        new ReplicatedVolume.Context() {
          @Override
          public String nodeId() {
            return cfg.nodeId();
          }

          @Override
          public ReplicaLink link() {
            return link;
          }

          @Override
          public void report(io.mycnet.storage.api.v1.ReplicaReport r) {
            session.report(r);
          }

          @Override
          public void recordEpoch(String volumeId, long epoch) {
            try {
              store.recordEpoch(volumeId, epoch);
            } catch (IOException e) {
              LOG.warn("cannot record epoch {} of {}: {}", epoch, volumeId, e.toString());
            }
          }
        };
    store.context(ctx);
    executor.dataPath(peers, new Rebuilder.RateLimiter(cfg.rebuildBandwidth()), ctx, background);
    try {
      this.attached =
          AttachedVolumes.open(
              cfg.dataDir(),
              cfg.nodeId(),
              store,
              new VolumeIoCalls(store, session::report),
              peers,
              revocations,
              cfg.frontendRetryWindow());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the attachments: " + e.getMessage(), e);
    }
    executor.frontend(attached);
    NodeIdentity.load(cfg.dataDir()).ifPresent(keys::set);
  }

  public String dataAddress() {
    return advertisedAddress;
  }

  /** Serves health, measures, and starts connecting (in the background). */
  public NodeAgent start() {
    HostPort listen = HostPort.parseListen(cfg.listen());
    String host = listen.host();
    int port = listen.port();
    try {
      healthServer =
          NettyServerBuilder.forAddress(
                  new InetSocketAddress(host, port), InsecureServerCredentials.create())
              .addService(health.getHealthService())
              .build()
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot listen on " + cfg.listen() + " (setting listen): " + e.getMessage(), e);
    }
    healthAddress = listen.withPort(healthServer.getPort()).toString();
    try {
      dataServer =
          new DataServer(store, cfg.nodeId(), session::report, revocations)
              .start(cfg.dataListen(), keys);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot listen on " + cfg.dataListen() + " (setting data-listen): " + e.getMessage(), e);
    }
    startNbd();
    startCsi();
    HostPort data = HostPort.parseListen(cfg.dataListen());
    if (data.isWildcard()) {
      data = host.equals("0.0.0.0") ? new HostPort("127.0.0.1", 0) : listen;
    }
    advertisedAddress = data.withPort(dataServer.port()).toString();
    Scrubber scrubber = new Scrubber(store, session::report, () -> closed);
    long scrubMs = cfg.scrubInterval().toMillis();
    loop.scheduleAtFixedRate(
        () -> background.execute(scrubber::scrub), scrubMs, scrubMs, TimeUnit.MILLISECONDS);
    health.setStatus("", ServingStatus.SERVING);
    loop.execute(this::runProbe);
    session.start(advertisedAddress);
    // Rebuilds under way when the agent stopped: each waits for its assignment, which the session
    // brings, then attaches to the primary and compares chunk by chunk again.
    int resumed = executor.resumeRebuilds();
    if (resumed > 0) {
      LOG.info("{} rebuilds under way when the agent stopped resume", resumed);
    }
    loop.scheduleAtFixedRate(
        this::runProbe,
        cfg.probeInterval().toMillis(),
        cfg.probeInterval().toMillis(),
        TimeUnit.MILLISECONDS);
    LOG.info(
        "agent {} started: data {}, capacity {} bytes, health on {}",
        cfg.nodeId(),
        cfg.dataDir(),
        cfg.capacityBytes(),
        advertisedAddress);
    return this;
  }

  public String advertisedAddress() {
    return healthAddress;
  }

  /**
   * The block frontend's NBD server: on the Unix socket always, on TCP with mutual TLS (this node's
   * certificate, client certificates of the control plane's CA) when nbd-address is set.
   */
  private void startNbd() {
    try {
      nbdUnix = NbdServer.unix(cfg.nbdSocket(), attached, NbdServer.Limits.defaults());
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot listen on " + cfg.nbdSocket() + " (setting nbd-socket): " + e.getMessage(), e);
    }
    if (cfg.nbdAddress() != null) {
      HostPort at = HostPort.parseListen(cfg.nbdAddress());
      try {
        javax.net.ssl.SSLContext tls = javax.net.ssl.SSLContext.getInstance("TLS");
        tls.init(
            new javax.net.ssl.KeyManager[] {keys.keyManager()},
            new javax.net.ssl.TrustManager[] {keys.trustManager()},
            null);
        nbdTls =
            NbdServer.tls(
                new InetSocketAddress(at.host(), at.port()),
                tls,
                attached,
                NbdServer.Limits.defaults());
      } catch (IOException | java.security.GeneralSecurityException e) {
        throw new IllegalStateException(
            "cannot listen on " + cfg.nbdAddress() + " (setting nbd-address): " + e.getMessage(),
            e);
      }
    }
  }

  /** The CSI node plugin (Identity and Node) on its Unix socket. */
  private void startCsi() {
    try {
      csi =
          new CsiNodePlugin(
                  cfg.csiSocket(),
                  cfg.dataDir(),
                  cfg.nodeId(),
                  cfg.topology(),
                  cfg.csiMaxVolumes(),
                  VERSION,
                  nbdUnix.socketPath(),
                  attached,
                  session::up)
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot listen on " + cfg.csiSocket() + " (setting csi-socket): " + e.getMessage(), e);
    }
  }

  /** The Unix socket of the CSI node plugin. */
  public java.nio.file.Path csiSocket() {
    return csi == null ? null : csi.socket();
  }

  /** The NBD Unix socket this agent serves its attached volumes on. */
  public java.nio.file.Path nbdSocket() {
    return nbdUnix == null ? null : nbdUnix.socketPath();
  }

  /** host:port of NBD over TLS, or null when off. */
  public String nbdTlsAddress() {
    if (nbdTls == null) {
      return null;
    }
    InetSocketAddress a = nbdTls.address();
    return HostPort.parseListen(cfg.nbdAddress()).withPort(a.getPort()).toString();
  }

  /** The volumes attached to this node (the NBD server's exports). */
  public AttachedVolumes attached() {
    return attached;
  }

  private void runProbe() {
    try {
      MeasuredFactors f = probe.measure(clock.millis());
      LOG.info(
          "disk probe: {} MiB/s sequential, fsync median {} us, max {} us",
          String.format("%.1f", f.getWriteMibPerSecond()),
          f.getFsyncLatencyP50Micros(),
          f.getFsyncLatencyMaxMicros());
      session.factors(f);
    } catch (RuntimeException e) {
      logOnce.warn("probe", "disk probe failed: " + e.getMessage());
    }
  }

  @Override
  public void close() {
    closed = true;
    health.enterTerminalState();
    session.close();
    try {
      if (healthServer != null) {
        healthServer.shutdown().awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (csi != null) {
      csi.close();
    }
    if (nbdTls != null) {
      nbdTls.close();
    }
    if (nbdUnix != null) {
      nbdUnix.close();
    }
    attached.close();
    if (dataServer != null) {
      dataServer.close();
    }
    background.shutdownNow();
    peers.close();
    loop.shutdownNow();
    applied.close();
    LOG.info("agent {} stopped", cfg.nodeId());
  }
}
