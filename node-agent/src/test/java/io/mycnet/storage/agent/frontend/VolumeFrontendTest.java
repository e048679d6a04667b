package io.mycnet.storage.agent.frontend;

import static io.mycnet.storage.agent.frontend.FrontendAgents.attachment;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.agent.nbd.BlockDevice;
import io.mycnet.storage.agent.nbd.BlockIoException;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.Attachment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The block frontend against real agents (replica stores on disk, data ports with mutual TLS on
 * loopback, the gRPC replica link): I/O through a remote and a local primary, a write in flight
 * while the primary fails that completes on the next one (told by the control plane, or learned
 * from the replicas' Stat), EPERM at once for a fenced node, EIO only after the retry window.
 */
class VolumeFrontendTest {
  static final Duration WINDOW = Duration.ofSeconds(60);
  @TempDir Path dir;
  FrontendAgents agents;
  Attachment n0 = attachment("n0", false, 1);

  @BeforeEach
  void start() throws Exception {
    agents = new FrontendAgents(dir, "n0", "n1", "n2");
  }

  @AfterEach
  void stop() {
    agents.close();
  }

  /** n1 primary, n2 follower (STRONG), the given attachments. */
  AssignReplica epoch1(Attachment... attached) throws Exception {
    AssignReplica a = agents.assignment(1, "n1", List.of("n1", "n2"), attached);
    agents.agent("n1").replica(a);
    agents.agent("n2").replica(a);
    return a;
  }

  /** The failover the control plane decides: n2 is primary at epoch 2, alone. */
  AssignReplica failover(Attachment... attached) throws Exception {
    AssignReplica a = agents.assignment(2, "n2", List.of("n2"), attached);
    agents.agent("n2").volume().assign(a);
    return a;
  }

  static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  @Test
  void readsWritesTrimsAndMapsThroughARemotePrimary() throws Exception {
    AssignReplica a = epoch1(n0);
    VolumeFrontend f = agents.agent("n0").frontend(n0, a, WINDOW);
    BlockDevice d = f.open(false);
    assertThat(d.sizeBytes()).isEqualTo(FrontendAgents.SIZE);
    assertThat(d.readOnly()).isFalse();
    assertThat(d.flushCoversAllConnections()).isTrue();

    byte[] data = random(10_000, 1);
    d.write(4097, data, true); // unaligned, sub-block head and tail
    assertThat(d.read(4097, data.length)).isEqualTo(data);
    assertThat(d.read(4096, 1)).containsExactly(0); // the neighbouring byte untouched
    // Durable on both replicas when answered (STRONG).
    assertThat(agents.agent("n2").volume().replica().read(4097, data.length)).isEqualTo(data);
    d.flush();

    // Blocks 1..3 hold data; the rest was never written.
    assertThat(d.map(0, FrontendAgents.SIZE))
        .containsExactly(
            new BlockDevice.Extent(4096, true),
            new BlockDevice.Extent(12288, false),
            new BlockDevice.Extent(FrontendAgents.SIZE - 16384, true));
    // A trim of whole blocks makes them holes again; a partial block is zeroed in place.
    d.trim(4096, 8192 + 100, false);
    assertThat(d.read(4096, 8192 + 100)).isEqualTo(new byte[8192 + 100]);
    assertThat(d.map(0, 20480))
        .containsExactly(
            new BlockDevice.Extent(12288, true),
            new BlockDevice.Extent(4096, false),
            new BlockDevice.Extent(4096, true));
    assertThat(agents.agent("n2").volume().replica().map(0, 20480))
        .extracting(e -> e.hole())
        .containsExactly(true, false, true);
  }

  @Test
  void aLocalPrimaryIsServedInProcess() throws Exception {
    Attachment n1 = attachment("n1", false, 1);
    AssignReplica a = epoch1(n1);
    VolumeFrontend f = agents.agent("n1").frontend(n1, a, WINDOW);
    BlockDevice d = f.open(false);
    // n1's own data port goes away: its frontend does not need it (no gRPC to itself).
    agents.agent("n1").stopPort();
    byte[] data = random(8192, 2);
    d.write(0, data, false);
    assertThat(d.read(0, 8192)).isEqualTo(data);
    assertThat(agents.agent("n2").volume().replica().read(0, 8192)).isEqualTo(data);
  }

  @Test
  void aWriteInFlightDuringAFailoverCompletesOnTheNewPrimary() throws Exception {
    AssignReplica a = epoch1(n0);
    VolumeFrontend f = agents.agent("n0").frontend(n0, a, WINDOW);
    BlockDevice d = f.open(false);
    d.write(0, random(4096, 3), false);
    agents.agent("n1").stopPort(); // the primary is lost

    byte[] data = random(6000, 4);
    CompletableFuture<Void> w =
        CompletableFuture.runAsync(
            () -> {
              try {
                d.write(100, data, true);
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    // The control plane raises the epoch with n2 as primary and tells the replica and the
    // attached node.
    AssignReplica b = failover(n0);
    f.assign(b);
    w.get(60, TimeUnit.SECONDS);
    assertThat(f.epoch()).isEqualTo(2);
    assertThat(f.primary()).isEqualTo("n2");
    assertThat(agents.agent("n2").volume().replica().read(100, 6000)).isEqualTo(data);
    assertThat(d.read(100, 6000)).isEqualTo(data);
  }

  @Test
  void theFrontendLearnsTheNewPrimaryFromTheReplicas() throws Exception {
    AssignReplica a = epoch1(n0);
    VolumeFrontend f = agents.agent("n0").frontend(n0, a, WINDOW);
    BlockDevice d = f.open(false);
    agents.agent("n1").stopPort();
    failover(n0); // the assignment reaches n2 only, not the attached node
    byte[] data = random(4096, 5);
    d.write(8192, data, false);
    assertThat(f.epoch()).isEqualTo(2);
    assertThat(f.primary()).isEqualTo("n2");
    assertThat(agents.agent("n2").volume().replica().read(8192, 4096)).isEqualTo(data);
  }

  @Test
  void aFencedNodeIsRefusedWithEpermAtOnce() throws Exception {
    AssignReplica a = epoch1(n0);
    VolumeFrontend f = agents.agent("n0").frontend(n0, a, WINDOW);
    BlockDevice d = f.open(false);
    d.write(0, random(4096, 6), false);
    // Fenced: the attachment is gone and the epoch raised; the replicas learn it, n0 does not.
    AssignReplica fenced = agents.assignment(2, "n1", List.of("n1", "n2"));
    agents.agent("n1").volume().assign(fenced);
    agents.agent("n2").volume().assign(fenced);
    byte[] before = agents.agent("n1").volume().replica().read(0, 4096);
    assertThatThrownBy(() -> d.write(0, random(4096, 7), false))
        .isInstanceOfSatisfying(
            BlockIoException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(BlockIoException.Kind.NOT_PERMITTED);
              assertThat(e.getMessage()).contains("n0 is not attached to app.data");
            });
    assertThat(agents.agent("n1").volume().replica().read(0, 4096)).isEqualTo(before);
  }

  @Test
  void withoutAPrimaryARequestFailsWithEioOnlyAfterTheRetryWindow() throws Exception {
    AssignReplica a = epoch1(n0);
    VolumeFrontend f = agents.agent("n0").frontend(n0, a, Duration.ofSeconds(2));
    BlockDevice d = f.open(false);
    d.write(0, random(4096, 8), false);
    agents.agent("n1").stopPort();
    agents.agent("n2").stopPort();
    assertThatThrownBy(() -> d.read(0, 4096))
        .isInstanceOfSatisfying(
            BlockIoException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(BlockIoException.Kind.IO);
              assertThat(e.getMessage()).contains("retry window of 2000 ms", "UNAVAILABLE");
            });
  }

  @Test
  void aReadOnlyAttachmentOrOpeningReadsAndNeverWrites() throws Exception {
    Attachment ro = attachment("n0", true, 1);
    AssignReplica a = epoch1(ro);
    agents.agent("n1").volume().replica().write(0, random(4096, 9));
    VolumeFrontend f = agents.agent("n0").frontend(ro, a, WINDOW);
    BlockDevice d = f.open(false);
    assertThat(d.readOnly()).isTrue();
    assertThat(d.read(0, 4096)).isEqualTo(random(4096, 9));
    d.flush(); // nothing to flush, no error
    for (var write :
        List.<org.assertj.core.api.ThrowableAssert.ThrowingCallable>of(
            () -> d.write(0, new byte[1], false),
            () -> d.trim(0, 4096, false),
            () -> d.writeZeroes(0, 4096, true, false))) {
      assertThatThrownBy(write)
          .isInstanceOfSatisfying(
              BlockIoException.class,
              e -> assertThat(e.kind()).isEqualTo(BlockIoException.Kind.NOT_PERMITTED));
    }
    assertThat(agents.agent("n1").volume().replica().read(0, 4096)).isEqualTo(random(4096, 9));
  }

  @Test
  void aDetachEndsEveryOpeningAndAFenceSaysEperm() throws Exception {
    AssignReplica a = epoch1(n0);
    VolumeFrontend f = agents.agent("n0").frontend(n0, a, WINDOW);
    BlockDevice one = f.open(false);
    BlockDevice two = f.open(true);
    assertThat(two.readOnly()).isTrue();
    assertThatThrownBy(() -> two.write(0, new byte[1], false))
        .isInstanceOfSatisfying(
            BlockIoException.class,
            e -> assertThat(e.kind()).isEqualTo(BlockIoException.Kind.NOT_PERMITTED));
    byte[] data = random(4096, 10);
    one.write(0, data, false);
    f.detach(false, "volume detach");
    for (BlockDevice d : List.of(one, two)) {
      assertThatThrownBy(() -> d.read(0, 1))
          .isInstanceOfSatisfying(
              BlockIoException.class,
              e -> assertThat(e.kind()).isEqualTo(BlockIoException.Kind.SHUTDOWN));
    }
    assertThatThrownBy(() -> f.open(false)).isInstanceOf(BlockIoException.class);
    assertThat(agents.agent("n2").volume().replica().read(0, 4096)).isEqualTo(data);

    VolumeFrontend g = agents.agent("n0").frontend(attachment("n0", false, 2), a, WINDOW);
    BlockDevice three = g.open(false);
    g.detach(true, "node n0 fenced");
    assertThatThrownBy(() -> three.write(0, new byte[1], false))
        .isInstanceOfSatisfying(
            BlockIoException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(BlockIoException.Kind.NOT_PERMITTED);
              assertThat(e.getMessage()).contains("fenced");
            });
  }

  @Test
  void aRequestWaitingForAPrimaryFailsAtOnceWhenTheNodeIsFenced() throws Exception {
    AssignReplica a = epoch1(n0);
    VolumeFrontend f = agents.agent("n0").frontend(n0, a, WINDOW);
    BlockDevice d = f.open(false);
    d.write(0, random(4096, 11), false);
    agents.agent("n1").stopPort();
    CompletableFuture<Void> w =
        CompletableFuture.runAsync(
            () -> {
              try {
                d.write(0, new byte[4096], false);
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    await().atMost(Duration.ofSeconds(30)).until(() -> f.inFlight() == 1);
    f.detach(true, "fenced");
    assertThatThrownBy(() -> w.get(30, TimeUnit.SECONDS))
        .hasRootCauseInstanceOf(BlockIoException.class)
        .rootCause()
        .hasMessageContaining("fenced");
    assertThat(Arrays.equals(agents.agent("n2").volume().replica().read(0, 4096), new byte[4096]))
        .isFalse();
  }
}
