package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.options.DeleteOption;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.api.v1.WriteResponse;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rebuild interrupted by a crash: after a follower of a STRONG 3-replica volume dies, the control
 * plane rebuilds it onto a spare (throttled, so the copy takes seconds); mid-copy either the
 * rebuilding agent or the rebuild's source is killed (SIGKILL). The half-copied replica is never
 * counted HEALTHY while it cannot be complete; the rebuild resumes, restarts or moves, the volume
 * ends with three HEALTHY replicas, and every one of them holds the acknowledged bytes exactly.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RebuildInterruptedIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "rbkill.0123456789abcdef";
  static final String OWNER = "app";
  static final int SIZE = 48 << 20;
  static final int CHUNK = 1 << 20;
  static final List<String> NODES = List.of("k1", "k2", "k3", "k4", "k5");

  @TempDir Path dir;
  static DataPathCluster dp;

  @BeforeEach
  void start(TestInfo test) throws Exception {
    // 48 MiB at 8 MiB/s: a full copy takes about 6 s, long enough to be interrupted. A cluster per
    // test: the nodes one test kills are no part of the next one's failures.
    dp =
        new DataPathCluster(
            dir,
            ETCD,
            TOKEN,
            NODES,
            Duration.ofSeconds(15),
            "rebuild-interrupted-logs/" + test.getTestMethod().orElseThrow().getName(),
            "--rebuild-bandwidth=8MiB");
    dp.manager.putNamespace(NamespaceRecord.newBuilder().setNamespace(OWNER).build());
  }

  @AfterEach
  void stopAll() throws Exception {
    if (dp != null) {
      dp.close();
      dp = null;
    }
    // The next test's control plane starts from an empty store.
    ETCD.client()
        .getKVClient()
        .delete(
            ByteSequence.from(ControlPlaneFixture.PREFIX, StandardCharsets.UTF_8),
            DeleteOption.builder().isPrefix(true).build())
        .get(10, TimeUnit.SECONDS);
  }

  @Test
  @Order(1)
  void aRebuildingAgentKilledMidCopyIsNeverHealthyUntilItsCopyCompletes() throws Exception {
    String vol = "vol-kill-target";
    byte[] model = new byte[SIZE];
    Allocation a = allocateAndFill(vol, model, 11);
    String primary = a.getPrimaryNodeId();
    String victim = follower(a);

    dp.agents.get(victim).kill();
    Replica rebuilding = awaitRebuilding(vol);
    String target = rebuilding.getNodeId();
    assertThat(target).isNotIn(holders(a));
    awaitMidCopy(vol, target);

    // Writes keep coming through the primary (two of three durable: a majority) while the target
    // dies and comes back; acknowledged ones go into the model.
    List<long[]> unacknowledged = new CopyOnWriteArrayList<>();
    AtomicBoolean stop = new AtomicBoolean();
    int[] acked = new int[1];
    Thread writer =
        new Thread(
            () -> {
              Random r = new Random(12);
              for (int slot = 0; !stop.get() && slot < 200; slot++) {
                long off = (long) r.nextInt(SIZE / 65_536) * 65_536 + 512;
                byte[] data = bytes(r, 65_536 - 1024);
                try {
                  WriteResponse w =
                      dp.write(OWNER, primary, vol, allocation(vol).getEpoch(), off, data);
                  if (w.getDurableReplicas() >= 2) {
                    synchronized (model) {
                      System.arraycopy(data, 0, model, (int) off, data.length);
                      acked[0]++;
                    }
                  } else {
                    unacknowledged.add(new long[] {off, data.length});
                  }
                } catch (StatusRuntimeException e) {
                  unacknowledged.add(new long[] {off, data.length});
                }
                try {
                  Thread.sleep(100);
                } catch (InterruptedException e) {
                  return;
                }
              }
            },
            "writer");
    writer.start();
    try {
      // The target dies mid-copy. From then until it is back in session its half-copied replica
      // is never counted HEALTHY.
      try (HealthyWatch watch = new HealthyWatch(vol, target)) {
        dp.agents.get(target).kill();
        await()
            .atMost(Duration.ofSeconds(15))
            .pollInterval(Duration.ofMillis(200))
            .until(() -> !dp.cp.registry.isLive(target));
        Thread.sleep(1000);
        dp.restart(target);
        watch.assertNeverHealthy("while the rebuilding agent was dead or restarting");
      }
      // The rebuild resumes or restarts there (or on another spare): three HEALTHY replicas.
      awaitThreeHealthy(vol, List.of(victim), Duration.ofSeconds(60));
    } finally {
      stop.set(true);
      writer.join(30_000);
    }
    assertThat(acked[0]).isPositive();
    assertEveryReplicaMatches(vol, model, unacknowledged);
  }

  @Test
  @Order(2)
  void aRebuildWhoseSourceIsKilledMidCopyCompletesFromAnotherSource() throws Exception {
    String vol = "vol-kill-source";
    byte[] model = new byte[SIZE];
    Allocation a = allocateAndFill(vol, model, 21);
    String victim = follower(a);

    dp.agents.get(victim).kill();
    Replica rebuilding = awaitRebuilding(vol);
    String target = rebuilding.getNodeId();
    String source = rebuilding.getSourceNodeId();
    assertThat(source).isIn(holders(a)).isNotEqualTo(victim);
    awaitMidCopy(vol, target);

    // The source dies mid-copy. The target gives the unreachable source up for the primary, which
    // holds every write, and completes from it instead of waiting for the dead node: its replica is
    // HEALTHY in the end, and whole (every replica is compared byte for byte below, the target's
    // included: nothing was written after the fill, so a half-copied replica counted HEALTHY would
    // differ). The dead source's replica is replaced like any other lost one.
    dp.agents.get(source).kill();
    awaitThreeHealthy(vol, List.of(victim, source), Duration.ofSeconds(120));
    assertThat(allocation(vol).getReplicasList())
        .as("the rebuild on %s completed", target)
        .anySatisfy(
            r -> {
              assertThat(r.getNodeId()).isEqualTo(target);
              assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_HEALTHY);
            });
    assertEveryReplicaMatches(vol, model, List.of());
  }

  // --- helpers ---

  /** Allocates a STRONG 3-replica volume and fills every byte (seeded), acknowledged by all 3. */
  static Allocation allocateAndFill(String vol, byte[] model, long seed) {
    Allocation a =
        dp.manager.allocate(
            StorageRequest.of(vol, OWNER, "default", SIZE, StorageType.CONSENSUS)
                .withConsistency(ConsistencyLevel.STRONG));
    assertThat(a.getReplicasList()).hasSize(3);
    String primary = a.getPrimaryNodeId();
    await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (String n : holders(a)) {
                VolumeStat s = dp.stat(OWNER, n, vol);
                assertThat(s.getEpoch()).isEqualTo(a.getEpoch());
                assertThat(s.getPrimaryNodeId()).isEqualTo(primary);
              }
            });
    Random r = new Random(seed);
    for (int off = 0; off < SIZE; off += CHUNK) {
      byte[] data = bytes(r, CHUNK);
      assertThat(dp.write(OWNER, primary, vol, a.getEpoch(), off, data).getDurableReplicas())
          .isEqualTo(3);
      System.arraycopy(data, 0, model, off, CHUNK);
    }
    return a;
  }

  static byte[] bytes(Random r, int n) {
    byte[] b = new byte[n];
    r.nextBytes(b);
    return b;
  }

  static Allocation allocation(String vol) {
    return dp.manager.get(vol).orElseThrow();
  }

  static List<String> holders(Allocation a) {
    return a.getReplicasList().stream().map(Replica::getNodeId).toList();
  }

  static String follower(Allocation a) {
    return holders(a).stream()
        .filter(n -> !n.equals(a.getPrimaryNodeId()))
        .findFirst()
        .orElseThrow();
  }

  /**
   * Waits until the control plane has started a rebuild (one REBUILDING replica) and returns it.
   */
  static Replica awaitRebuilding(String vol) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () ->
                allocation(vol).getReplicasList().stream()
                    .anyMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING));
    List<Replica> rebuilding =
        allocation(vol).getReplicasList().stream()
            .filter(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)
            .toList();
    assertThat(rebuilding).hasSize(1);
    return rebuilding.get(0);
  }

  /** Waits until the target's Stat shows a copy under way: some bytes done, not all. */
  static void awaitMidCopy(String vol, String target) {
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptionsInstanceOf(StatusRuntimeException.class)
        .until(
            () -> {
              VolumeStat s = dp.stat(OWNER, target, vol);
              return s.getRebuildBytesTotal() > 0
                  && s.getRebuildBytesDone() > 0
                  && s.getRebuildBytesDone() < s.getRebuildBytesTotal();
            });
  }

  /** Three HEALTHY replicas, none on {@code gone}; on a timeout, says what the allocation was. */
  static void awaitThreeHealthy(String vol, List<String> gone, Duration atMost) {
    try {
      await()
          .atMost(atMost)
          .pollInterval(Duration.ofMillis(300))
          .until(
              () -> {
                Allocation now = allocation(vol);
                return now.getReplicasList().size() == 3
                    && now.getReplicasList().stream()
                        .allMatch(
                            r ->
                                r.getState() == ReplicaState.REPLICA_STATE_HEALTHY
                                    && !gone.contains(r.getNodeId()));
              });
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(
          "no 3 HEALTHY replicas (none on "
              + gone
              + ") within "
              + atMost
              + "; allocation: "
              + allocation(vol),
          e);
    }
  }

  /**
   * Every replica of the allocation holds the model byte for byte, read at the current epoch.
   * Unacknowledged writes may or may not have landed: their ranges are taken from the primary
   * first, then every replica must match.
   */
  static void assertEveryReplicaMatches(String vol, byte[] model, List<long[]> unacknowledged) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofSeconds(1))
        .ignoreExceptionsInstanceOf(StatusRuntimeException.class)
        .untilAsserted(
            () -> {
              Allocation now = allocation(vol);
              long epoch = now.getEpoch();
              byte[] expected = model.clone();
              for (long[] u : unacknowledged) {
                byte[] b = dp.read(OWNER, now.getPrimaryNodeId(), vol, epoch, u[0], (int) u[1]);
                System.arraycopy(b, 0, expected, (int) u[0], b.length);
              }
              for (String n : holders(now)) {
                for (int off = 0; off < SIZE; off += 4 * CHUNK) {
                  byte[] got = dp.read(OWNER, n, vol, epoch, off, 4 * CHUNK);
                  assertThat(
                          Arrays.mismatch(got, Arrays.copyOfRange(expected, off, off + 4 * CHUNK)))
                      .as("first byte differing in %d+4MiB on %s (-1: none)", off, n)
                      .isEqualTo(-1);
                }
              }
            });
  }

  /**
   * Polls the allocation (every 50 ms) from its creation until closed and records each time the
   * replica on {@code node} is HEALTHY.
   */
  static final class HealthyWatch implements AutoCloseable {
    private final List<String> seen = new CopyOnWriteArrayList<>();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final Thread thread;
    private final AtomicInteger polls = new AtomicInteger();

    HealthyWatch(String vol, String node) {
      thread =
          new Thread(
              () -> {
                while (!stop.get()) {
                  try {
                    Allocation now = allocation(vol);
                    polls.incrementAndGet();
                    for (Replica r : now.getReplicasList()) {
                      if (r.getNodeId().equals(node)
                          && r.getState() == ReplicaState.REPLICA_STATE_HEALTHY) {
                        seen.add(node + " HEALTHY at epoch " + now.getEpoch());
                      }
                    }
                  } catch (RuntimeException e) {
                    // etcd busy: the next poll sees the state
                  }
                  try {
                    Thread.sleep(50);
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              },
              "healthy-watch");
      thread.setDaemon(true);
      thread.start();
    }

    void assertNeverHealthy(String when) throws InterruptedException {
      stop.set(true);
      thread.join(5_000);
      assertThat(polls.get()).as("allocation polls " + when).isPositive();
      assertThat(new ArrayList<>(seen)).as("HEALTHY " + when).isEmpty();
    }

    @Override
    public void close() throws InterruptedException {
      stop.set(true);
      thread.join(5_000);
    }
  }
}
