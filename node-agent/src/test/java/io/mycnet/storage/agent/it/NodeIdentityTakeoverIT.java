package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.api.v1.JoinResponse;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Path;
import java.security.KeyPair;
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
 * Identity takeover by re-join: with a real agent running as core-3 (a separate process, mutual
 * TLS), whoever holds a valid bootstrap token joins as core-3 with a fresh key and its own address,
 * topology, labels and capacity. The join is refused {@code ALREADY_EXISTS} and writes nothing: the
 * node record is as it was, no certificate is issued, a single-use token is not spent; the real
 * agent keeps its session. The node itself repeating a join with its own key still works.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NodeIdentityTakeoverIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String FLEET = "fleet4.0123456789abcdef";
  static final String SINGLE = "singl4.0123456789abcdef";
  static final String VICTIM = "core-3";

  @TempDir static Path dir;
  static ControlPlaneFixture cp;
  static JavaProcess agent;

  @BeforeAll
  static void start() {
    cp =
        new ControlPlaneFixture(
                dir,
                ETCD.client(),
                ETCD.endpoints(),
                FLEET + " reusable\n" + SINGLE + " single-use\n")
            .startControlPlane();
    agent = cp.startAgent(VICTIM, FLEET);
    await().atMost(Duration.ofSeconds(30)).until(() -> cp.registry.isLive(VICTIM));
  }

  @AfterAll
  static void stop() {
    if (cp != null) {
      cp.close();
    }
  }

  /** The record without what the agent's own heartbeats refresh (last seen, bytes used). */
  static NodeRecord stable(NodeRecord r) {
    return r.toBuilder().clearLastSeenUnixMs().clearUsedBytes().build();
  }

  static List<String> issued(String node) {
    return cp.store.keys(ControlPlaneFixture.PREFIX + "/security/issued/" + node + "/");
  }

  @Test
  @Order(1)
  void aJoinAsALiveNodeWithAnotherKeyIsRefusedAndChangesNothing() throws Exception {
    NodeRecord before = cp.registry.get(VICTIM).orElseThrow();
    assertThat(before.getBoundKeySha256().size()).isEqualTo(32);
    List<String> issuedBefore = issued(VICTIM);
    String serialBefore = cp.storedIdentity(VICTIM).serial();
    try (NodeApiClient api = new NodeApiClient(cp)) {
      for (String token : List.of(FLEET, SINGLE)) {
        KeyPair attacker = NodeIdentity.generateKeyPair();
        assertThatThrownBy(
                () ->
                    api.join(
                        VICTIM,
                        token,
                        attacker,
                        "region=evil/zone=e1/rack=r9/node=" + VICTIM,
                        "127.0.0.1:9"))
            .isInstanceOfSatisfying(
                StatusRuntimeException.class,
                e -> {
                  assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
                  assertThat(e.getStatus().getDescription())
                      .isEqualTo(
                          "node core-3 is already registered with live certificates; an operator"
                              + " must re-admit it: mycnet node readmit core-3");
                });
      }
      // Nothing was written: the record, the issued certificates, the single-use token.
      assertThat(stable(cp.registry.get(VICTIM).orElseThrow())).isEqualTo(stable(before));
      assertThat(issued(VICTIM)).isEqualTo(issuedBefore);
      assertThat(cp.security.tokenUse("singl4").exists()).isFalse();

      // The real agent keeps working: still live past two lease TTLs (2 s), same certificate,
      // never re-joined.
      Thread.sleep(4_500);
      assertThat(cp.registry.isLive(VICTIM)).isTrue();
      assertThat(cp.storedIdentity(VICTIM).serial()).isEqualTo(serialBefore);
      assertThat(agent.countInStderr("joined the control plane")).isEqualTo(1);
      assertThat(stable(cp.registry.get(VICTIM).orElseThrow()).getAddress())
          .isEqualTo(before.getAddress());
      assertThat(cp.controlPlane.countInStderr("is already registered with live certificates"))
          .isGreaterThanOrEqualTo(1);
    }
  }

  @Test
  @Order(2)
  void aNodeMayRepeatItsJoinWithItsOwnKeyOnly() throws Exception {
    try (NodeApiClient api = new NodeApiClient(cp)) {
      KeyPair own = NodeIdentity.generateKeyPair();
      String topology = "region=eu/zone=eu-1/rack=r2/node=n-repeat";
      JoinResponse first = api.join("n-repeat", SINGLE, own, topology, "127.0.0.1:10");
      // A lost answer: the same node, the same key, the same single-use token.
      JoinResponse again = api.join("n-repeat", SINGLE, own, topology, "127.0.0.1:10");
      assertThat(again.getCertificate().getSerial())
          .isNotEqualTo(first.getCertificate().getSerial());
      assertThat(api.hello(NodeApiClient.identity(own, again), "n-repeat").getCode())
          .isEqualTo(Status.Code.OK);
      assertThat(cp.registry.get("n-repeat").orElseThrow().getCertificateSerialsList())
          .contains(first.getCertificate().getSerial(), again.getCertificate().getSerial());
      // Another key for the same id is another machine.
      assertThatThrownBy(
              () ->
                  api.join(
                      "n-repeat", FLEET, NodeIdentity.generateKeyPair(), topology, "127.0.0.1:11"))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS));
      assertThat(cp.registry.get("n-repeat").orElseThrow().getAddress()).isEqualTo("127.0.0.1:10");
    }
  }
}
