package io.mycnet.storage.agent.session;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.mycnet.storage.agent.AgentConfig;
import io.mycnet.storage.agent.identity.IdentityKeys;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.agent.support.Backoff;
import io.mycnet.storage.agent.support.LogOnce;
import io.mycnet.storage.api.v1.AgentMessage;
import io.mycnet.storage.api.v1.Heartbeat;
import io.mycnet.storage.api.v1.MeasuredFactors;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeSessionGrpc;
import io.mycnet.storage.api.v1.ReplicaReport;
import io.mycnet.storage.api.v1.RevocationList;
import io.mycnet.storage.api.v1.SessionHello;
import io.mycnet.storage.api.v1.SessionWelcome;
import java.io.IOException;
import java.nio.file.Files;
import java.security.SecureRandom;
import java.security.cert.CertificateEncodingException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's one session to the control plane: joins when it has no usable certificate, opens the
 * session stream, sends heartbeats, the inventory after every (re)connect and the reports, hands
 * commands to the {@link SessionHandler}, and reconnects with backoff when the session ends.
 *
 * <p>All state changes run on the agent thread ({@code loop}); gRPC callbacks hand their work to
 * it.
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
public final class AgentSession implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AgentSession.class);
  public static final String VERSION = "0.1.0";
  public static final Duration CALL_DEADLINE = Duration.ofSeconds(10);
  public static final Duration KEEPALIVE_TIME = Duration.ofSeconds(30);
  public static final Duration KEEPALIVE_TIMEOUT = Duration.ofSeconds(10);
  static final Duration WELCOME_TIMEOUT = Duration.ofSeconds(15);
  static final int MISSED_ACKS = 3;

  /** Reports kept while the session is down; the oldest go first. */
  static final int PENDING_REPORTS = 1000;

  private final AgentConfig cfg;
  private final Clock clock;
  private final long startedAtMs;
  private final ScheduledExecutorService loop;
  private final HealthStatusManager health;
  private final IdentityKeys keys;
  private final ReplicaStore store;
  private final SessionHandler handler;
  private final Backoff backoff;
  private final LogOnce logOnce = new LogOnce(LOG);
  private final NodeJoin join;
  private final CertificateRenewal renewal;
  private final ArrayDeque<ReplicaReport> pendingReports = new ArrayDeque<>();
  private volatile boolean closed;
  private volatile boolean up;
  private volatile MeasuredFactors factors;
  private String advertisedAddress;
  // Owned by the agent thread:
  private NodeIdentity identity;
  private ManagedChannel channel;
  private NodeIdentity channelIdentity;
  private SessionStream current;

  /**
   * @param loop the agent thread
   * @param health reports the session service SERVING while a session is open
   * @param keys the node's key and certificate, shared with the data port and the peer channels
   */
  public AgentSession(
      AgentConfig cfg,
      Clock clock,
      ScheduledExecutorService loop,
      HealthStatusManager health,
      IdentityKeys keys,
      ReplicaStore store,
      SessionHandler handler) {
    this.cfg = cfg;
    this.clock = clock;
    this.startedAtMs = clock.millis();
    this.loop = loop;
    this.health = health;
    this.keys = keys;
    this.store = store;
    this.handler = handler;
    this.backoff = new Backoff(new SecureRandom(), cfg.reconnectBackoffMax());
    this.join = new NodeJoin(cfg);
    this.renewal = new CertificateRenewal(cfg, clock, loop, this);
    health.setStatus(NodeSessionGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
  }

  /** Whether a session to the control plane is open (welcomed and not ended). */
  public boolean up() {
    return up && !closed;
  }

  /** Starts connecting (in the background); the data port is announced at {@code dataAddress}. */
  public void start(String dataAddress) {
    this.advertisedAddress = dataAddress;
    loop.execute(this::connect);
    loop.scheduleAtFixedRate(renewal::maybeRenew, 1, 1, TimeUnit.SECONDS);
  }

  /** Sends a replica report now, or after the next connect. */
  public void report(ReplicaReport r) {
    loop.execute(
        () -> {
          SessionStream s = current;
          if (s != null && s.welcomed) {
            s.send(AgentMessage.newBuilder().setReplicaReport(r).build());
          } else {
            if (pendingReports.size() >= PENDING_REPORTS) {
              pendingReports.removeFirst();
            }
            pendingReports.addLast(r);
          }
        });
  }

  /** The newest disk measurements: sent now when a session is open, and after every connect. */
  public void factors(MeasuredFactors f) {
    factors = f;
    SessionStream s = current;
    if (s != null && s.welcomed) {
      s.send(AgentMessage.newBuilder().setFactors(f).build());
    }
  }

  // ---- connecting ----

  private void connect() {
    if (closed || current != null) {
      return;
    }
    try {
      NodeIdentity id =
          join.usable(
              identity != null ? identity : NodeIdentity.load(cfg.dataDir()).orElse(null),
              clock.instant());
      if (id == null) {
        id = join.join(advertisedAddress);
        logOnce.clear("connect");
      }
      useIdentity(id);
      openSession();
    } catch (StatusRuntimeException e) {
      logOnce.warn("connect", "cannot join or connect: " + describe(e.getStatus()));
      reconnectLater();
    } catch (RuntimeException | CertificateEncodingException e) {
      logOnce.warn("connect", "cannot join or connect: " + e.getMessage());
      reconnectLater();
    }
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
    channel = NodeJoin.channelTo(cfg.controlPlane(), id.clientTls()).build();
    channelIdentity = id;
  }

  private void reconnectLater() {
    if (closed) {
      return;
    }
    long d = backoff.nextDelayMs();
    LOG.debug("reconnecting in {} ms", d);
    loop.schedule(this::connect, d, TimeUnit.MILLISECONDS);
  }

  static String describe(Status s) {
    return s.getCode() + (s.getDescription() == null ? "" : ": " + s.getDescription());
  }

  // ---- the session ----

  private void openSession() {
    SessionStream s = new SessionStream(this, loop);
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

  void onWelcome(SessionStream s, SessionWelcome w) {
    if (s != current) {
      return;
    }
    s.welcomed = true;
    s.welcomeTimeout.cancel(false);
    backoff.reset();
    logOnce.clear("connect");
    logOnce.clear("session");
    health.setStatus(NodeSessionGrpc.SERVICE_NAME, ServingStatus.SERVING);
    up = true;
    s.intervalMs = Math.max(100, w.getHeartbeatIntervalMs());
    s.lastAckNanos = System.nanoTime();
    LOG.info("session open as node {} (heartbeat every {} ms)", w.getNodeId(), s.intervalMs);
    AgentConfig.reconnectProblem(cfg.reconnectBackoffMax(), Duration.ofMillis(s.intervalMs))
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

  private void heartbeat(SessionStream s) {
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

  void onCommand(SessionStream s, NodeCommand c) {
    for (AgentMessage m : handler.command(c)) {
      s.send(m);
    }
  }

  void onRevocations(RevocationList l) {
    handler.revocations(l);
  }

  private void sendInventory(SessionStream s) {
    s.send(AgentMessage.newBuilder().setInventory(store.inventory(clock.millis())).build());
  }

  void ended(SessionStream s, Status status) {
    if (s != current) {
      return;
    }
    current = null;
    s.stopTimers();
    health.setStatus(NodeSessionGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
    up = false;
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

  // ---- for the certificate renewal (agent thread) ----

  /** The identity of an open (welcomed) session, or null. */
  NodeIdentity sessionIdentity() {
    SessionStream s = current;
    return closed || s == null || !s.welcomed ? null : identity;
  }

  ManagedChannel channel() {
    return channel;
  }

  /** Moves the session to a channel with the renewed certificate. */
  void renewed(NodeIdentity id) {
    identity = id;
    keys.set(id);
    SessionStream s = current;
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
    try {
      loop.submit(
              () -> {
                SessionStream s = current;
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
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
