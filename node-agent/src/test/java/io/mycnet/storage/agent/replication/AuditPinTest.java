package io.mycnet.storage.agent.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.agent.replica.VolumeReplica;
import io.mycnet.storage.api.v1.ConsistencyLevel;
import io.mycnet.storage.api.v1.ReplicaReport;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Audit answers pinned to a write sequence ({@link ReplicatedVolume#audit}): under a concurrent
 * writer, every answer of the primary and of its (lagging) followers is the digest of the state
 * after exactly the write it names; once the followers caught up, every replica answers the same. A
 * replica set of one JVM, each replica on its own files, connected by {@link InMemoryReplicaLinks}.
 */
class AuditPinTest {
  @TempDir Path dir;
  final InMemoryReplicaLinks links = new InMemoryReplicaLinks();
  final List<ReplicatedVolume> opened = new ArrayList<>();
  final ExecutorService threads = Executors.newCachedThreadPool();

  /** Writes in the test: write k fills block 0 with the byte k (so k stays below 256). */
  static final int WRITES = 200;

  @AfterEach
  void close() throws Exception {
    threads.shutdownNow();
    threads.awaitTermination(10, TimeUnit.SECONDS);
    opened.forEach(ReplicatedVolume::close);
    links.close();
  }

  ReplicatedVolume node(String nodeId) throws Exception {
    ReplicaLink link = links.from(nodeId);
    ReplicatedVolume.Context ctx =
        new ReplicatedVolume.Context() {
          @Override
          public String nodeId() {
            return nodeId;
          }

          @Override
          public ReplicaLink link() {
            return link;
          }

          @Override
          public void report(ReplicaReport r) {}

          @Override
          public void recordEpoch(String volumeId, long epoch) {}
        };
    ReplicatedVolume v =
        new ReplicatedVolume(VolumeReplica.open("v1", dir.resolve(nodeId), 1 << 20), 1, ctx);
    opened.add(v);
    links.register(nodeId, v);
    return v;
  }

  static byte[] block(int fill) {
    byte[] b = new byte[4096];
    java.util.Arrays.fill(b, (byte) fill);
    return b;
  }

  /** HMAC-SHA256 keyed with the nonce over block 0 as it is after write {@code seq}. */
  static byte[] expected(byte[] nonce, long seq) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(nonce, "HmacSHA256"));
    return mac.doFinal(block((int) seq));
  }

  @Test
  void everyAnswerUnderAConcurrentWriterIsTheDigestOfTheSequenceItNames() throws Exception {
    ReplicatedVolume p1 = node("p1"), f1 = node("f1"), f2 = node("f2");
    for (ReplicatedVolume v : List.of(p1, f1, f2)) {
      v.assign(
          ReplicaSetTest.assign(
              1, "p1", ConsistencyLevel.CONSISTENCY_LEVEL_EVENTUAL, "p1", "f1", "f2"));
    }
    // EVENTUAL: the primary acknowledges before its followers; f1 lags further behind.
    links.delay("f1", 3);
    AtomicBoolean writing = new AtomicBoolean(true);
    Future<?> writer =
        threads.submit(
            () -> {
              try {
                for (int k = 1; k <= WRITES; k++) {
                  assertThat(p1.primaryWrite(0, block(k), 0).sequence()).isEqualTo(k);
                }
              } finally {
                writing.set(false);
              }
              return null;
            });
    SecureRandom random = new SecureRandom();
    int audits = 0;
    int behind = 0;
    while (writing.get() && audits < 100_000) {
      byte[] nonce = new byte[32];
      random.nextBytes(nonce);
      ReplicatedVolume.AuditAnswer ap = p1.audit(nonce, 0, 4096);
      for (ReplicatedVolume v : List.of(p1, f1, f2)) {
        ReplicatedVolume.AuditAnswer a = v == p1 ? ap : v.audit(nonce, 0, 4096);
        String name = v == p1 ? "p1" : v == f1 ? "f1" : "f2";
        assertThat(a.epoch()).isEqualTo(1);
        assertThat(a.sequence()).isBetween(0L, (long) WRITES);
        assertThat(a.digest())
            .as("digest of %s at write %d", name, a.sequence())
            .isEqualTo(expected(nonce, a.sequence()));
        if (a.sequence() < ap.sequence()) {
          behind++;
        }
        audits++;
      }
    }
    writer.get(60, TimeUnit.SECONDS);
    assertThat(audits).as("audits while the writer ran").isPositive();
    // Once the followers applied every write, all three answer the same at the same place.
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> f1.appliedSequence() == WRITES && f2.appliedSequence() == WRITES);
    byte[] nonce = new byte[32];
    random.nextBytes(nonce);
    for (ReplicatedVolume v : List.of(p1, f1, f2)) {
      ReplicatedVolume.AuditAnswer a = v.audit(nonce, 0, 4096);
      assertThat(a.sequence()).isEqualTo(WRITES);
      assertThat(a.digest()).isEqualTo(expected(nonce, WRITES));
    }
    System.out.println(
        "audits under the writer: " + audits + ", of them behind the primary's: " + behind);
  }

  @Test
  void aRangeLongerThanTheBoundIsRefused() throws Exception {
    ReplicatedVolume p1 = node("p1");
    p1.assign(ReplicatedVolumeTest.assign(1, "p1", "p1"));
    assertThatThrownBy(() -> p1.audit(new byte[32], 0, ReplicatedVolume.MAX_AUDIT_BYTES + 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("longer than the 16 MiB");
  }
}
