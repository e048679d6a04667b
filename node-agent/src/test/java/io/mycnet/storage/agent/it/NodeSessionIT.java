package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.AuditReplica;
import io.mycnet.storage.api.v1.CreateReplica;
import io.mycnet.storage.api.v1.DeleteReplica;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.RebuildReplica;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent and the control plane as separate processes over real gRPC/mutual TLS on loopback,
 * against a real etcd: join, heartbeats, command delivery and acknowledgement, redelivery after an
 * agent restart, lease expiry after SIGKILL, invalid configuration.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NodeSessionIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "fleet1.0123456789abcdef";

  @TempDir static Path dir;
  static ControlPlaneFixture cp;
  static ChildProcess agent1;

  @BeforeAll
  static void startControlPlane() {
    cp =
        new ControlPlaneFixture(dir, ETCD.client(), ETCD.endpoints(), TOKEN + " reusable\n")
            .startControlPlane();
  }

  @AfterAll
  static void stopAll() {
    if (cp != null) {
      cp.close();
    }
  }

  static NodeCommand create(String id, String volume, long epoch) {
    return NodeCommand.newBuilder()
        .setCommandId(id)
        .setIssuedAtUnixMs(System.currentTimeMillis())
        .setCreateReplica(
            CreateReplica.newBuilder().setVolumeId(volume).setEpoch(epoch).setSizeBytes(1 << 20))
        .build();
  }

  static Path replicaMeta(String node, String volume) {
    return cp.agentDataDir(node).resolve("replicas").resolve(volume).resolve("replica.meta");
  }

  @Test
  @Order(1)
  void agentJoinsWithItsOwnKeyAndIsRegistered() throws Exception {
    agent1 = cp.startAgent("n1", TOKEN);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> cp.registry.get("n1").isPresent() && cp.registry.isLive("n1"));
    NodeRecord rec = cp.registry.get("n1").orElseThrow();
    assertThat(rec.getTopologyPath()).isEqualTo("region=eu/zone=eu-1/rack=r1/node=n1");
    assertThat(rec.getOwner()).isEqualTo("tests");
    assertThat(rec.getCapacityBytes()).isEqualTo(1L << 30);
    var id = cp.storedIdentity("n1");
    assertThat(rec.getCertificateSerialsList()).contains(id.serial());
    assertThat(id.certificate().getSubjectX500Principal().getName()).contains("CN=n1");
    assertThat(id.notAfter())
        .isBetween(
            java.time.Instant.now().plus(Duration.ofHours(23)),
            java.time.Instant.now().plus(Duration.ofHours(25)));
    Path key = cp.agentDataDir("n1").resolve("identity").resolve("node.key");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
        .isEqualTo("rw-------");
    Path caKey = cp.caDir.resolve("ca.key");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(caKey)))
        .isEqualTo("rw-------");
  }

  @Test
  @Order(2)
  void heartbeatsKeepTheLivenessLeaseAliveLongPastItsTtl() {
    // TTL 2 s, heartbeat 500 ms: live throughout 5 s only if heartbeats renew the lease.
    await()
        .during(Duration.ofSeconds(5))
        .atMost(Duration.ofSeconds(7))
        .until(() -> cp.registry.isLive("n1"));
    assertThat(cp.registry.get("n1").orElseThrow().getLastSeenUnixMs())
        .isGreaterThan(System.currentTimeMillis() - 60_000);
  }

  @Test
  @Order(3)
  void commandIsDeliveredAppliedAndAcknowledgedOnce() throws Exception {
    cp.queue.enqueue("n1", create("c-create-1", "vol-a", 1));
    await().atMost(Duration.ofSeconds(15)).until(() -> cp.queue.pending("n1").isEmpty());
    assertThat(replicaMeta("n1", "vol-a")).exists();
    assertThat(Files.readString(replicaMeta("n1", "vol-a")))
        .contains("volume-id=vol-a")
        .contains("epoch=1");
    Path log = cp.agentDataDir("n1").resolve("state").resolve("applied-commands.log");
    assertThat(Files.readAllLines(log).stream().filter(l -> l.startsWith("c-create-1\t")))
        .hasSize(1);
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> cp.controlPlane.countInStderr("node n1 applied command c-create-1") == 1);
    // Stays acknowledged once: nothing is redelivered within a few heartbeats.
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(3))
        .until(() -> cp.controlPlane.countInStderr("command c-create-1") == 1);
  }

  @Test
  @Order(4)
  void rebuildStartsAndAnAuditWithoutNonceIsRefused() {
    cp.queue.enqueue(
        "n1",
        NodeCommand.newBuilder()
            .setCommandId("c-rebuild-1")
            .setRebuildReplica(
                RebuildReplica.newBuilder()
                    .setVolumeId("vol-b")
                    .setEpoch(1)
                    .setSizeBytes(1 << 20)
                    .setSourceNodeId("n9")
                    .setSourceAddress("127.0.0.1:1"))
            .build());
    cp.queue.enqueue(
        "n1",
        NodeCommand.newBuilder()
            .setCommandId("c-audit-1")
            .setAuditReplica(AuditReplica.newBuilder().setVolumeId("vol-a").setEpoch(1))
            .build());
    await().atMost(Duration.ofSeconds(15)).until(() -> cp.queue.pending("n1").isEmpty());
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                cp.controlPlane.countInStderr("node n1 applied command c-rebuild-1") == 1
                    && cp.controlPlane.countInStderr(
                            "did not apply command c-audit-1: audit nonce must be at least 16 bytes")
                        == 1);
    assertThat(replicaMeta("n1", "vol-b")).exists();
  }

  @Test
  @Order(5)
  void commandsQueuedWhileTheAgentIsDownAreDeliveredAfterItsRestart() throws Exception {
    agent1.stop(ControlPlaneFixture.STOP_GRACE);
    cp.queue.enqueue("n1", create("c-create-2", "vol-c", 1));
    cp.queue.enqueue(
        "n1",
        NodeCommand.newBuilder()
            .setCommandId("c-delete-1")
            .setDeleteReplica(DeleteReplica.newBuilder().setVolumeId("vol-a").setEpoch(1))
            .build());
    // A replay of an id the agent already applied (its acknowledgement "lost"): harmless.
    cp.queue.enqueue("n1", create("c-create-1", "vol-a-replayed", 1));
    // A replica lost while the agent was down is reported missing after the restart.
    cp.queue.enqueue("n1", create("c-create-3", "vol-d", 1));
    assertThat(cp.queue.pending("n1")).hasSize(4);

    agent1 = cp.startAgent("n1", TOKEN);
    await().atMost(Duration.ofSeconds(20)).until(() -> cp.queue.pending("n1").isEmpty());
    assertThat(replicaMeta("n1", "vol-c")).exists();
    assertThat(replicaMeta("n1", "vol-a")).doesNotExist();
    assertThat(replicaMeta("n1", "vol-a-replayed")).doesNotExist();
    assertThat(agent1.countInStderr("command c-create-1 was already applied")).isEqualTo(1);
    // The restart reused the stored certificate: no second join.
    assertThat(cp.controlPlane.countInStderr("node n1 joined")).isEqualTo(1);

    agent1.kill();
    // The replica's directory (metadata, data file, checksums) is lost from disk.
    Path vol = replicaMeta("n1", "vol-d").getParent();
    try (var files = Files.walk(vol)) {
      for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(f);
      }
    }
    agent1 = cp.startAgent("n1", TOKEN);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                // vol-c, and vol-b from the rebuild started above; vol-d is reported missing
                cp.controlPlane.countInStderr("replica(s), missing [vol-d]") >= 1);
  }

  @Test
  @Order(6)
  void sigkilledAgentsLivenessKeyDisappearsWhenItsLeaseExpires() {
    ChildProcess agent2 = cp.startAgent("n2", TOKEN);
    await().atMost(Duration.ofSeconds(20)).until(() -> cp.registry.isLive("n2"));
    agent2.kill();
    // TTL 2 s: gone within a few seconds; the record stays (DOWN after grace is the replication
    // manager's decision).
    await().atMost(Duration.ofSeconds(10)).until(() -> !cp.registry.isLive("n2"));
    assertThat(cp.registry.get("n2")).isPresent();
    assertThat(cp.registry.isLive("n1")).isTrue();
  }

  @Test
  @Order(7)
  void invalidConfigurationStopsTheAgentWithExitCode2NamingTheSetting() {
    ChildProcess p =
        cp.run(
            "agent-bad-capacity",
            ControlPlaneFixture.AGENT_MAIN,
            List.of(
                "--node-id=n3",
                "--topology=region=eu/zone=eu-1",
                "--owner=tests",
                "--data-dir=" + cp.agentDataDir("n3"),
                "--capacity=lots",
                "--control-plane=127.0.0.1:" + cp.sessionPort,
                "--token-file=" + cp.agentTokenFile("n3", TOKEN),
                "--ca-file=" + cp.caFile(),
                "--listen=127.0.0.1:0"));
    assertThat(p.awaitExit(Duration.ofSeconds(20))).isTrue();
    assertThat(p.exitValue()).isEqualTo(2);
    assertThat(p.stderr()).contains("invalid setting --capacity").contains("'lots' is not a size");

    ChildProcess q =
        cp.run(
            "cp-no-token-file",
            ControlPlaneFixture.CP_MAIN,
            List.of(),
            java.util.Map.of(
                "MYCNET_ETCD_ENDPOINTS", ETCD.endpoints().get(0),
                "MYCNET_CA_DIR", cp.caDir.toString()));
    assertThat(q.awaitExit(Duration.ofSeconds(20))).isTrue();
    assertThat(q.exitValue()).isEqualTo(2);
    assertThat(q.stderr())
        .contains("invalid setting MYCNET_TOKEN_FILE: must name the bootstrap token file");
  }
}
