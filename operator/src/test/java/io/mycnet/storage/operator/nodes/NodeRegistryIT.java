package io.mycnet.storage.operator.nodes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.Watch;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class NodeRegistryIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  private NodeRegistry registry(String prefix) {
    return new NodeRegistry(
        new EtcdStore(ETCD.client(), Duration.ofSeconds(5)),
        new EtcdKeys(prefix),
        Clock.systemUTC(),
        Duration.ofSeconds(1));
  }

  private static NodeRecord node(String id) {
    return NodeRecord.newBuilder()
        .setNodeId(id)
        .setTopologyPath("region=eu/zone=a/rack=r1/node=" + id)
        .setCapacityBytes(100L << 30)
        .setOwner("acme")
        .build();
  }

  @Test
  void registerKeepsControlPlaneFields() {
    NodeRegistry r = registry("/nr1");
    NodeRecord first = r.register(node("n1"));
    assertThat(first.getState()).isEqualTo(NodeState.NODE_STATE_UP);
    r.setState("n1", NodeState.NODE_STATE_DRAINING);
    NodeRecord again = r.register(node("n1").toBuilder().setCapacityBytes(1).build());
    assertThat(again.getState()).isEqualTo(NodeState.NODE_STATE_DRAINING);
    assertThat(again.getJoinedAtUnixMs()).isEqualTo(first.getJoinedAtUnixMs());
    assertThat(r.get("n1")).get().extracting(NodeRecord::getCapacityBytes).isEqualTo(1L);
    assertThat(r.list()).hasSize(1);
    r.remove("n1");
    assertThat(r.get("n1")).isEmpty();
  }

  @Test
  void livenessLeaseExpiresWithoutHeartbeatsAndARestartedControlPlaneFindsIt() {
    NodeRegistry r = registry("/nr2");
    r.register(node("n2"));
    List<String> changes = new CopyOnWriteArrayList<>();
    try (Watch.Watcher w = r.watchLiveness((n, live) -> changes.add(n + "=" + live))) {
      r.heartbeat("n2");
      assertThat(r.isLive("n2")).isTrue();
      // A second registry (a restarted control plane) renews the same lease found via the key.
      NodeRegistry restarted = registry("/nr2");
      for (int i = 0; i < 4; i++) {
        restarted.heartbeat("n2");
      }
      assertThat(r.liveNodeIds()).containsExactly("n2");
      await().atMost(Duration.ofSeconds(15)).until(() -> !r.isLive("n2"));
      await().atMost(Duration.ofSeconds(5)).until(() -> changes.contains("n2=false"));
      assertThat(changes).contains("n2=true");
      r.heartbeat("n2");
      assertThat(r.isLive("n2")).isTrue();
    }
  }
}
