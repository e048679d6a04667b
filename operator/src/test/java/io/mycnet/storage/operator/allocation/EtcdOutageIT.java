package io.mycnet.storage.operator.allocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.local.EtcdCluster;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The manager rides out an etcd restart and the loss of one member of a three-member cluster
 * without a restart of its own: calls during the outage fail with a clear error, later calls work.
 */
class EtcdOutageIT {
  private static final long GIB = ControlPlaneFixture.GIB;

  private static StorageRequest req(String id) {
    return StorageRequest.of(id, "ns", "default", GIB, StorageType.SERVICE);
  }

  @Test
  void survivesAnEtcdRestart() {
    try (EtcdCluster etcd = EtcdCluster.start(1);
        ControlPlaneFixture cp = new ControlPlaneFixture(etcd.endpoints(), "/restart")) {
      cp.registerNodes(1, 2, 1, 2, 100, TrustTier.CRITICAL, 0.95);
      cp.namespace("ns", 0, 0);
      cp.manager.allocate(req("before"));

      etcd.member(0).stop();
      assertThatThrownBy(() -> cp.manager.allocate(req("during")))
          .isInstanceOf(StoreUnavailableException.class)
          .hasMessageContaining("etcd");
      etcd.member(0).start();

      AtomicInteger attempt = new AtomicInteger();
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptionsInstanceOf(StoreUnavailableException.class)
          .until(() -> cp.manager.allocate(req("after-" + attempt.incrementAndGet())) != null);
      assertThat(cp.manager.get("before")).isPresent();
      assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
    }
  }

  @Test
  void keepsWorkingWhenOneOfThreeMembersDies() {
    try (EtcdCluster etcd = EtcdCluster.start(3);
        ControlPlaneFixture cp = new ControlPlaneFixture(etcd.endpoints(), "/member")) {
      cp.registerNodes(1, 2, 1, 2, 100, TrustTier.CRITICAL, 0.95);
      cp.namespace("ns", 0, 0);
      cp.manager.allocate(req("v0"));
      etcd.member(0).kill();
      AtomicInteger n = new AtomicInteger();
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptionsInstanceOf(StoreUnavailableException.class)
          .until(() -> cp.manager.allocate(req("v" + n.incrementAndGet())) != null);
      for (int i = 0; i < 5; i++) {
        cp.manager.allocate(req("more-" + i));
      }
      assertThat(cp.manager.list().size()).isGreaterThanOrEqualTo(7);
      assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
    }
  }
}
