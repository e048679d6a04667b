package io.mycnet.storage.agent.replica;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Group commit of {@link VolumeReplica}: concurrent writes share fdatasyncs, and each one is
 * durable (data and checksums, or ciphertext and seals) when its write returns. Real files; the
 * replica is closed and reopened before the bytes are read back.
 */
class GroupCommitTest {
  static final int SIZE = 4 << 20;
  static final int WRITERS = 32;
  static final int PER_WRITER = 16;
  static final String NS = "app";

  @TempDir Path dir;
  final NamespaceKeys keys = NamespaceKeys.of(master());
  final ExecutorService pool = Executors.newFixedThreadPool(WRITERS);

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  static byte[] master() {
    byte[] k = new byte[32];
    new Random(99).nextBytes(k);
    return k;
  }

  VolumeReplica open(boolean encrypted) throws IOException {
    if (!encrypted) {
      return VolumeReplica.open("v1", dir, SIZE);
    }
    VolumeReplica r = VolumeReplica.open("v1", dir, SIZE, keys);
    r.bindNamespace(NS);
    return r;
  }

  /** Writer {@code t}'s {@code i}-th write: its own block, unaligned every third write. */
  static long offsetOf(int t, int i) {
    return (long) (t * PER_WRITER + i) * VolumeReplica.BLOCK + (i % 3 == 0 ? 100 : 0);
  }

  static byte[] bytesOf(int t, int i) {
    byte[] b = new byte[i % 3 == 0 ? 1000 : VolumeReplica.BLOCK];
    new Random(t * 1000L + i).nextBytes(b);
    return b;
  }

  <T> List<T> all(List<Future<T>> futures) throws Exception {
    List<T> out = new ArrayList<>();
    for (Future<T> f : futures) {
      out.add(f.get(120, TimeUnit.SECONDS));
    }
    return out;
  }

  @ParameterizedTest(name = "encrypted={0}")
  @ValueSource(booleans = {false, true})
  void concurrentWritersShareSyncsAndEachFindsItsBytesAfterReopen(boolean encrypted)
      throws Exception {
    long syncs;
    try (VolumeReplica r = open(encrypted)) {
      CyclicBarrier start = new CyclicBarrier(WRITERS);
      List<Future<Void>> done = new ArrayList<>();
      for (int t = 0; t < WRITERS; t++) {
        int writer = t;
        done.add(
            pool.submit(
                () -> {
                  start.await(60, TimeUnit.SECONDS);
                  for (int i = 0; i < PER_WRITER; i++) {
                    r.write(offsetOf(writer, i), bytesOf(writer, i));
                  }
                  return null;
                }));
      }
      all(done);
      syncs = r.syncCount();
    }
    int writes = WRITERS * PER_WRITER;
    // Every write returned durable, yet the writes waiting together shared their syncs.
    assertThat(syncs).isPositive().isLessThan(writes);
    try (VolumeReplica r = open(encrypted)) {
      for (int t = 0; t < WRITERS; t++) {
        for (int i = 0; i < PER_WRITER; i++) {
          byte[] b = bytesOf(t, i);
          assertThat(r.read(offsetOf(t, i), b.length)).as("writer %d write %d", t, i).isEqualTo(b);
        }
      }
      assertThat(r.scrub()).isEmpty();
    }
  }

  @Test
  void waitersForWritesCompletedBeforeASyncAllShareThatOneSync() throws Exception {
    try (VolumeReplica r = open(false)) {
      List<Future<Long>> written = new ArrayList<>();
      for (int t = 0; t < WRITERS; t++) {
        int writer = t;
        written.add(pool.submit(() -> r.writeAsync(offsetOf(writer, 1), bytesOf(writer, 1))));
      }
      List<Long> tickets = all(written);
      assertThat(tickets).doesNotHaveDuplicates().hasSize(WRITERS);
      assertThat(r.syncCount()).isZero();
      CyclicBarrier start = new CyclicBarrier(WRITERS);
      List<Future<Void>> waits = new ArrayList<>();
      for (long ticket : tickets) {
        waits.add(
            pool.submit(
                () -> {
                  start.await(60, TimeUnit.SECONDS);
                  r.awaitDurable(ticket);
                  return null;
                }));
      }
      all(waits);
      // The first sync started after every write: it covered all of them.
      assertThat(r.syncCount()).isEqualTo(1);
    }
    try (VolumeReplica r = open(false)) {
      for (int t = 0; t < WRITERS; t++) {
        assertThat(r.read(offsetOf(t, 1), VolumeReplica.BLOCK)).isEqualTo(bytesOf(t, 1));
      }
    }
  }

  @Test
  void aCoveredTicketReturnsAtOnceAndAFlushWithNothingNewDoesNotSync() throws Exception {
    try (VolumeReplica r = open(false)) {
      long t1 = r.writeAsync(0, bytesOf(0, 1));
      long t2 = r.zeroAsync(VolumeReplica.BLOCK, 3 * VolumeReplica.BLOCK + 7);
      long t3 = r.writeAsync(10 * VolumeReplica.BLOCK, bytesOf(0, 2));
      assertThat(t1).isLessThan(t2);
      assertThat(t2).isLessThan(t3);
      // Reads see a write before it is durable.
      assertThat(r.read(0, VolumeReplica.BLOCK)).isEqualTo(bytesOf(0, 1));
      r.awaitDurable(t3);
      assertThat(r.syncCount()).isEqualTo(1);
      r.awaitDurable(t1);
      r.sync();
      assertThat(r.syncCount()).isEqualTo(1);
      r.write(20 * VolumeReplica.BLOCK, bytesOf(0, 4));
      assertThat(r.syncCount()).isEqualTo(2);
      r.sync();
      assertThat(r.syncCount()).isEqualTo(2);
    }
  }

  @Test
  void aFailedSyncFailsThatWaitAndEveryLaterOne() throws Exception {
    VolumeReplica r = open(false);
    long ticket = r.writeAsync(0, bytesOf(0, 1));
    r.close(); // the fdatasync that follows fails: the channels are closed
    assertThatThrownBy(() -> r.awaitDurable(ticket)).isInstanceOf(IOException.class);
    // Sticky: even a wait for nothing new is refused, since durability is now unknown.
    assertThatThrownBy(() -> r.awaitDurable(0))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("could not be made durable");
    assertThatThrownBy(r::sync).isInstanceOf(IOException.class);
    assertThat(r.syncCount()).isZero();
  }
}
