package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaRole;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rebuild under a sustained write load keeps the forwarded writes that race its chunks within the
 * agent's {@code rebuild-catch-up-max}, as the rebuild target's own Stat says: agents with a 1 MiB
 * bound and a 1 MiB/s rebuild bandwidth, a 2-replica volume whose follower is killed and rebuilt on
 * a third node while a writer sends 4-64 KiB writes all over the volume (every chunk of which is on
 * its way at once). Sampled while it runs, the kept bytes never exceed the bound; at the end the
 * peak is within the bound and above 0 (writes did race chunks), and the new replica holds every
 * acknowledged write.
 */
class RebuildMemoryBoundIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "mem4bd.0123456789abcdef";
  static final String OWNER = "app";
  static final String VOL = "vol-mem";
  static final int SIZE = 8 << 20;
  static final long LIMIT = 1L << 20;
  static final List<String> NODES = List.of("k1", "k2", "k3");

  @TempDir Path dir;

  @Test
  void forwardedWritesKeptByARebuildStayWithinTheConfiguredBound() throws Exception {
    try (DataPathCluster dp =
        new DataPathCluster(
            dir,
            ETCD,
            TOKEN,
            NODES,
            Duration.ofSeconds(10),
            "rebuild-memory-logs",
            "--rebuild-catch-up-max=1MiB",
            "--rebuild-bandwidth=1MiB")) {
      dp.manager.putNamespace(NamespaceRecord.newBuilder().setNamespace(OWNER).build());
      Allocation a =
          dp.manager.allocate(StorageRequest.of(VOL, OWNER, "default", SIZE, StorageType.SERVICE));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> dp.manager.get(VOL).orElseThrow().getState() == VolumeState.VOLUME_STATE_BOUND);
      String primary = a.getPrimaryNodeId();
      String victim =
          a.getReplicasList().stream()
              .map(Replica::getNodeId)
              .filter(n -> !n.equals(primary))
              .findFirst()
              .orElseThrow();
      String spare =
          NODES.stream()
              .filter(n -> !n.equals(primary) && !n.equals(victim))
              .findFirst()
              .orElseThrow();
      byte[] model = new byte[SIZE];
      Random random = new Random(20261201L);

      // Every chunk holds data, so the rebuild copies each one (a hole costs no ReadChunk).
      for (int off = 0; off < SIZE; off += 1 << 20) {
        byte[] data = new byte[1 << 20];
        random.nextBytes(data);
        int at = off;
        await()
            .atMost(Duration.ofSeconds(20))
            .ignoreExceptions()
            .until(() -> dp.write(OWNER, primary, VOL, a.getEpoch(), at, data) != null);
        System.arraycopy(data, 0, model, off, data.length);
      }
      assertThat(dp.stat(OWNER, primary, VOL).getRebuildKeptLimitBytes()).isEqualTo(LIMIT);

      // The follower dies; the control plane rebuilds its replica on the spare.
      dp.agents.get(victim).kill();
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () ->
                  dp.manager.get(VOL).orElseThrow().getReplicasList().stream()
                      .anyMatch(
                          r ->
                              r.getNodeId().equals(spare)
                                  && r.getState() == ReplicaState.REPLICA_STATE_REBUILDING));

      AtomicBoolean stop = new AtomicBoolean();
      List<VolumeStat> samples = new CopyOnWriteArrayList<>();
      Thread sampler =
          new Thread(
              () -> {
                while (!stop.get()) {
                  try {
                    samples.add(dp.stat(OWNER, spare, VOL));
                  } catch (StatusRuntimeException e) {
                    // not attached yet, or its epoch moving: the next sample
                  }
                  sleep(50);
                }
              },
              "stat-sampler");
      List<long[]> unacknowledged = new ArrayList<>();
      AtomicLong acked = new AtomicLong();
      Random writes = new Random(42L);
      Thread writer =
          new Thread(
              () -> {
                long epoch = a.getEpoch();
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (!stop.get() && System.nanoTime() < until) {
                  int len = 4096 * (1 + writes.nextInt(16));
                  long off = 4096L * writes.nextInt((SIZE - len) / 4096 + 1);
                  byte[] data = new byte[len];
                  writes.nextBytes(data);
                  try {
                    dp.write(OWNER, primary, VOL, epoch, off, data);
                    synchronized (model) {
                      System.arraycopy(data, 0, model, (int) off, len);
                    }
                    acked.incrementAndGet();
                  } catch (StatusRuntimeException e) {
                    synchronized (model) {
                      unacknowledged.add(new long[] {off, len});
                    }
                    try {
                      epoch = dp.stat(OWNER, primary, VOL).getEpoch();
                    } catch (StatusRuntimeException again) {
                      // the next write tells
                    }
                  }
                  sleep(10);
                }
              },
              "writer");
      sampler.start();
      writer.start();
      try {
        dp.awaitReplaced(VOL, spare, victim, Duration.ofSeconds(90));
      } finally {
        stop.set(true);
        writer.join(20_000);
        sampler.join(20_000);
      }
      assertThat(writer.isAlive()).isFalse();
      assertThat(sampler.isAlive()).isFalse();
      assertThat(acked.get()).isGreaterThan(0);

      // While it ran: never more kept than the bound, which is the agent's setting.
      List<VolumeStat> rebuilding =
          samples.stream().filter(s -> s.getRole() == ReplicaRole.REPLICA_ROLE_REBUILDING).toList();
      assertThat(rebuilding).as("Stat samples of the spare while it was rebuilding").isNotEmpty();
      for (VolumeStat s : samples) {
        assertThat(s.getRebuildKeptLimitBytes()).isEqualTo(LIMIT);
        assertThat(s.getRebuildKeptBytes()).isBetween(0L, LIMIT);
        assertThat(s.getRebuildKeptPeakBytes()).isBetween(s.getRebuildKeptBytes(), LIMIT);
      }
      // At the end: the peak of the rebuild that completed is within the bound and writes did race
      // chunks on their way; nothing is kept any more.
      VolumeStat end = dp.stat(OWNER, spare, VOL);
      assertThat(end.getRole()).isNotEqualTo(ReplicaRole.REPLICA_ROLE_REBUILDING);
      assertThat(end.getRebuildKeptBytes()).isZero();
      assertThat(end.getRebuildKeptLimitBytes()).isEqualTo(LIMIT);
      assertThat(end.getRebuildKeptPeakBytes()).isPositive().isLessThanOrEqualTo(LIMIT);

      // The new replica holds every acknowledged write. A refused write may or may not have
      // landed: its range is taken from the primary.
      long epoch = dp.manager.get(VOL).orElseThrow().getEpoch();
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                byte[] want = model.clone();
                for (long[] u : unacknowledged) {
                  byte[] b = dp.read(OWNER, primary, VOL, epoch, u[0], u[1]);
                  System.arraycopy(b, 0, want, (int) u[0], b.length);
                }
                for (int off = 0; off < SIZE; off += 1 << 20) {
                  byte[] got = dp.read(OWNER, spare, VOL, epoch, off, 1 << 20);
                  assertThat(Arrays.mismatch(got, Arrays.copyOfRange(want, off, off + (1 << 20))))
                      .as("first byte differing in %d+1MiB on %s (-1: none)", off, spare)
                      .isEqualTo(-1);
                }
              });
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
