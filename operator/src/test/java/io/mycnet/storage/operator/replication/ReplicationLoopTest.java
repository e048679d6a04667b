package io.mycnet.storage.operator.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.operator.allocation.ManagerFixture;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.store.InMemoryStore;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A planned shutdown closes the loop first: from then on no pass starts and no decision is taken,
 * and a pass under way finishes before close returns. (The loop is driven through its leadership
 * check, which every pass asks first; as a follower it never reaches the manager.)
 */
class ReplicationLoopTest {

  @Test
  void afterCloseNoPassStartsWhateverTriggersIt() {
    AtomicInteger passes = new AtomicInteger();
    ReplicationLoop loop =
        new ReplicationLoop(
            null,
            null,
            () -> {
              passes.incrementAndGet();
              return false;
            },
            Duration.ofHours(1));
    loop.trigger();
    await().atMost(Duration.ofSeconds(30)).until(() -> passes.get() == 1);
    loop.close();
    assertThat(loop.stopped()).isTrue();
    loop.trigger();
    loop.tierChanged("n1");
    loop.auditFailed("v1", "n1");
    loop.close(); // idempotent
    assertThat(passes.get()).isEqualTo(1);
  }

  @Test
  void closeLetsAPassUnderWayFinishFirst() throws Exception {
    CountDownLatch inPass = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean finished = new AtomicBoolean();
    ReplicationLoop loop =
        new ReplicationLoop(
            null,
            null,
            () -> {
              inPass.countDown();
              try {
                release.await(30, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
              }
              finished.set(true);
              return false;
            },
            Duration.ofHours(1));
    loop.trigger();
    assertThat(inPass.await(30, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<Boolean> closed =
        CompletableFuture.supplyAsync(
            () -> {
              loop.close();
              return finished.get();
            });
    release.countDown();
    assertThat(closed.get(60, TimeUnit.SECONDS))
        .as("the pass finished before close returned")
        .isTrue();
  }

  /**
   * The expiry of a primary's lease starts a pass at once, which hands the role over: failure
   * detection does not wait for the loop's interval (here an hour) nor for the grace period.
   */
  @Test
  void aPrimarysExpiredLeaseStartsThePassThatHandsItsRoleOver() {
    try (ManagerFixture cp =
        new ManagerFixture(
            InMemoryStore::new,
            "/loop-handover",
            new ReplicationManager.Settings(Duration.ofMinutes(10), 2, 8))) {
      cp.nodes(1, 3, 1, 100, TrustTier.CRITICAL, 0.95);
      cp.namespace("ns", 0, 0);
      cp.manager.allocate(
          StorageRequest.of("v", "ns", "default", ManagerFixture.GIB, StorageType.SERVICE)
              .withReplicas(2));
      cp.confirmCreates();
      Allocation a = cp.volume("v");
      ReplicationLoop loop =
          new ReplicationLoop(cp.replication, cp.registry, () -> true, Duration.ofHours(1));
      loop.start();
      try {
        cp.silence(a.getPrimaryNodeId());
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> !cp.volume("v").getPrimaryNodeId().equals(a.getPrimaryNodeId()));
        assertThat(cp.volume("v").getEpoch()).isEqualTo(a.getEpoch() + 1);
      } finally {
        loop.close();
      }
    }
  }

  /**
   * A rebuild deferred for want of a rebuild slot starts as soon as a rebuild completes and frees
   * one, not at the loop's next interval (here an hour): two volumes lose their replica on the same
   * node, and with one rebuild per node (as source or target) on three nodes only one of their
   * rebuilds can run at a time.
   */
  @Test
  void aCompletedRebuildStartsTheRebuildThatWaitedForItsSlot() {
    try (ManagerFixture cp =
        new ManagerFixture(
            InMemoryStore::new,
            "/loop-slots",
            new ReplicationManager.Settings(Duration.ZERO, 1, 8))) {
      cp.nodes(1, 3, 1, 100, TrustTier.CRITICAL, 0.95);
      cp.namespace("ns", 0, 0);
      for (String v : List.of("a", "b")) {
        cp.manager.allocate(
            StorageRequest.of(v, "ns", "default", ManagerFixture.GIB, StorageType.SERVICE)
                .withReplicas(2));
      }
      cp.confirmCreates();
      Set<String> both = holders(cp.volume("a"));
      both.retainAll(holders(cp.volume("b")));
      assertThat(both).as("two volumes of two replicas on three nodes share one").isNotEmpty();
      String lost = both.iterator().next();
      ReplicationLoop loop =
          new ReplicationLoop(cp.replication, cp.registry, () -> true, Duration.ofHours(1));
      loop.start();
      try {
        cp.silence(lost);
        await().atMost(Duration.ofSeconds(30)).until(() -> rebuilding(cp) == 1);
        // The passes the lease's end asked for have run (its grace is 0, each runs within 1 s):
        // the second rebuild waits for a slot.
        await()
            .during(Duration.ofSeconds(3))
            .atMost(Duration.ofSeconds(10))
            .until(() -> rebuilding(cp) == 1);
        assertThat(cp.completeRebuilds()).isEqualTo(1);
        await().atMost(Duration.ofSeconds(30)).until(() -> rebuilding(cp) == 1);
        assertThat(cp.completeRebuilds()).isEqualTo(1);
        for (String v : List.of("a", "b")) {
          assertThat(cp.volume(v).getReplicasList())
              .hasSize(2)
              .allSatisfy(
                  r -> {
                    assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_HEALTHY);
                    assertThat(r.getNodeId()).isNotEqualTo(lost);
                  });
        }
      } finally {
        loop.close();
      }
    }
  }

  private static Set<String> holders(Allocation a) {
    Set<String> nodes = new HashSet<>();
    for (Replica r : a.getReplicasList()) {
      nodes.add(r.getNodeId());
    }
    return nodes;
  }

  /** Replicas being rebuilt now, over both volumes. */
  private static long rebuilding(ManagerFixture cp) {
    return List.of("a", "b").stream()
        .flatMap(v -> cp.volume(v).getReplicasList().stream())
        .filter(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)
        .count();
  }
}
