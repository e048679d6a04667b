package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.csi.v1.CapacityRange;
import io.mycnet.storage.csi.v1.ControllerPublishVolumeRequest;
import io.mycnet.storage.csi.v1.ControllerPublishVolumeResponse;
import io.mycnet.storage.csi.v1.ControllerUnpublishVolumeRequest;
import io.mycnet.storage.csi.v1.CreateVolumeRequest;
import io.mycnet.storage.csi.v1.DeleteVolumeRequest;
import io.mycnet.storage.csi.v1.NodePublishVolumeRequest;
import io.mycnet.storage.csi.v1.NodeStageVolumeRequest;
import io.mycnet.storage.csi.v1.NodeUnpublishVolumeRequest;
import io.mycnet.storage.csi.v1.NodeUnstageVolumeRequest;
import io.mycnet.storage.csi.v1.Volume;
import io.mycnet.storage.csi.v1.VolumeCapability;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Consumer failover through the CSI driver: a STRONG three-replica volume is published read-write
 * to node A (ControllerPublishVolume), staged as ext4 and published through A's node plugin; files
 * are written and fsync'd. A's agent, which is also the volume's primary, is SIGKILLed (its
 * nbdfuse, loop device and mounts stay on the host, as on a real crashed node's kernel, and are
 * cleaned up at the end). ControllerPublishVolume to node B is retried, as the external-attacher
 * retries, until the control plane has fenced A and admits B; B stages and publishes the volume,
 * every file is checksum-identical and a new file is written and fsync'd. The time from the kill to
 * that first write on B is printed (short grace: node lease 2 s, DOWN 9 s after it lapsed, a
 * replication pass at least every 2 s).
 */
class CsiFailoverIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "failcs.0123456789abcdef";
  static final List<String> NODES = List.of("c1", "c2", "c3", "c4");

  /**
   * Control plane settings instead of the fixture's short ones, {@code MYCNET_NAME=value,...}: e.g.
   * {@code -Dcsi.failover.settings=MYCNET_NODE_LEASE_TTL=15s,MYCNET_DOWN_GRACE_PERIOD=10m,...} to
   * measure the production defaults (then also raise {@code -Dcsi.failover.bound-s}).
   */
  static final String SETTINGS = System.getProperty("csi.failover.settings", "");

  static final Duration FAILOVER_BOUND =
      Duration.ofSeconds(Long.getLong("csi.failover.bound-s", 120));

  @TempDir static Path dir;
  static CsiCluster csi;
  static final SecureRandom random = new SecureRandom();

  /** The killed agent's children (its nbdfuse), stopped by PID at the end. */
  static final List<ProcessHandle> orphans = new java.util.concurrent.CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    csi =
        new CsiCluster(
            dir,
            ETCD,
            TOKEN,
            NODES,
            "csi-failover-logs",
            List.of("--capacity=8GiB"),
            SETTINGS.isBlank() ? List.of() : List.of(SETTINGS.split(",")),
            "8Gi");
  }

  @AfterAll
  static void stop() throws Exception {
    orphans.forEach(ChildProcess::kill);
    if (csi != null) {
      csi.close();
    }
  }

  static VolumeCapability ext4() {
    return VolumeCapability.newBuilder()
        .setMount(VolumeCapability.MountVolume.newBuilder().setFsType("ext4"))
        .setAccessMode(
            VolumeCapability.AccessMode.newBuilder()
                .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
        .build();
  }

  static ControllerPublishVolumeResponse publish(String volumeId, String node) {
    return csi.controller()
        .controllerPublishVolume(
            ControllerPublishVolumeRequest.newBuilder()
                .setVolumeId(volumeId)
                .setNodeId(node)
                .setVolumeCapability(ext4())
                .setReadonly(false)
                .build());
  }

  /** Stages and publishes the volume on {@code node}; returns the published (target) path. */
  static Path stageAndPublish(
      Volume v, String node, ControllerPublishVolumeResponse pub, Path staging, Path target)
      throws Exception {
    Files.createDirectories(staging);
    Files.createDirectories(target.getParent());
    csi.node(node)
        .nodeStageVolume(
            NodeStageVolumeRequest.newBuilder()
                .setVolumeId(v.getVolumeId())
                .putAllPublishContext(pub.getPublishContextMap())
                .putAllVolumeContext(v.getVolumeContextMap())
                .setStagingTargetPath(staging.toString())
                .setVolumeCapability(ext4())
                .build());
    csi.node(node)
        .nodePublishVolume(
            NodePublishVolumeRequest.newBuilder()
                .setVolumeId(v.getVolumeId())
                .putAllPublishContext(pub.getPublishContextMap())
                .putAllVolumeContext(v.getVolumeContextMap())
                .setStagingTargetPath(staging.toString())
                .setTargetPath(target.toString())
                .setVolumeCapability(ext4())
                .build());
    return target;
  }

  /** Writes {@code data} to {@code file} and fsyncs the file and its directory. */
  static void writeSynced(Path file, byte[] data) throws Exception {
    try (FileChannel ch =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(data);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    try (FileChannel d = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
      d.force(true);
    }
  }

  static String sha256(byte[] data) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
  }

  @Test
  void aKilledConsumersVolumeIsPublishedOnAnotherNodeWithEveryFsyncedFile() throws Exception {
    Volume v =
        csi.controller()
            .createVolume(
                CreateVolumeRequest.newBuilder()
                    .setName("failover-data")
                    .addVolumeCapabilities(ext4())
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(256L << 20))
                    .putAllParameters(CsiCluster.parameters("3", "STRONG"))
                    .build())
            .getVolume();
    String volumeId = v.getVolumeId();
    Allocation alloc = csi.dp.manager.get(volumeId).orElseThrow();
    assertThat(alloc.getReplicasList()).hasSize(3);
    // The consumer A is the volume's primary (the worst case: the writer and the primary's data
    // port die together); B holds a replica.
    String a = alloc.getPrimaryNodeId();
    String b =
        alloc.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(a))
            .findFirst()
            .orElseThrow();
    System.out.println("volume " + volumeId + ": consumer and primary " + a + ", next " + b);

    ControllerPublishVolumeResponse pubA = publish(volumeId, a);
    Path onA =
        stageAndPublish(
            v, a, pubA, dir.resolve("kubelet-a/staging"), dir.resolve("kubelet-a/pods/target"));
    Map<String, String> sums = new TreeMap<>();
    Files.createDirectories(onA.resolve("tree/sub"));
    for (int i = 0; i < 24; i++) {
      byte[] data = new byte[4096 + random.nextInt(1 << 20)];
      random.nextBytes(data);
      String name = (i % 3 == 0 ? "tree/sub/" : "tree/") + "file-" + i;
      writeSynced(onA.resolve(name), data);
      sums.put(name, sha256(data));
    }

    csi.dp.agents.get(a).handle().descendants().forEach(orphans::add);
    long killed = System.nanoTime();
    csi.dp.agents.get(a).kill();
    csi.forget(a);

    ControllerPublishVolumeResponse pubB = null;
    int refusals = 0;
    String lastRefusal = "";
    while (pubB == null) {
      assertThat(System.nanoTime() - killed)
          .as(
              "ControllerPublishVolume to %s admitted within %s (last refusal: %s)",
              b, FAILOVER_BOUND, lastRefusal)
          .isLessThan(FAILOVER_BOUND.toNanos());
      try {
        pubB = publish(volumeId, b);
      } catch (StatusRuntimeException e) {
        refusals++;
        lastRefusal = e.getStatus().getCode() + ": " + e.getStatus().getDescription();
        Thread.sleep(250);
      }
    }
    long admitted = System.nanoTime();
    Path onB = null;
    String lastStageError = "";
    while (onB == null) {
      assertThat(System.nanoTime() - killed)
          .as(
              "staged and published on %s within %s (last error: %s)",
              b, FAILOVER_BOUND, lastStageError)
          .isLessThan(FAILOVER_BOUND.toNanos());
      try {
        onB =
            stageAndPublish(
                v, b, pubB, dir.resolve("kubelet-b/staging"), dir.resolve("kubelet-b/pods/target"));
      } catch (StatusRuntimeException e) {
        lastStageError = e.getStatus().getCode() + ": " + e.getStatus().getDescription();
        Thread.sleep(250);
      }
    }
    byte[] fresh = new byte[64 << 10];
    random.nextBytes(fresh);
    writeSynced(onB.resolve("after-failover"), fresh);
    long firstWrite = System.nanoTime();
    System.out.printf(
        "consumer failover (%s): kill -> publish admitted on %s %d ms"
            + " (%d refusals, last: %s), kill -> first fsync'd write on %s %d ms%n",
        SETTINGS.isBlank() ? "lease 2 s, DOWN grace 9 s" : SETTINGS,
        b,
        (admitted - killed) / 1_000_000,
        refusals,
        lastRefusal,
        b,
        (firstWrite - killed) / 1_000_000);
    assertThat(refusals).as("A's attachment was exclusive until it was fenced").isPositive();

    for (Map.Entry<String, String> e : sums.entrySet()) {
      assertThat(sha256(Files.readAllBytes(onB.resolve(e.getKey()))))
          .as("%s on %s", e.getKey(), b)
          .isEqualTo(e.getValue());
    }
    assertThat(sha256(Files.readAllBytes(onB.resolve("after-failover")))).isEqualTo(sha256(fresh));

    csi.node(b)
        .nodeUnpublishVolume(
            NodeUnpublishVolumeRequest.newBuilder()
                .setVolumeId(volumeId)
                .setTargetPath(onB.toString())
                .build());
    csi.node(b)
        .nodeUnstageVolume(
            NodeUnstageVolumeRequest.newBuilder()
                .setVolumeId(volumeId)
                .setStagingTargetPath(dir.resolve("kubelet-b/staging").toString())
                .build());
    assertThat(CsiCluster.mountsUnder(dir.resolve("kubelet-b").toString())).isEmpty();
    csi.controller()
        .controllerUnpublishVolume(
            ControllerUnpublishVolumeRequest.newBuilder()
                .setVolumeId(volumeId)
                .setNodeId(b)
                .build());
    // A's attachment was fenced and its node is gone: the volume is no longer attached anywhere.
    csi.controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(volumeId).build());
  }
}
