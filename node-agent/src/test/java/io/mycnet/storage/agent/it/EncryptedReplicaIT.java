package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.TrimRequest;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * At-rest encryption across a mixed replica set: four agents as processes, two with {@code
 * encryption-at-rest=true} (each its own master key file) and two without, so every 3-replica
 * volume has encrypted and plain replicas. A STRONG volume reads back byte-identical from each
 * replica, the encrypted data files never hold the written bytes, a replica killed is rebuilt
 * across formats (plain from encrypted or encrypted from plain), and the control plane's audits
 * then find the mixed set, rebuilt replica included, in agreement. Audits run only at the end: one
 * racing a client write may fail a replica that is merely behind (docs/data-path.md).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class EncryptedReplicaIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "fleet3.0123456789abcdef";
  static final String VOL = "vol-enc";
  static final int SIZE = 4 << 20;
  static final String OWNER = "app";
  // The replication manager copies from the healthy replica with the smallest node id (equal
  // trust), so the encrypted nodes sort first.
  static final List<String> ENCRYPTED = List.of("e1", "e2");
  static final List<String> NODES = List.of("e1", "e2", "p1", "p2");

  @TempDir static Path dir;
  static DataPathCluster dp;
  static List<String> holders;
  static String primary;
  static final byte[] model = new byte[SIZE];
  static final Random random = new Random(11);

  @BeforeAll
  static void start() throws Exception {
    for (String n : ENCRYPTED) {
      byte[] key = new byte[32];
      random.nextBytes(key);
      Path f = dir.resolve(n + ".key");
      Files.writeString(f, Base64.getEncoder().encodeToString(key) + "\n");
      Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
    }
    dp =
        new DataPathCluster(
            dir,
            ETCD,
            TOKEN,
            NODES,
            Duration.ofSeconds(15),
            "encrypted-replica-it-logs",
            n ->
                ENCRYPTED.contains(n)
                    ? List.of(
                        "--encryption-at-rest=true",
                        "--encryption-key-file=" + dir.resolve(n + ".key"))
                    : List.of());
    dp.manager.putNamespace(NamespaceRecord.newBuilder().setNamespace(OWNER).build());
  }

  @AfterAll
  static void stopAll() throws Exception {
    if (dp != null) {
      dp.close();
    }
  }

  /** Plaintext that is easy to look for in a data file. */
  static byte[] text(int n) {
    byte[] unit = "MYCNET-AT-REST-PLAINTEXT/".getBytes(StandardCharsets.US_ASCII);
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = unit[(i + random.nextInt(2)) % unit.length];
    }
    return b;
  }

  static void write(long epoch, long offset, byte[] data) {
    assertThat(dp.write(OWNER, primary, VOL, epoch, offset, data).getDurableReplicas())
        .isEqualTo(3);
    System.arraycopy(data, 0, model, (int) offset, data.length);
  }

  static void assertReadsBackFromEveryReplica(List<String> nodes, long epoch) {
    for (String n : nodes) {
      for (int off = 0; off < SIZE; off += 1 << 20) {
        byte[] got = dp.read(OWNER, n, VOL, epoch, off, 1 << 20);
        assertThat(Arrays.mismatch(got, Arrays.copyOfRange(model, off, off + (1 << 20))))
            .as("first differing byte in %d+1MiB on %s (-1: none)", off, n)
            .isEqualTo(-1);
      }
    }
  }

  static boolean dataFileHolds(String node, byte[] needle) throws Exception {
    byte[] disk =
        Files.readAllBytes(
            dp.cp.agentDataDir(node).resolve("replicas").resolve(VOL).resolve("data"));
    for (int i = 0; i + needle.length <= disk.length; i++) {
      if (Arrays.equals(disk, i, i + needle.length, needle, 0, needle.length)) {
        return true;
      }
    }
    return false;
  }

  static Allocation allocation() {
    return dp.manager.get(VOL).orElseThrow();
  }

  @Test
  @Order(1)
  void aMixedReplicaSetReadsBackIdenticallyFromEachReplica() throws Exception {
    Allocation a =
        dp.manager.allocate(
            StorageRequest.of(VOL, OWNER, "default", SIZE, StorageType.CONSENSUS)
                .withConsistency(ConsistencyLevel.STRONG));
    holders = a.getReplicasList().stream().map(Replica::getNodeId).toList();
    primary = a.getPrimaryNodeId();
    assertThat(holders).hasSize(3).containsAnyElementsOf(ENCRYPTED).containsAnyOf("p1", "p2");
    await()
        .atMost(Duration.ofSeconds(20))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (String n : holders) {
                VolumeStat s = dp.stat(OWNER, n, VOL);
                assertThat(s.getEpoch()).isEqualTo(1);
                assertThat(s.getPrimaryNodeId()).isEqualTo(primary);
              }
            });
    write(1, 12_388, text(200_000)); // unaligned
    write(1, 1 << 20, text(1 << 20)); // a whole chunk
    write(1, SIZE - 5000, text(5000)); // the last bytes
    write(1, 12_388 + 1000, text(10)); // inside a written block
    dp.io(OWNER, primary)
        .trim(
            TrimRequest.newBuilder()
                .setVolumeId(VOL)
                .setEpoch(1)
                .setOffset((1 << 20) + 8192)
                .setLength(4096)
                .build());
    Arrays.fill(model, (1 << 20) + 8192, (1 << 20) + 8192 + 4096, (byte) 0);
    assertReadsBackFromEveryReplica(holders, 1);
    byte[] probe = Arrays.copyOfRange(model, 1 << 20, (1 << 20) + 64);
    for (String n : holders) {
      assertThat(dataFileHolds(n, probe))
          .as("%s's data file holds the plaintext", n)
          .isEqualTo(!ENCRYPTED.contains(n));
    }
  }

  @Test
  @Order(2)
  void aReplicaIsRebuiltAcrossFormats() throws Exception {
    String spare = NODES.stream().filter(n -> !holders.contains(n)).findFirst().orElseThrow();
    // Kill a follower such that the source (the smallest surviving node id) and the spare differ
    // in format.
    String victim = null;
    for (String f : holders) {
      if (f.equals(primary)) {
        continue;
      }
      List<String> survivors = new ArrayList<>(holders);
      survivors.remove(f);
      String source = survivors.stream().sorted().findFirst().orElseThrow();
      if (ENCRYPTED.contains(source) != ENCRYPTED.contains(spare)) {
        victim = f;
        break;
      }
    }
    if (victim == null) {
      // The placement put the spare's format twin in the primary's seat and both followers in
      // the other format: then only the primary's loss makes the rebuild cross formats (a
      // follower takes over at a higher epoch and the source is one of the followers).
      victim = primary;
    }
    List<String> survivors = new ArrayList<>(holders);
    survivors.remove(victim);
    assertThat(ENCRYPTED.contains(survivors.stream().sorted().findFirst().orElseThrow()))
        .as("the rebuild of %s after losing %s (%s) crosses formats", spare, victim, holders)
        .isNotEqualTo(ENCRYPTED.contains(spare));
    dp.agents.get(victim).kill();
    String killed = victim;
    if (!killed.equals(primary)) {
      // STRONG with one follower gone: two of three is the majority.
      assertThat(dp.write(OWNER, primary, VOL, 1, 3 << 20, text(8192)).getDurableReplicas())
          .isEqualTo(2);
      System.arraycopy(dp.read(OWNER, primary, VOL, 1, 3 << 20, 8192), 0, model, 3 << 20, 8192);
    }
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(300))
        .until(
            () ->
                allocation().getReplicasList().stream()
                    .anyMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING));
    dp.awaitReplaced(VOL, spare, killed, Duration.ofSeconds(30));
    long epoch = allocation().getEpoch();
    primary = allocation().getPrimaryNodeId();
    List<String> now = allocation().getReplicasList().stream().map(Replica::getNodeId).toList();
    assertThat(now).contains(spare).doesNotContain(killed);
    await()
        .atMost(Duration.ofSeconds(15))
        .ignoreExceptions()
        .until(() -> now.stream().allMatch(n -> dp.stat(OWNER, n, VOL).getEpoch() == epoch));
    assertReadsBackFromEveryReplica(now, epoch);
    assertThat(dataFileHolds(spare, Arrays.copyOfRange(model, 1 << 20, (1 << 20) + 64)))
        .isEqualTo(!ENCRYPTED.contains(spare));
    // The rebuilt replica is a full member: a new write is durable on all three.
    write(epoch, 2 << 20, text(4096));
    assertThat(dp.read(OWNER, spare, VOL, epoch, 2 << 20, 4096))
        .isEqualTo(Arrays.copyOfRange(model, 2 << 20, (2 << 20) + 4096));
    holders = now;
  }

  @Test
  @Order(3)
  void theMixedSetPassesTheControlPlanesAudits() {
    assertThat(holders).containsAnyElementsOf(ENCRYPTED).containsAnyOf("p1", "p2");
    // The production control plane may still be finishing the previous test's rebuild: audits
    // compare HEALTHY replicas, so start from a set that is whole.
    await().atMost(Duration.ofSeconds(90)).untilAsserted(this::allThreeHealthy);
    // The control plane again, now auditing every volume whole every second (same ports: the
    // agents reconnect on their own).
    ControlPlaneFixture cp = dp.cp;
    int session = cp.sessionPort;
    int join = cp.joinPort;
    cp.controlPlane.stop(ControlPlaneFixture.STOP_GRACE);
    cp.startControlPlane(
        "MYCNET_SESSION_PORT=" + session, "MYCNET_JOIN_PORT=" + join, "MYCNET_AUDIT_INTERVAL=1s");
    String ok = "audit of " + VOL + ": all agree []";
    await().atMost(Duration.ofSeconds(30)).until(() -> cp.controlPlane.countInStderr(ok) >= 2);
    assertThat(cp.controlPlane.countInStderr("failed: audit of " + VOL)).isZero();
    assertThat(cp.controlPlane.countInStderr("audit of " + VOL + ": no majority")).isZero();
    // A restarted control plane may re-place a replica on its own (a new epoch, a rebuild); the
    // set must come back whole.
    await().atMost(Duration.ofSeconds(90)).untilAsserted(this::allThreeHealthy);
  }

  private void allThreeHealthy() {
    assertThat(allocation().getReplicasList())
        .hasSize(3)
        .allSatisfy(r -> assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_HEALTHY));
  }
}
