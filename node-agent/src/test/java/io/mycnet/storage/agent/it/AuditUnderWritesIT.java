package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaRole;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Audits racing writes: the production control plane auditing every volume every second, three
 * agents as separate processes over a real etcd and mutual TLS, an EVENTUAL 3-replica volume of
 * three audit ranges (the primary acknowledges before its followers apply) under a steady paced
 * writer. Every audit answer is pinned to the write sequence it covers, so over ten audits no
 * replica is failed and no audit finds replicas disagreeing at one sequence; once the writer stops,
 * the replicas all agree.
 */
class AuditUnderWritesIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "fleet7.0123456789abcdef";
  static final String OWNER = "aw";
  static final String VOL = "aw.vol";

  /** Three audit ranges (AuditCoordinator.MAX_RANGE is 16 MiB): 16 + 16 + 8 MiB. */
  static final int SIZE = 40 << 20;

  static final List<String> NODES = List.of("w1", "w2", "w3");

  /** Audit passes observed under the writer. */
  static final int AUDITS = 10;

  @TempDir static Path dir;
  static DataPathCluster dp;
  static TrustAwareStorageManager manager;
  static final SecureRandom random = new SecureRandom();

  @BeforeAll
  static void start() throws Exception {
    dp =
        new DataPathCluster(
            dir,
            ETCD,
            TOKEN,
            NODES,
            Duration.ofSeconds(20),
            "audit-under-writes-it",
            node -> List.of(),
            List.of("MYCNET_AUDIT_INTERVAL=1s"));
    manager = dp.manager;
    manager.putNamespace(NamespaceRecord.newBuilder().setNamespace(OWNER).build());
  }

  @AfterAll
  static void stopAll() throws Exception {
    if (dp != null) {
      dp.close();
    }
  }

  static long countInControlPlane(String text) {
    return dp.cp.controlPlane.countInStderr(text);
  }

  @Test
  void anEventualVolumeUnderASteadyWriterFailsNoReplicaInTenAudits() throws Exception {
    Allocation a =
        manager.allocate(
            StorageRequest.of(VOL, OWNER, "default", SIZE, StorageType.SERVICE)
                .withReplicas(3)
                .withConsistency(ConsistencyLevel.EVENTUAL));
    String primary = a.getPrimaryNodeId();
    List<String> holders = a.getReplicasList().stream().map(Replica::getNodeId).toList();
    assertThat(holders).hasSize(3);
    await()
        .atMost(Duration.ofSeconds(60))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (String n : holders) {
                VolumeStat s = dp.stat(OWNER, n, VOL);
                assertThat(s.getPrimaryNodeId()).as("primary on %s", n).isEqualTo(primary);
                assertThat(s.getRole())
                    .isEqualTo(
                        n.equals(primary)
                            ? ReplicaRole.REPLICA_ROLE_PRIMARY
                            : ReplicaRole.REPLICA_ROLE_FOLLOWER);
              }
            });
    // The audits of the quiet volume agree (the comparison works at all).
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> countInControlPlane("audit of " + VOL + ": all agree []") > 0);

    long auditsBefore = countInControlPlane("audit of " + VOL + ": ");
    long noMajorityBefore = countInControlPlane("audit of " + VOL + ": no majority");
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicInteger written = new AtomicInteger();
    Map<String, Integer> refused = new TreeMap<>();
    ExecutorService writerThread = Executors.newSingleThreadExecutor();
    Future<?> writer =
        writerThread.submit(
            () -> {
              long epoch = manager.get(VOL).orElseThrow().getEpoch();
              // Bounded in count and time: stops when told, after 20,000 writes, or after 3 min.
              long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
              while (writing.get() && written.get() < 20_000 && System.nanoTime() < until) {
                byte[] data = new byte[4096 * (1 + random.nextInt(16))];
                random.nextBytes(data);
                long offset = 4096L * random.nextInt((SIZE - data.length) / 4096);
                try {
                  dp.write(OWNER, primary, VOL, epoch, offset, data);
                  written.incrementAndGet();
                } catch (StatusRuntimeException e) {
                  refused.merge(e.getStatus().getCode().toString(), 1, Integer::sum);
                  if (e.getStatus().getCode() == Status.Code.FAILED_PRECONDITION) {
                    epoch = manager.get(VOL).orElseThrow().getEpoch();
                  }
                }
                // Paced: writes land now during an audit, now between two.
                Thread.sleep(random.nextInt(30));
              }
              return null;
            });
    try {
      await()
          .atMost(Duration.ofSeconds(120))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () ->
                  countInControlPlane("audit of " + VOL + ": ") - auditsBefore >= AUDITS
                      || writer.isDone());
    } finally {
      writing.set(false);
      writerThread.shutdown();
    }
    writer.get(60, TimeUnit.SECONDS);
    assertThat(writerThread.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    long audits = countInControlPlane("audit of " + VOL + ": ") - auditsBefore;
    long inconclusive = countInControlPlane("audit of " + VOL + ": inconclusive");
    System.out.printf(
        "%s under a paced writer: %d writes (%s refused), %d audits, %d inconclusive%n",
        VOL, written.get(), refused, audits, inconclusive);
    assertThat(audits).as("audits while the writer ran").isGreaterThanOrEqualTo(AUDITS);
    assertThat(written.get()).as("writes during the audits").isGreaterThan(AUDITS);
    // No replica failed, and no audit found two replicas disagreeing at one write sequence.
    assertThat(countInControlPlane("failed: audit of " + VOL)).isZero();
    assertThat(countInControlPlane("audit of " + VOL + ": no majority") - noMajorityBefore)
        .isZero();
    assertThat(countInControlPlane("audit of " + VOL + ": failed")).isZero();
    assertThat(manager.get(VOL).orElseThrow().getReplicasList())
        .allSatisfy(r -> assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_HEALTHY));

    // The writer stopped: the followers catch up and every replica agrees again.
    long agreedBefore = countInControlPlane("audit of " + VOL + ": all agree []");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> countInControlPlane("audit of " + VOL + ": all agree []") > agreedBefore);
    assertThat(countInControlPlane("failed: audit of " + VOL)).isZero();
  }
}
