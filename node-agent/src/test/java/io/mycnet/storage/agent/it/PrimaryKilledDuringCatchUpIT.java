package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

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
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The primary dies while a follower catches up: a STRONG 3-replica volume on four agents, filled
 * with known bytes; one follower's agent is SIGKILLed while writes spread over the whole volume go
 * on (acknowledged by the primary and the other follower), then restarted, and the control plane
 * takes its replica back with a throttled catch-up. While that catch-up is still copying, the
 * primary's agent is SIGKILLed with a writer running. The control plane hands the primary role to
 * the follower that stayed in sync; the writer goes on at the new epoch. Every acknowledged write
 * reads back from the new primary; the catching-up replica, whenever it answers a read, answers the
 * acknowledged bytes; once the old primary's agent is back and every replica is HEALTHY, every
 * replica holds the model byte for byte.
 */
class PrimaryKilledDuringCatchUpIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "fleetk.0123456789abcdef";
  static final String OWNER = "app";
  static final String VOL = "vol-catchup-kill";
  static final int SIZE = 32 << 20;
  static final int FILL = 1 << 20;
  static final int SLOT = 128 << 10;
  static final int SLOTS = SIZE / SLOT;

  /** Slots never written after the fill: their bytes are known to every replica at any time. */
  static final int UNTOUCHED = 32;

  static final List<String> NODES = List.of("k1", "k2", "k3", "k4");

  @TempDir Path dir;

  final byte[] model = new byte[SIZE];
  final Random random = new Random(20261201L);

  /** Slots still to be written, each once, in an order spread over every chunk. */
  final ConcurrentLinkedQueue<Integer> freeSlots = new ConcurrentLinkedQueue<>();

  /** Slots whose write was acknowledged (the model holds their bytes). */
  final List<Integer> ackedSlots = new CopyOnWriteArrayList<>();

  /** Slots whose write was not acknowledged: what landed is read back from the primary. */
  final List<Integer> unknownSlots = new CopyOnWriteArrayList<>();

  /** Every acknowledgement: slot, epoch written at, durable replicas it counted. */
  final List<long[]> acks = new CopyOnWriteArrayList<>();

  DataPathCluster dp;

  @Test
  void aPrimaryKilledWhileAFollowerCatchesUpLosesNoAcknowledgedWrite() throws Exception {
    List<Integer> order = new ArrayList<>();
    for (int s = UNTOUCHED; s < SLOTS; s++) {
      order.add(s);
    }
    Collections.shuffle(order, random);
    freeSlots.addAll(order);

    // A slow catch-up: 2 MiB/s for every rebuild of a node.
    try (DataPathCluster c =
        new DataPathCluster(
            dir,
            ETCD,
            TOKEN,
            NODES,
            Duration.ofSeconds(15),
            "primary-killed-catch-up-it",
            "--rebuild-bandwidth=2MiB")) {
      dp = c;
      dp.manager.putNamespace(NamespaceRecord.newBuilder().setNamespace(OWNER).build());
      Allocation a =
          dp.manager.allocate(
              StorageRequest.of(VOL, OWNER, "default", SIZE, StorageType.CONSENSUS)
                  .withReplicas(3)
                  .withConsistency(ConsistencyLevel.STRONG));
      String primary = a.getPrimaryNodeId();
      List<String> followers =
          a.getReplicasList().stream()
              .map(Replica::getNodeId)
              .filter(n -> !n.equals(primary))
              .toList();
      assertThat(followers).hasSize(2);
      String catcher = followers.get(0);
      String inSync = followers.get(1);
      awaitAssigned(a.getReplicasList().stream().map(Replica::getNodeId).toList(), primary);

      // The whole volume with known bytes, durable on all three.
      for (int off = 0; off < SIZE; off += FILL) {
        byte[] data = pattern(FILL);
        assertThat(dp.write(OWNER, primary, VOL, epoch(), off, data).getDurableReplicas())
            .isEqualTo(3);
        System.arraycopy(data, 0, model, off, FILL);
      }

      // One follower dies; writes over many chunks go on, acknowledged by two of three.
      dp.agents.get(catcher).kill();
      for (int i = 0; i < 64; i++) {
        writeSlot(primary);
      }
      assertThat(ackedSlots).hasSizeGreaterThan(48);

      // Back: the control plane takes its replica back (a catch-up, REBUILDING) at a new epoch.
      dp.restart(catcher);
      AtomicBoolean stop = new AtomicBoolean();
      AtomicBoolean stopReading = new AtomicBoolean();
      AtomicInteger ackedAfterHandover = new AtomicInteger();
      AtomicLong handoverEpoch = new AtomicLong(Long.MAX_VALUE);
      Thread writer =
          new Thread(
              () -> {
                while (!stop.get() && !freeSlots.isEmpty()) {
                  Allocation now = dp.manager.get(VOL).orElseThrow();
                  boolean acked = writeSlot(now.getPrimaryNodeId());
                  if (acked && now.getEpoch() >= handoverEpoch.get()) {
                    ackedAfterHandover.incrementAndGet();
                  }
                  sleep(acked ? 100 : 500);
                }
              },
              "writer");
      // Reads from the catching-up replica: a refusal, or the acknowledged bytes.
      List<String> wrongReads = new CopyOnWriteArrayList<>();
      AtomicInteger servedReads = new AtomicInteger();
      Thread reader =
          new Thread(
              () -> {
                Random pick = new Random(7);
                while (!stopReading.get()) {
                  checkRead(catcher, pick, wrongReads, servedReads);
                  sleep(100);
                }
              },
              "catch-up-reader");
      writer.start();
      reader.start();
      String newPrimary;
      try {
        await()
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(100))
            .ignoreExceptions()
            .until(
                () -> {
                  if (state(catcher) != ReplicaState.REPLICA_STATE_REBUILDING) {
                    return false;
                  }
                  VolumeStat s = dp.stat(OWNER, catcher, VOL);
                  // Copying: some of the volume compared or copied, not all of it.
                  return s.getRebuildBytesDone() > 0
                      && s.getRebuildBytesDone() < s.getRebuildBytesTotal();
                });
        VolumeStat during = dp.stat(OWNER, catcher, VOL);
        long epochBefore = epoch();
        String source =
            dp.manager.get(VOL).orElseThrow().getReplicasList().stream()
                .filter(r -> r.getNodeId().equals(catcher))
                .map(Replica::getSourceNodeId)
                .findFirst()
                .orElse("?");
        System.out.printf(
            "catch-up of %s from %s at epoch %d: %d of %d bytes; killing the primary %s%n",
            catcher,
            source,
            epochBefore,
            during.getRebuildBytesDone(),
            during.getRebuildBytesTotal(),
            primary);

        // The primary dies mid catch-up, the writer running.
        dp.agents.get(primary).kill();
        await()
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(200))
            .until(() -> !dp.manager.get(VOL).orElseThrow().getPrimaryNodeId().equals(primary));
        Allocation moved = dp.manager.get(VOL).orElseThrow();
        newPrimary = moved.getPrimaryNodeId();
        assertThat(newPrimary)
            .as("the new primary: the follower that stayed in sync")
            .isEqualTo(inSync);
        assertThat(moved.getEpoch()).isGreaterThan(epochBefore);
        handoverEpoch.set(moved.getEpoch());
        // The writer goes on at the new epoch.
        await().atMost(Duration.ofSeconds(60)).until(() -> ackedAfterHandover.get() >= 5);
      } catch (Throwable t) {
        stopReading.set(true);
        throw t;
      } finally {
        stop.set(true);
        writer.join(30_000);
      }
      assertThat(writer.isAlive()).isFalse();
      // Before the handover two of three made every acknowledged write durable.
      long handedOver = handoverEpoch.get();
      assertThat(acks)
          .filteredOn(k -> k[1] < handedOver)
          .allSatisfy(
              k ->
                  assertThat(k[2])
                      .as("durable replicas of the write of slot %d at epoch %d", k[0], k[1])
                      .isGreaterThanOrEqualTo(2));
      System.out.printf(
          "durable replicas of the writes acknowledged from epoch %d on: %s%n",
          handedOver, acks.stream().filter(k -> k[1] >= handedOver).map(k -> k[2]).toList());

      try {
        // Every acknowledged write reads back from the new primary.
        await()
            .atMost(Duration.ofSeconds(30))
            .ignoreExceptionsInstanceOf(StatusRuntimeException.class)
            .untilAsserted(
                () -> {
                  long e = epoch();
                  for (int slot : ackedSlots) {
                    assertSlot(newPrimary, e, slot);
                  }
                });

        // The old primary's agent is back; every replica becomes HEALTHY.
        dp.restart(primary);
        await()
            .atMost(Duration.ofSeconds(120))
            .pollInterval(Duration.ofMillis(500))
            .untilAsserted(
                () ->
                    assertThat(dp.manager.get(VOL).orElseThrow().getReplicasList())
                        .hasSize(3)
                        .allSatisfy(
                            r ->
                                assertThat(r.getState())
                                    .as(
                                        "replica on %s (source %s)",
                                        r.getNodeId(), r.getSourceNodeId())
                                    .isEqualTo(ReplicaState.REPLICA_STATE_HEALTHY)));
      } finally {
        stopReading.set(true);
        reader.join(30_000);
      }
      assertThat(wrongReads).as("reads the catching-up replica answered wrongly").isEmpty();
      Allocation done = dp.manager.get(VOL).orElseThrow();
      List<String> holders = done.getReplicasList().stream().map(Replica::getNodeId).toList();
      awaitAssigned(holders, done.getPrimaryNodeId());
      long e = done.getEpoch();
      // Unacknowledged writes may or may not have landed: their slots are taken from the primary.
      for (int slot : unknownSlots) {
        byte[] b = dp.read(OWNER, done.getPrimaryNodeId(), VOL, e, (long) slot * SLOT, SLOT);
        System.arraycopy(b, 0, model, slot * SLOT, SLOT);
      }
      for (String n : holders) {
        assertWholeVolume(n, e);
      }
      System.out.printf(
          "%d acknowledged writes (%d after the handover), %d unacknowledged; %d reads served by"
              + " the catching-up replica; replicas %s at epoch %d match%n",
          ackedSlots.size(),
          ackedAfterHandover.get(),
          unknownSlots.size(),
          servedReads.get(),
          holders,
          e);
    }
  }

  /**
   * Writes one free slot through {@code primary} at the allocation's epoch; an acknowledged write
   * goes into the model, a refused one is remembered to be read back.
   */
  boolean writeSlot(String primary) {
    Integer slot = freeSlots.poll();
    if (slot == null) {
      return false;
    }
    byte[] data = pattern(SLOT);
    long epoch = epoch();
    try {
      WriteResponse r = dp.write(OWNER, primary, VOL, epoch, (long) slot * SLOT, data);
      acks.add(new long[] {slot, epoch, r.getDurableReplicas()});
      synchronized (model) {
        System.arraycopy(data, 0, model, slot * SLOT, SLOT);
      }
      ackedSlots.add(slot);
      return true;
    } catch (StatusRuntimeException e) {
      unknownSlots.add(slot);
      return false;
    }
  }

  /**
   * One read of an acknowledged or untouched slot from {@code node}: a refusal is fine, an answer
   * must hold the model's bytes (those slots never change again).
   */
  void checkRead(String node, Random pick, List<String> wrong, AtomicInteger served) {
    int slot;
    byte[] expected;
    synchronized (model) {
      boolean acked = !ackedSlots.isEmpty() && pick.nextBoolean();
      slot = acked ? ackedSlots.get(pick.nextInt(ackedSlots.size())) : pick.nextInt(UNTOUCHED);
      expected = Arrays.copyOfRange(model, slot * SLOT, slot * SLOT + SLOT);
    }
    try {
      byte[] got = dp.read(OWNER, node, VOL, epoch(), (long) slot * SLOT, SLOT);
      served.incrementAndGet();
      int at = Arrays.mismatch(got, expected);
      if (at != -1) {
        wrong.add(
            "slot "
                + slot
                + " from "
                + node
                + " differs at byte "
                + at
                + " (state "
                + state(node)
                + ")");
      }
    } catch (StatusRuntimeException e) {
      // Refused (not in sync, epoch moving, agent down): the client reads elsewhere.
    }
  }

  void assertSlot(String node, long epoch, int slot) {
    byte[] got = dp.read(OWNER, node, VOL, epoch, (long) slot * SLOT, SLOT);
    assertThat(Arrays.mismatch(got, Arrays.copyOfRange(model, slot * SLOT, slot * SLOT + SLOT)))
        .as("first byte differing in acknowledged slot %d on %s (-1: none)", slot, node)
        .isEqualTo(-1);
  }

  void assertWholeVolume(String node, long epoch) {
    for (int off = 0; off < SIZE; off += FILL) {
      byte[] got = dp.read(OWNER, node, VOL, epoch, off, FILL);
      assertThat(Arrays.mismatch(got, Arrays.copyOfRange(model, off, off + FILL)))
          .as("first byte differing in %d+1MiB on %s (-1: none)", off, node)
          .isEqualTo(-1);
    }
  }

  ReplicaState state(String node) {
    return dp.manager.get(VOL).orElseThrow().getReplicasList().stream()
        .filter(r -> r.getNodeId().equals(node))
        .map(Replica::getState)
        .findFirst()
        .orElse(null);
  }

  long epoch() {
    return dp.manager.get(VOL).orElseThrow().getEpoch();
  }

  void awaitAssigned(List<String> nodes, String primary) {
    await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              long e = epoch();
              for (String n : nodes) {
                VolumeStat s = dp.stat(OWNER, n, VOL);
                assertThat(s.getEpoch()).as("epoch on %s", n).isEqualTo(e);
                assertThat(s.getPrimaryNodeId()).as("primary on %s", n).isEqualTo(primary);
              }
            });
  }

  byte[] pattern(int n) {
    byte[] b = new byte[n];
    synchronized (random) {
      random.nextBytes(b);
    }
    return b;
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
