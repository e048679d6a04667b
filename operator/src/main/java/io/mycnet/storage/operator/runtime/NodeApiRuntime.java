package io.mycnet.storage.operator.runtime;

import io.mycnet.storage.operator.nodeapi.AssignmentPublisher;
import io.mycnet.storage.operator.nodeapi.AuditCoordinator;
import io.mycnet.storage.operator.nodeapi.NodeApiServer;
import io.mycnet.storage.operator.nodeapi.NodeApiSettings;
import io.mycnet.storage.operator.nodeapi.NodeMeasurementListeners;
import io.mycnet.storage.operator.nodeapi.OrphanReplicaCollector;
import io.mycnet.storage.operator.nodeapi.ReplicaEvents;
import io.mycnet.storage.operator.nodeapi.TrustEvidenceFeed;
import io.mycnet.storage.operator.security.BootstrapTokens;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.SecurityStore;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The node API of one {@link ControlPlane}, wired the same way in a cluster ({@code OperatorMain})
 * and in local mode: the join and session server, what it measures fed to the trust engine (with a
 * ticker that counts missed heartbeats), rebuild completions and unhealthy replicas sent to the
 * replication manager, create results to the replica creation (CREATING until confirmed), every
 * epoch change published to the replicas' agents, the agents' inventories to the collector of
 * replicas no volume names ({@link OrphanReplicaCollector}), and optionally a periodic audit of
 * every volume.
 */
public final class NodeApiRuntime implements AutoCloseable {
  private final NodeApiServer server;
  private final AssignmentPublisher assignments;
  private final OrphanReplicaCollector orphanReplicas;
  private final ScheduledExecutorService timers;

  /**
   * Starts serving.
   *
   * @param auditInterval how often every volume is audited whole; zero: never
   */
  public NodeApiRuntime(
      ControlPlane cp,
      NodeApiSettings settings,
      CertificateAuthority ca,
      BootstrapTokens tokens,
      InetSocketAddress sessionListen,
      InetSocketAddress joinListen,
      Duration auditInterval,
      Clock clock) {
    TrustEvidenceFeed feed =
        new TrustEvidenceFeed(
            cp.trustEngine(), clock, settings.heartbeatInterval(), cp.trustPersistence()::restored);
    ReplicaEvents replicaEvents = ReplicaEvents.of(cp.replication(), cp.creation());
    orphanReplicas =
        new OrphanReplicaCollector(
            cp.store(), cp.keys(), cp.queue(), cp.isLeader(), clock, cp.orphanGcDelay());
    server =
        new NodeApiServer(
            settings,
            ca,
            tokens,
            new SecurityStore(cp.store(), cp.keys(), clock),
            cp.registry(),
            cp.queue(),
            NodeMeasurementListeners.all(feed, orphanReplicas),
            clock);
    server.replicaEvents(replicaEvents);
    assignments =
        new AssignmentPublisher(cp.store(), cp.keys(), cp.queue(), cp.registry(), clock).start();
    server.start(sessionListen, joinListen);
    orphanReplicas.start();
    timers =
        Executors.newScheduledThreadPool(
            1,
            r -> {
              Thread t = new Thread(r, "node-api-timers");
              t.setDaemon(true);
              return t;
            });
    long every = settings.heartbeatInterval().toMillis();
    timers.scheduleWithFixedDelay(feed::tick, every, every, TimeUnit.MILLISECONDS);
    if (!auditInterval.isZero()) {
      AuditCoordinator audits =
          new AuditCoordinator(
              cp.store(), cp.keys(), cp.queue(), server, feed, replicaEvents, clock);
      timers.scheduleWithFixedDelay(
          audits::auditEverything,
          auditInterval.toMillis(),
          auditInterval.toMillis(),
          TimeUnit.MILLISECONDS);
    }
  }

  public NodeApiServer server() {
    return server;
  }

  /** The collector of replicas no volume names. */
  public OrphanReplicaCollector orphanReplicas() {
    return orphanReplicas;
  }

  @Override
  public void close() {
    timers.shutdownNow();
    orphanReplicas.close();
    assignments.close();
    server.close();
  }
}
