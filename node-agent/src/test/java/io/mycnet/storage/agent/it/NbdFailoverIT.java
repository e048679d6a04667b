package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mycnet.storage.agent.it.BlockExportCluster.Run;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Transparent failover: {@code fio --ioengine=nbd} writes 4 KiB random blocks with {@code
 * verify=crc32c} to a 3-replica STRONG volume through the frontend of a node that is not the
 * primary, and the primary's agent is SIGKILLed in the middle of it. The control plane hands the
 * primary role to a follower once the dead node's lease expires, the frontend re-sends what was in
 * flight to the new primary: no I/O error reaches fio and its verify passes; the killed agent is
 * started again and the verify passes once more. Prints the failover gap: fio's largest write
 * latency, which is the time from the kill to the completion of the writes it held up.
 */
class NbdFailoverIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "nbdfo1.0123456789abcdef";
  static final List<String> NODES = List.of("f1", "f2", "f3", "f4");

  @TempDir static Path dir;
  static BlockExportCluster c;

  @BeforeAll
  static void start() throws Exception {
    BlockExportCluster.requireClients(List.of("fio"));
    assertThat(BlockExportCluster.run0("fio", "--enghelp=nbd"))
        .as("fio has the nbd engine (Debian's fio has it)")
        .isTrue();
    c = new BlockExportCluster(dir, ETCD, TOKEN, NODES, "nbd-failover-it-logs");
    c.serviceNamespace("db");
  }

  @AfterAll
  static void stop() throws Exception {
    if (c != null) {
      c.close();
    }
  }

  static List<String> fio(String uri, Path output, String... extra) {
    List<String> cmd = new ArrayList<>();
    cmd.add("fio");
    cmd.add("--name=failover");
    cmd.add("--ioengine=nbd");
    cmd.add("--uri=" + uri);
    cmd.add("--rw=randwrite");
    cmd.add("--bs=4k");
    cmd.add("--iodepth=8");
    cmd.add("--size=16m");
    cmd.add("--randrepeat=1");
    cmd.add("--randseed=15");
    cmd.add("--verify=crc32c");
    cmd.add("--verify_fatal=1");
    cmd.add("--output-format=json");
    cmd.add("--output=" + output);
    cmd.addAll(List.of(extra));
    return cmd;
  }

  @Test
  void fioSeesNoErrorWhileThePrimaryIsKilledAndVerifiesAfterItReturns() throws Exception {
    String volume = c.claim("db", "db", "32Mi", "SERVICE", "CRITICAL", 3, "STRONG");
    Allocation a = c.allocation(volume);
    String primary = a.getPrimaryNodeId();
    List<String> holders = a.getReplicasList().stream().map(Replica::getNodeId).toList();
    // The consumer: the node without a replica (the frontend's path to every replica is remote).
    String consumer = NODES.stream().filter(n -> !holders.contains(n)).findFirst().orElseThrow();
    c.attached(consumer, "db", false);
    String uri = c.unixUri(consumer, volume);

    Path first = dir.resolve("fio-1.json");
    // 4096 writes at 400 a second: about 10 s of writing, the kill after 3 s of it.
    ChildProcess fio = c.start("fio-write", fio(uri, first, "--do_verify=1", "--rate_iops=400"));
    Thread.sleep(3000);
    assertThat(fio.isAlive()).as("fio still writing when the primary is killed").isTrue();
    long killedAt = System.nanoTime();
    c.dp.agents.get(primary).kill();
    assertThat(fio.awaitExit(Duration.ofSeconds(150))).as("fio ended").isTrue();
    double wallToEnd = (System.nanoTime() - killedAt) / 1e9;
    String out = Files.exists(first) ? Files.readString(first) : "";
    assertThat(fio.exitValue()).as("fio exit code; %s %s", out, fio.stderr()).isZero();
    JsonNode job = job(first);
    assertThat(job.get("error").asInt()).as("fio's error").isZero();
    JsonNode w = job.get("write");
    assertThat(w.get("total_ios").asLong()).isEqualTo(4096);
    double clatMaxMs = w.get("clat_ns").get("max").asDouble() / 1e6;
    double latMaxMs = w.get("lat_ns").get("max").asDouble() / 1e6;
    Allocation moved = c.allocation(volume);
    assertThat(moved.getPrimaryNodeId()).as("the primary moved").isNotEqualTo(primary);
    System.out.printf(
        "FAILOVER GAP: SIGKILL of the primary's agent (%s) to the next completed write:"
            + " fio max write latency %.0f ms (completion %.0f ms); fio ended %.1f s after the"
            + " kill; new primary %s at epoch %d%n",
        primary, latMaxMs, clatMaxMs, wallToEnd, moved.getPrimaryNodeId(), moved.getEpoch());

    // The killed node returns; everything fio wrote still verifies.
    c.dp.restart(primary);
    Path second = dir.resolve("fio-2.json");
    Run verify = c.run(Duration.ofSeconds(120), fio(uri, second, "--verify_only=1"));
    assertThat(verify.code()).as("%s", verify).isZero();
    JsonNode v = job(second);
    assertThat(v.get("error").asInt()).isZero();
    assertThat(v.get("read").get("total_ios").asLong()).as("blocks read and verified").isPositive();
  }

  static JsonNode job(Path json) throws Exception {
    String text = Files.readString(json);
    // fio may print notes before the JSON document.
    JsonNode root = new ObjectMapper().readTree(text.substring(text.indexOf('{')));
    return root.get("jobs").get(0);
  }
}
