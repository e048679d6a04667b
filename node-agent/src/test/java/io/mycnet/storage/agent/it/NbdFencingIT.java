package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.agent.it.BlockExportCluster.Run;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fencing a consumer: a writer (an {@code nbdsh} process) writes numbered blocks through node A's
 * frontend and prints each block once its write is acknowledged; node A is fenced through its
 * Kubernetes Node annotation ({@code mycnet node fence}). The writer's next writes get errors,
 * never a silent success; the volume attaches read-write on node B at once, and every block
 * acknowledged before the fence reads back there.
 */
class NbdFencingIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "nbdfe1.0123456789abcdef";
  static final List<String> NODES = List.of("a1", "a2", "a3");
  static final Duration T = Duration.ofSeconds(60);
  static final int BLOCKS = 4000;

  @TempDir static Path dir;
  static BlockExportCluster c;

  @BeforeAll
  static void start() throws Exception {
    BlockExportCluster.requireClients(List.of("nbdsh", "nbdinfo"));
    c = new BlockExportCluster(dir, ETCD, TOKEN, NODES, "nbd-fencing-it-logs");
    c.serviceNamespace("web");
  }

  @AfterAll
  static void stop() throws Exception {
    if (c != null) {
      c.close();
    }
  }

  /** Block i holds "block <i>" repeated: every block tells which write put it there. */
  static final String PATTERN =
      "def block(i):\n    s = ('block %08d ' % i).encode()\n    return (s * (4096 // len(s) + 1))[:4096]\n";

  @Test
  void aFencedWriterGetsErrorsAndEveryAcknowledgedWriteReadsBackOnTheNextNode() throws Exception {
    String volume = c.claim("web", "web", "32Mi", "SERVICE", "STANDARD", 2, "STRONG");
    Allocation a = c.allocation(volume);
    List<String> holders = a.getReplicasList().stream().map(Replica::getNodeId).toList();
    // Node A holds no replica: fencing it leaves both replicas serving.
    String nodeA = NODES.stream().filter(n -> !holders.contains(n)).findFirst().orElseThrow();
    String nodeB = a.getPrimaryNodeId();
    c.attached(nodeA, "web", false);

    String writer =
        PATTERN
            + String.join(
                "\n",
                "import sys, time",
                "for i in range(" + BLOCKS + "):",
                "    try:",
                "        h.pwrite(block(i), i * 4096)",
                "    except nbd.Error as e:",
                "        print('ERR', i, e, flush=True)",
                "        sys.exit(3)",
                "    print('ACK', i, flush=True)",
                "    time.sleep(0.005)",
                "print('DONE', flush=True)");
    ChildProcess w =
        c.start("writer", List.of("nbdsh", "-u", c.unixUri(nodeA, volume), "-c", writer));
    await().atMost(T).until(() -> acked(w) >= 100);
    String fenced = c.fence(nodeA, "lost contact (test)");
    assertThat(fenced).startsWith("fence ok");
    assertThat(w.awaitExit(T)).as("the writer ended after the fence").isTrue();
    assertThat(w.stdout()).as("the writer failed, it did not finish").contains("ERR ");
    assertThat(w.stdout()).doesNotContain("DONE");
    assertThat(w.exitValue()).isEqualTo(3);
    int acked = acked(w);
    assertThat(acked).isLessThan(BLOCKS);

    // The fenced node's attachment is gone and the epoch was raised.
    Allocation after = c.allocation(volume);
    assertThat(after.getAttachmentsList()).noneMatch(x -> x.getNodeId().equals(nodeA));
    assertThat(after.getEpoch()).isGreaterThan(a.getEpoch());
    assertThat(after.getAttachmentNote()).isNotEmpty();

    // Another node attaches read-write at once (no waiting for a lease) and reads every block
    // acknowledged to the fenced writer.
    assertThat(c.attach(nodeB, "web", false)).startsWith("attach ok");
    c.attached(nodeB, "web", false);
    Run check =
        c.nbdsh(
            T,
            c.unixUri(nodeB, volume),
            PATTERN
                + String.join(
                    "\n",
                    "bad = [i for i in range("
                        + acked
                        + ") if h.pread(4096, i * 4096) != block(i)]",
                    "print('MISMATCH', bad[:20]) if bad else print('ALL', " + acked + ")",
                    "assert not bad"));
    assertThat(check.code()).as("%s", check).isZero();
    assertThat(check.out()).contains("ALL " + acked);

    // A writer on the fenced node is refused: the export is gone there.
    Run again = c.run(T, "nbdinfo", "--size", c.unixUri(nodeA, volume));
    assertThat(again.code()).as("%s", again).isNotZero();
  }

  /** The number of blocks the writer printed as acknowledged (ACK 0 .. ACK n-1, in order). */
  static int acked(ChildProcess w) {
    return (int) w.stdout().lines().filter(l -> l.startsWith("ACK ")).count();
  }
}
