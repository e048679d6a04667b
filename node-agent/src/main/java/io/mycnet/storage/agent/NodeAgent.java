package io.mycnet.storage.agent;

import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.agent.command.AppliedCommands;
import io.mycnet.storage.agent.command.CommandExecutor;
import io.mycnet.storage.agent.data.DataServer;
import io.mycnet.storage.agent.identity.IdentityKeys;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.agent.identity.Revocations;
import io.mycnet.storage.agent.replica.NamespaceKeys;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.agent.replication.PeerChannels;
import io.mycnet.storage.agent.replication.Rebuilder;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.agent.session.FactorProbe;
import io.mycnet.storage.agent.support.Backoff;
import io.mycnet.storage.agent.support.LogOnce;
import io.mycnet.storage.api.v1.AgentMessage;
import io.mycnet.storage.api.v1.ControlMessage;
import io.mycnet.storage.api.v1.Heartbeat;
import io.mycnet.storage.api.v1.JoinRequest;
import io.mycnet.storage.api.v1.JoinResponse;
import io.mycnet.storage.api.v1.MeasuredFactors;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeJoinGrpc;
import io.mycnet.storage.api.v1.NodeSessionGrpc;
import io.mycnet.storage.api.v1.Pong;
import io.mycnet.storage.api.v1.RenewCertificateRequest;
import io.mycnet.storage.api.v1.RenewCertificateResponse;
import io.mycnet.storage.api.v1.SessionHello;
import io.mycnet.storage.api.v1.SessionWelcome;
import io.mycnet.storage.common.settings.HostPort;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agent: joins, keeps one session to the control plane, applies commands, reports.
 *
 * <p>All state changes run on one thread ({@code agent}); gRPC callbacks hand their work to it.
 * Commands are applied one at a time in delivery order.
 *
 * <p>Connection: the session channel uses mutual TLS with the node certificate and trusts only the
 * CA bundle; keepalive pings every {@link #KEEPALIVE_TIME} (30 s) with a {@link #KEEPALIVE_TIMEOUT}
 * (10 s) timeout, also without active calls, so a dead path is noticed within ~40 s even between
 * heartbeats. Every unary call (join, renewal) has a deadline of {@link #CALL_DEADLINE}; the
 * session stream has none (it lives as long as the connection) and is instead watched by heartbeat
 * acknowledgements: none for three heartbeat intervals and the agent reconnects. Reconnects back
 * off exponentially from 0.5 s to {@code reconnect-backoff-max} (5 s by default, jittered ±20 %),
 * and start again from 0.5 s when an established session breaks (a restarted control plane is found
 * within seconds, well inside the grace period before a silent node is marked down); after every
 * (re)connect the agent sends its full inventory so the control plane can reconcile.
 */
public final class NodeAgent implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NodeAgent.class);
  public static final String VERSION = "0.1.0";
  public static final Duration CALL_DEADLINE = Duration.ofSeconds(10);
  public static final Duration KEEPALIVE_TIME = Duration.ofSeconds(30);
  public static final Duration KEEPALIVE_TIMEOUT = Duration.ofSeconds(10);
  static final Duration WELCOME_TIMEOUT = Duration.ofSeconds(15);
  static final int MISSED_ACKS = 3;

  private final AgentConfig cfg;
  private final Clock clock;
  private final long startedAtMs;
  private final ScheduledExecutorService loop =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "agent");
            t.setDaemon(true);
            return t;
          });
  private final HealthStatusManager health = new HealthStatusManager();
  private final Backoff backoff;
  private final LogOnce logOnce = new LogOnce(LOG);
  private final ReplicaStore store;
  private final AppliedCommands applied;
  private final CommandExecutor executor;
  private final FactorProbe probe;

  private final IdentityKeys keys = new IdentityKeys();
  private final Revocations revocations;
  private final PeerChannels peers;
  private final java.util.concurrent.ExecutorService background =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "rebuild-scrub");
            t.setDaemon(true);
            return t;
          });
  private final java.util.ArrayDeque<io.mycnet.storage.api.v1.ReplicaReport> pendingReports =
      new java.util.ArrayDeque<>();
  private DataServer dataServer;
  private Server healthServer;
  private String advertisedAddress;
  private String healthAddress;
  private volatile boolean closed;
  // Owned by the agent thread:
  private NodeIdentity identity;
  private ManagedChannel channel;
  private NodeIdentity channelIdentity;
  private Session current;
  private boolean renewing;
  private volatile MeasuredFactors factors;

  public NodeAgent(AgentConfig cfg, Clock clock) {
    this.cfg = cfg;
    this.clock = clock;
    this.startedAtMs = clock.millis();
    this.backoff = new Backoff(new SecureRandom(), cfg.reconnectBackoffMax());
    NamespaceKeys atRest =
        cfg.encryptionKeyFile() != null ? NamespaceKeys.load(cfg.encryptionKeyFile()) : null;
    this.store = ReplicaStore.open(cfg.dataDir(), atRest, cfg.encryptionAtRest());
    this.revocations = Revocations.open(cfg.dataDir());
    this.peers = new PeerChannels(keys, revocations);
    this.applied = AppliedCommands.open(cfg.dataDir());
    this.executor = new CommandExecutor(store, applied, cfg.capacityBytes());
    this.probe =
        new FactorProbe(cfg.dataDir(), cfg.probeBytes(), cfg.encryptionAtRest() && atRest != null);
    ReplicatedVolume.Context ctx =
        new ReplicatedVolume.Context() {
          @Override
          public String nodeId() {
            return cfg.nodeId();
          }

          @Override
          public PeerChannels peers() {
            return peers;
          }

          @Override
          public void report(io.mycnet.storage.api.v1.ReplicaReport r) {
            NodeAgent.this.report(r);
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
    NodeIdentity.load(cfg.dataDir()).ifPresent(keys::set);
  }

  /** Sends a replica report now, or after the next connect. */
  void report(io.mycnet.storage.api.v1.ReplicaReport r) {
    loop.execute(
        () -> {
          Session s = current;
          if (s != null && s.welcomed) {
            s.send(AgentMessage.newBuilder().setReplicaReport(r).build());
          } else {
            if (pendingReports.size() >= 1000) {
              pendingReports.removeFirst();
            }
            pendingReports.addLast(r);
          }
        });
  }

  private void scrub() {
    for (ReplicatedVolume v : store.volumes()) {
      if (closed) {
        return;
      }
      if (v.rebuild != null) {
        continue;
      }
      try {
        for (long off : v.replica().scrub()) {
          LOG.warn(
              "scrub: block at {} of the replica of {} is corrupt", off, v.replica().volumeId());
          report(
              io.mycnet.storage.api.v1.ReplicaReport.newBuilder()
                  .setVolumeId(v.replica().volumeId())
                  .setEpoch(v.epoch())
                  .setKind(io.mycnet.storage.api.v1.ReplicaReport.Kind.INTEGRITY_FAULT)
                  .setOffset(off)
                  .setMessage("scrub: block at " + off + " failed its checksum")
                  .build());
        }
      } catch (IOException | RuntimeException e) {
        LOG.warn("scrub of {} failed: {}", v.replica().volumeId(), e.toString());
      }
    }
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
          new DataServer(store, cfg.nodeId(), this::report, revocations)
              .start(cfg.dataListen(), keys);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot listen on " + cfg.dataListen() + " (setting data-listen): " + e.getMessage(), e);
    }
    HostPort data = HostPort.parseListen(cfg.dataListen());
    if (data.isWildcard()) {
      data = host.equals("0.0.0.0") ? new HostPort("127.0.0.1", 0) : listen;
    }
    advertisedAddress = data.withPort(dataServer.port()).toString();
    long scrubMs = cfg.scrubInterval().toMillis();
    loop.scheduleAtFixedRate(
        () -> background.execute(this::scrub), scrubMs, scrubMs, TimeUnit.MILLISECONDS);
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(NodeSessionGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
    loop.execute(this::runProbe);
    loop.execute(this::connect);
    loop.scheduleAtFixedRate(
        this::runProbe,
        cfg.probeInterval().toMillis(),
        cfg.probeInterval().toMillis(),
        TimeUnit.MILLISECONDS);
    loop.scheduleAtFixedRate(this::maybeRenew, 1, 1, TimeUnit.SECONDS);
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

  // ---- connecting ----

  private void connect() {
    if (closed || current != null) {
      return;
    }
    try {
      NodeIdentity id = identity != null ? identity : NodeIdentity.load(cfg.dataDir()).orElse(null);
      if (id != null && id.expired(clock.instant())) {
        LOG.info("node certificate expired at {}: joining again", id.notAfter());
        id = null;
      }
      if (id != null
          && !cfg.nodeId()
              .equals(
                  org.bouncycastle.asn1.x500.style.IETFUtils.valueToString(
                      new org.bouncycastle.cert.jcajce.JcaX509CertificateHolder(id.certificate())
                          .getSubject()
                          .getRDNs(org.bouncycastle.asn1.x500.style.BCStyle.CN)[0]
                          .getFirst()
                          .getValue()))) {
        LOG.info("stored certificate is for another node id: joining as {}", cfg.nodeId());
        id = null;
      }
      if (id == null) {
        id = join();
      }
      useIdentity(id);
      openSession();
    } catch (StatusRuntimeException e) {
      logOnce.warn("connect", "cannot join or connect: " + describe(e.getStatus()));
      reconnectLater();
    } catch (RuntimeException | java.security.cert.CertificateEncodingException e) {
      logOnce.warn("connect", "cannot join or connect: " + e.getMessage());
      reconnectLater();
    }
  }

  private NodeIdentity join() {
    if (cfg.tokenFile() == null) {
      throw new IllegalStateException(
          "the node has no valid certificate and no token-file is set: set --token-file to join");
    }
    String token = AgentConfig.readToken(cfg.tokenFile());
    List<X509Certificate> ca = joinTrust();
    KeyPair kp = NodeIdentity.joinKeyPair(cfg.dataDir());
    JoinRequest req =
        JoinRequest.newBuilder()
            .setBootstrapToken(token)
            .setNodeId(cfg.nodeId())
            .setCsrDer(com.google.protobuf.ByteString.copyFrom(NodeIdentity.csr(kp, cfg.nodeId())))
            .setTopologyPath(cfg.topology())
            .setOwner(cfg.owner())
            .setCapacityBytes(cfg.capacityBytes())
            .setAddress(advertisedAddress)
            .setAgentVersion(VERSION)
            .putAllLabels(cfg.labels())
            .build();
    ManagedChannel ch = channelTo(cfg.joinAddress(), NodeIdentity.joinTls(ca)).build();
    try {
      JoinResponse resp =
          NodeJoinGrpc.newBlockingStub(ch)
              .withDeadlineAfter(CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
              .join(req);
      NodeIdentity id = NodeIdentity.save(cfg.dataDir(), kp.getPrivate(), resp.getCertificate());
      LOG.info(
          "joined the control plane at {} as node {}: certificate {} valid until {}",
          cfg.joinAddress(),
          cfg.nodeId(),
          id.serial(),
          id.notAfter());
      logOnce.clear("connect");
      return id;
    } catch (StatusRuntimeException e) {
      String why = String.valueOf(e.getStatus().getDescription());
      if (e.getStatus().getCode() == Status.Code.PERMISSION_DENIED
          && (why.contains("was removed from the cluster")
              || why.contains("join with a new key"))) {
        // Removed by an operator: the key it was removed with is of no further use; a join after
        // the re-admission must bring a new one.
        NodeIdentity.discardKey(cfg.dataDir());
      }
      throw e;
    } finally {
      ch.shutdownNow();
    }
  }

  /** The CA to verify the join server with: the configured ca-file, else the stored bundle. */
  private List<X509Certificate> joinTrust() {
    try {
      if (cfg.caFile() != null) {
        return NodeIdentity.parseCertificates(Files.readString(cfg.caFile()));
      }
      Path stored = NodeIdentity.dir(cfg.dataDir()).resolve("ca.crt");
      if (Files.exists(stored)) {
        return NodeIdentity.parseCertificates(Files.readString(stored));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the CA file", e);
    }
    throw new IllegalStateException("no CA to verify the control plane with: set --ca-file");
  }

  private void useIdentity(NodeIdentity id) {
    identity = id;
    keys.set(id);
    if (id == channelIdentity && channel != null) {
      return;
    }
    if (channel != null) {
      channel.shutdown();
    }
    channel = channelTo(cfg.controlPlane(), id.clientTls()).build();
    channelIdentity = id;
  }

  private static NettyChannelBuilder channelTo(
      String address, io.grpc.netty.shaded.io.netty.handler.ssl.SslContext tls) {
    HostPort to = HostPort.parse(address);
    return NettyChannelBuilder.forAddress(to.host(), to.port())
        .sslContext(tls)
        .keepAliveTime(KEEPALIVE_TIME.toSeconds(), TimeUnit.SECONDS)
        .keepAliveTimeout(KEEPALIVE_TIMEOUT.toSeconds(), TimeUnit.SECONDS)
        .keepAliveWithoutCalls(true);
  }

  private void reconnectLater() {
    if (closed) {
      return;
    }
    long d = backoff.nextDelayMs();
    LOG.debug("reconnecting in {} ms", d);
    loop.schedule(this::connect, d, TimeUnit.MILLISECONDS);
  }

  private static String describe(Status s) {
    return s.getCode() + (s.getDescription() == null ? "" : ": " + s.getDescription());
  }

  // ---- the session ----

  private void openSession() {
    Session s = new Session();
    current = s;
    NodeSessionGrpc.newStub(channel).session(s);
    s.send(
        AgentMessage.newBuilder()
            .setHello(
                SessionHello.newBuilder()
                    .setNodeId(cfg.nodeId())
                    .setAgentVersion(VERSION)
                    .setAgentStartedAtUnixMs(startedAtMs)
                    .setAddress(advertisedAddress))
            .build());
    s.welcomeTimeout =
        loop.schedule(
            () -> {
              if (current == s && !s.welcomed) {
                s.cancel("no welcome from the control plane within " + WELCOME_TIMEOUT);
              }
            },
            WELCOME_TIMEOUT.toMillis(),
            TimeUnit.MILLISECONDS);
  }

  private void onWelcome(Session s, SessionWelcome w) {
    if (s != current) {
      return;
    }
    s.welcomed = true;
    s.welcomeTimeout.cancel(false);
    backoff.reset();
    logOnce.clear("connect");
    logOnce.clear("session");
    health.setStatus(NodeSessionGrpc.SERVICE_NAME, ServingStatus.SERVING);
    s.intervalMs = Math.max(100, w.getHeartbeatIntervalMs());
    s.lastAckNanos = System.nanoTime();
    LOG.info("session open as node {} (heartbeat every {} ms)", w.getNodeId(), s.intervalMs);
    AgentConfig.reconnectProblem(
            cfg.reconnectBackoffMax(), java.time.Duration.ofMillis(s.intervalMs))
        .ifPresent(p -> logOnce.warn("reconnect-vs-heartbeat", p));
    sendInventory(s);
    while (!pendingReports.isEmpty()) {
      s.send(AgentMessage.newBuilder().setReplicaReport(pendingReports.removeFirst()).build());
    }
    MeasuredFactors f = factors;
    if (f != null) {
      s.send(AgentMessage.newBuilder().setFactors(f).build());
    }
    s.heartbeatTask =
        loop.scheduleAtFixedRate(
            () -> heartbeat(s), s.intervalMs, s.intervalMs, TimeUnit.MILLISECONDS);
  }

  private void heartbeat(Session s) {
    if (s != current) {
      return;
    }
    if (System.nanoTime() - s.lastAckNanos > MISSED_ACKS * s.intervalMs * 1_000_000L) {
      s.cancel("no heartbeat acknowledgement for " + MISSED_ACKS + " intervals");
      return;
    }
    long available = 0;
    try {
      available = Files.getFileStore(cfg.dataDir()).getUsableSpace();
    } catch (IOException e) {
      LOG.debug("cannot read free space: {}", e.toString());
    }
    s.send(
        AgentMessage.newBuilder()
            .setHeartbeat(
                Heartbeat.newBuilder()
                    .setSequence(++s.sequence)
                    .setCapacityBytes(cfg.capacityBytes())
                    .setUsedBytes(store.usedBytes())
                    .setFilesystemAvailableBytes(available)
                    .setReplicaCount(store.count())
                    .setAgentTimeUnixMs(clock.millis()))
            .build());
  }

  private void onCommand(Session s, NodeCommand c) {
    CommandExecutor.Applied a = executor.apply(c);
    s.send(AgentMessage.newBuilder().setCommandResult(a.result()).build());
    if (a.fresh()
        && (c.getKindCase() == NodeCommand.KindCase.CREATE_REPLICA
            || c.getKindCase() == NodeCommand.KindCase.REBUILD_REPLICA
            || c.getKindCase() == NodeCommand.KindCase.DELETE_REPLICA)) {
      sendInventory(s);
    }
  }

  /**
   * Takes the control plane's revocation list at once (on the gRPC thread, not queued behind
   * commands): stored durably, then refused on the data port and as peers.
   */
  private void onRevocations(io.mycnet.storage.api.v1.RevocationList l) {
    try {
      revocations.update(l);
    } catch (IOException e) {
      LOG.error(
          "the revocation list is in effect but could not be stored (a restart before the next"
              + " list would forget it): {}",
          e.toString());
    }
  }

  private void sendInventory(Session s) {
    s.send(AgentMessage.newBuilder().setInventory(store.inventory(clock.millis())).build());
  }

  private void ended(Session s, Status status) {
    if (s != current) {
      return;
    }
    current = null;
    s.stopTimers();
    health.setStatus(NodeSessionGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
    if (closed) {
      return;
    }
    if (status.getCode() == Status.Code.UNAUTHENTICATED
        || status.getCode() == Status.Code.FAILED_PRECONDITION) {
      // Certificate expired or revoked, or the node is unknown to the control plane: join again.
      identity = null;
      NodeIdentity.discard(cfg.dataDir());
    }
    logOnce.warn("session", "session ended: " + describe(status));
    if (s.welcomed) {
      // An established session broke (the control plane restarted, the path blipped): retry
      // quickly rather than from wherever an earlier outage left the backoff.
      backoff.reset();
    }
    reconnectLater();
  }

  private void runProbe() {
    try {
      MeasuredFactors f = probe.measure(clock.millis());
      factors = f;
      LOG.info(
          "disk probe: {} MiB/s sequential, fsync median {} us, max {} us",
          String.format("%.1f", f.getWriteMibPerSecond()),
          f.getFsyncLatencyP50Micros(),
          f.getFsyncLatencyMaxMicros());
      Session s = current;
      if (s != null && s.welcomed) {
        s.send(AgentMessage.newBuilder().setFactors(f).build());
      }
    } catch (RuntimeException e) {
      logOnce.warn("probe", "disk probe failed: " + e.getMessage());
    }
  }

  private void maybeRenew() {
    Session s = current;
    NodeIdentity id = identity;
    if (closed || renewing || s == null || !s.welcomed || id == null) {
      return;
    }
    if (clock.instant().isBefore(id.renewAfter())) {
      return;
    }
    renewing = true;
    KeyPair kp = NodeIdentity.generateKeyPair();
    RenewCertificateRequest req =
        RenewCertificateRequest.newBuilder()
            .setCsrDer(com.google.protobuf.ByteString.copyFrom(NodeIdentity.csr(kp, cfg.nodeId())))
            .build();
    NodeSessionGrpc.newStub(channel)
        .withDeadlineAfter(CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
        .renewCertificate(
            req,
            new StreamObserver<>() {
              @Override
              public void onNext(RenewCertificateResponse r) {
                loop.execute(() -> renewed(kp, r));
              }

              @Override
              public void onError(Throwable t) {
                loop.execute(
                    () -> {
                      renewing = false;
                      logOnce.warn(
                          "renew",
                          "certificate renewal failed: " + describe(Status.fromThrowable(t)));
                    });
              }

              @Override
              public void onCompleted() {}
            });
  }

  private void renewed(KeyPair kp, RenewCertificateResponse r) {
    renewing = false;
    logOnce.clear("renew");
    NodeIdentity id = NodeIdentity.save(cfg.dataDir(), kp.getPrivate(), r.getCertificate());
    LOG.info("renewed the node certificate: {} valid until {}", id.serial(), id.notAfter());
    identity = id;
    keys.set(id);
    // Move the session to a channel with the new certificate.
    Session s = current;
    if (s != null) {
      current = null;
      s.stopTimers();
      s.complete();
    }
    connect();
  }

  @Override
  public void close() {
    closed = true;
    health.enterTerminalState();
    try {
      loop.submit(
              () -> {
                Session s = current;
                current = null;
                if (s != null) {
                  s.stopTimers();
                  s.complete();
                }
              })
          .get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.debug("closing the session: {}", e.toString());
    }
    try {
      if (channel != null) {
        channel.shutdown().awaitTermination(5, TimeUnit.SECONDS);
      }
      if (healthServer != null) {
        healthServer.shutdown().awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (dataServer != null) {
      dataServer.close();
    }
    background.shutdownNow();
    peers.close();
    loop.shutdownNow();
    applied.close();
    LOG.info("agent {} stopped", cfg.nodeId());
  }

  /** One session stream; its callbacks hand work to the agent thread. */
  private final class Session implements ClientResponseObserver<AgentMessage, ControlMessage> {
    private ClientCallStreamObserver<AgentMessage> requests;
    private final Object sendLock = new Object();
    volatile boolean welcomed;
    volatile long lastAckNanos;
    long intervalMs;
    long sequence;
    ScheduledFuture<?> heartbeatTask;
    ScheduledFuture<?> welcomeTimeout;

    @Override
    public void beforeStart(ClientCallStreamObserver<AgentMessage> requestStream) {
      this.requests = requestStream;
    }

    void send(AgentMessage m) {
      synchronized (sendLock) {
        try {
          requests.onNext(m);
        } catch (RuntimeException e) {
          LOG.debug("send failed: {}", e.toString());
        }
      }
    }

    void cancel(String why) {
      LOG.warn("dropping the session: {}", why);
      synchronized (sendLock) {
        requests.cancel(why, null);
      }
    }

    void complete() {
      synchronized (sendLock) {
        try {
          requests.onCompleted();
        } catch (RuntimeException e) {
          LOG.debug("complete failed: {}", e.toString());
        }
      }
    }

    void stopTimers() {
      if (heartbeatTask != null) {
        heartbeatTask.cancel(false);
      }
      if (welcomeTimeout != null) {
        welcomeTimeout.cancel(false);
      }
    }

    @Override
    public void onNext(ControlMessage m) {
      switch (m.getKindCase()) {
        case WELCOME -> loop.execute(() -> onWelcome(this, m.getWelcome()));
        case COMMAND -> loop.execute(() -> onCommand(this, m.getCommand()));
        case PING ->
            send(
                AgentMessage.newBuilder()
                    .setPong(Pong.newBuilder().setNonce(m.getPing().getNonce()))
                    .build());
        case HEARTBEAT_ACK -> lastAckNanos = System.nanoTime();
        case REVOCATIONS -> onRevocations(m.getRevocations());
        default -> LOG.debug("ignoring an empty control message");
      }
    }

    @Override
    public void onError(Throwable t) {
      loop.execute(() -> ended(this, Status.fromThrowable(t)));
    }

    @Override
    public void onCompleted() {
      loop.execute(
          () ->
              ended(
                  this, Status.UNAVAILABLE.withDescription("the control plane ended the session")));
    }
  }
}
