package io.mycnet.storage.operator.replication;

import static io.mycnet.storage.operator.allocation.ManagerFixture.GIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.NodeUsage;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.ReplicationStatus;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.allocation.ManagerFixture;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.store.Fence;
import io.mycnet.storage.operator.store.InMemoryStore;
import io.mycnet.storage.operator.store.NotLeaderException;
import io.mycnet.storage.operator.store.Versioned;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The replication manager's passes on the in-memory store with a clock the test moves: what makes a
 * replica unwanted, when a silent node is DOWN, what a rebuild writes, how it completes, and when
 * the manager refuses to act (ReplicationManager's javadoc, docs/replication.md).
 */
class ReplicationManagerTest {
  private final List<ManagerFixture> fixtures = new ArrayList<>();
  private String prefix;

  @org.junit.jupiter.api.BeforeEach
  void name(TestInfo info) {
    prefix = "/" + info.getTestMethod().orElseThrow().getName();
  }

  @AfterEach
  void tearDown() {
    fixtures.forEach(ManagerFixture::close);
  }

  private ManagerFixture fixture(ReplicationManager.Settings settings) {
    ManagerFixture f = new ManagerFixture(InMemoryStore::new, prefix + fixtures.size(), settings);
    fixtures.add(f);
    return f;
  }

  /** Grace 5 minutes, no reconnect window, no mass-failure hold. */
  private ManagerFixture plain() {
    return fixture(new ReplicationManager.Settings(Duration.ofMinutes(5), 2, 8));
  }

  private static Allocation bound(ManagerFixture cp, String id, StorageType type, int replicas) {
    cp.manager.allocate(StorageRequest.of(id, "ns", "default", GIB, type).withReplicas(replicas));
    cp.confirmCreates();
    Allocation a = cp.volume(id);
    assertThat(a.getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    return a;
  }

  private static Replica only(Allocation a, Predicate<Replica> p) {
    return a.getReplicasList().stream()
        .filter(p)
        .reduce(
            (x, y) -> {
              throw new AssertionError("more than one replica matches in " + a);
            })
        .orElseThrow();
  }

  private static String follower(Allocation a) {
    return a.getReplicasList().stream()
        .map(Replica::getNodeId)
        .filter(n -> !n.equals(a.getPrimaryNodeId()))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void aSilentNodeIsDownAfterItsGraceAndItsReplicaIsRebuiltElsewhereInOneTransaction() {
    ManagerFixture cp = plain();
    cp.nodes(1, 4, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 3);
    String victim = follower(a);

    cp.silence(victim);
    ReplicationManager.Pass noted = cp.replication.reconcile();
    assertThat(noted.nodesMarkedDown()).isEmpty();
    assertThat(cp.registry.get(victim).orElseThrow().getLeaseLostAtUnixMs())
        .isEqualTo(cp.clock.millis());
    cp.clock.advance(Duration.ofMinutes(5).minusSeconds(1));
    assertThat(cp.replication.reconcile().nodesMarkedDown()).isEmpty();
    assertThat(cp.volume("v")).isEqualTo(a);

    cp.clock.advance(Duration.ofSeconds(1));
    ReplicationManager.Pass down = cp.replication.reconcile();
    assertThat(down.nodesMarkedDown()).containsExactly(victim);
    assertThat(cp.registry.get(victim).orElseThrow().getState())
        .isEqualTo(NodeState.NODE_STATE_DOWN);
    assertThat(down.rebuildsStarted()).singleElement().asString().startsWith("v: started");

    Versioned<Allocation> after = cp.store.get(cp.keys.allocation("v"), Allocation.parser());
    Allocation b = after.value();
    Replica lost = only(b, r -> r.getNodeId().equals(victim));
    assertThat(lost.getState()).isEqualTo(ReplicaState.REPLICA_STATE_LOST);
    assertThat(lost.getUnwantedReason()).isEqualTo("node down");
    assertThat(lost.getCurrentWhenUnwanted()).isTrue();
    Replica target = only(b, r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING);
    assertThat(a.getReplicasList())
        .extracting(Replica::getNodeId)
        .doesNotContain(target.getNodeId());
    assertThat(b.getEpoch()).isGreaterThan(a.getEpoch());
    assertThat(target.getEpoch()).isEqualTo(b.getEpoch());
    assertThat(b.getState()).isEqualTo(VolumeState.VOLUME_STATE_REBUILDING);
    // The command, the replica states, the epoch and the reservation: one transaction.
    NodeCommand rebuild =
        cp.pending(target.getNodeId(), NodeCommand::hasRebuildReplica).stream()
            .reduce(
                (x, y) -> {
                  throw new AssertionError("two rebuilds queued");
                })
            .orElseThrow();
    assertThat(rebuild.getRebuildReplica().getEpoch()).isEqualTo(b.getEpoch());
    assertThat(rebuild.getRebuildReplica().getSourceNodeId()).isEqualTo(target.getSourceNodeId());
    assertThat(rebuild.getRebuildReplica().getSourceAddress())
        .isEqualTo(cp.registry.get(target.getSourceNodeId()).orElseThrow().getAddress());
    assertThat(rebuild.getRebuildReplica().getCapacityLimitBytes()).isEqualTo(100 * GIB);
    assertThat(rebuild.getSequence()).isEqualTo(after.modRevision());
    Versioned<NodeUsage> usage =
        cp.store.get(cp.keys.nodeUsage(target.getNodeId()), NodeUsage.parser());
    assertThat(usage.modRevision()).isEqualTo(after.modRevision());
    assertThat(usage.value().getReservedBytes()).isEqualTo(GIB);

    // Nothing is started twice.
    ReplicationManager.Pass again = cp.replication.reconcile();
    assertThat(again.rebuildsStarted()).isEmpty();
    assertThat(cp.pending(target.getNodeId(), NodeCommand::hasRebuildReplica)).hasSize(1);

    // Completion: HEALTHY, the lost replica retired with its reservation, its deletion queued.
    assertThat(cp.completeRebuilds()).isEqualTo(1);
    Allocation done = cp.volume("v");
    assertThat(done.getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    assertThat(done.getReplicasList()).extracting(Replica::getNodeId).doesNotContain(victim);
    assertThat(done.getReplicasList())
        .extracting(Replica::getState)
        .containsOnly(ReplicaState.REPLICA_STATE_HEALTHY);
    assertThat(done.getEpoch()).isGreaterThan(b.getEpoch());
    assertThat(cp.reserved(victim)).isZero();
    assertThat(cp.pending(victim, NodeCommand::hasDeleteReplica))
        .singleElement()
        .satisfies(c -> assertThat(c.getDeleteReplica().getReason()).startsWith("replaced by "));
    // A replayed report changes nothing.
    assertThat(cp.replication.completeRebuild("v", target.getNodeId(), target.getEpoch()))
        .isFalse();
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void aRemovedNodesReplicasAreLostAtOnceWithoutGrace() {
    ManagerFixture cp = plain();
    cp.nodes(1, 4, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 2);
    String gone = follower(a);
    cp.registry.remove(gone);
    ReplicationManager.Pass p = cp.replication.reconcile();
    assertThat(p.rebuildsStarted()).hasSize(1);
    Replica lost = only(cp.volume("v"), r -> r.getNodeId().equals(gone));
    assertThat(lost.getState()).isEqualTo(ReplicaState.REPLICA_STATE_LOST);
    assertThat(lost.getUnwantedReason()).isEqualTo("node removed");
  }

  @Test
  void aLostPrimaryMovesAtOnceToAnInSyncReplicaEvenWithoutASpare() {
    ManagerFixture cp = fixture(new ReplicationManager.Settings(Duration.ZERO, 2, 8));
    List<String> nodes = cp.nodes(1, 3, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 3); // every node used
    String primary = a.getPrimaryNodeId();
    String best = follower(a);
    cp.trust.set(best, TrustTier.CRITICAL, 0.99); // the most trusted takes the role
    cp.silence(primary);
    // The pass that notes the loss hands the role over already (the node is silent, not DOWN).
    ReplicationManager.Pass noted = cp.replication.reconcile();
    assertThat(noted.primariesMoved())
        .singleElement()
        .asString()
        .contains(primary + " -> " + best + " (handover");
    ReplicationManager.Pass p = cp.replication.reconcile(); // DOWN: its replica is LOST
    assertThat(p.nodesMarkedDown()).containsExactly(primary);
    assertThat(p.primariesMoved()).isEmpty();
    assertThat(p.volumesWithoutPlacement()).hasSize(1);
    Allocation b = cp.volume("v");
    assertThat(b.getPrimaryNodeId()).isEqualTo(best);
    assertThat(b.getEpoch()).isEqualTo(a.getEpoch() + 1);
    assertThat(b.getState()).isEqualTo(VolumeState.VOLUME_STATE_DEGRADED);
    assertThat(b.getRepairNote()).startsWith("no repair possible: no replacement node");
    assertThat(nodes).hasSize(3);

    // The node comes back: its replica is taken back by catch-up, not copied to a new node.
    cp.revive(primary);
    ReplicationManager.Pass back = cp.replication.reconcile();
    assertThat(back.replicasTakenBack()).hasSize(1);
    assertThat(back.rebuildsStarted()).isEmpty();
    Replica catching = only(cp.volume("v"), r -> r.getNodeId().equals(primary));
    assertThat(catching.getState()).isEqualTo(ReplicaState.REPLICA_STATE_REBUILDING);
    assertThat(catching.getSourceNodeId()).isNotEqualTo(primary);
    assertThat(cp.volume("v").getRepairNote()).isEmpty();
    assertThat(cp.registry.get(primary).orElseThrow().getState())
        .isEqualTo(NodeState.NODE_STATE_UP);
    assertThat(cp.completeRebuilds()).isEqualTo(1);
    assertThat(cp.volume("v").getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    assertThat(cp.volume("v").getPrimaryNodeId()).isEqualTo(best);
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void aSilentPrimaryHandsItsRoleToAnInSyncReplicaOnALiveNodeAtTheNextPassAndStaysAMember() {
    ManagerFixture cp = plain(); // grace 5 minutes: the node is far from DOWN
    cp.nodes(1, 4, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 3);
    String primary = a.getPrimaryNodeId();
    String best = follower(a);
    cp.trust.set(best, TrustTier.CRITICAL, 0.99); // the same choice as on DOWN: most trusted

    cp.silence(primary);
    ReplicationManager.Pass p = cp.replication.reconcile();
    assertThat(p.nodesMarkedDown()).isEmpty();
    assertThat(p.rebuildsStarted()).isEmpty();
    assertThat(p.primariesMoved())
        .singleElement()
        .asString()
        .isEqualTo(
            "v: primary "
                + primary
                + " -> "
                + best
                + " (handover: "
                + primary
                + " is silent, its lease expired; its replica stays a member)");
    Allocation b = cp.volume("v");
    assertThat(b.getPrimaryNodeId()).isEqualTo(best);
    assertThat(b.getEpoch()).isEqualTo(a.getEpoch() + 1);
    assertThat(b.getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    // The silent node's replica is kept as it was: a HEALTHY member, not LOST, nothing rebuilt.
    assertThat(b.getReplicasList())
        .extracting(Replica::getNodeId)
        .containsExactlyInAnyOrderElementsOf(
            a.getReplicasList().stream().map(Replica::getNodeId).toList());
    assertThat(only(b, r -> r.getNodeId().equals(primary)))
        .isEqualTo(only(a, r -> r.getNodeId().equals(primary)));
    assertThat(cp.registry.get(primary).orElseThrow().getState())
        .isEqualTo(NodeState.NODE_STATE_UP);
    assertThat(cp.reserved(primary)).isEqualTo(GIB);
    // Once: the next pass changes nothing.
    assertThat(cp.replication.reconcile().primariesMoved()).isEmpty();
    assertThat(cp.volume("v").getEpoch()).isEqualTo(b.getEpoch());

    // The new primary reports that the silent replica missed writes: STALE, not current.
    assertThat(cp.replication.replicaFailedAudit("v", primary)).isTrue();
    Replica missed = only(cp.volume("v"), r -> r.getNodeId().equals(primary));
    assertThat(missed.getState()).isEqualTo(ReplicaState.REPLICA_STATE_STALE);
    assertThat(missed.getCurrentWhenUnwanted()).isFalse();
    // Its node returns within the grace period: taken back by a catch-up from a HEALTHY replica;
    // the role stays where it went.
    cp.revive(primary);
    ReplicationManager.Pass back = cp.replication.reconcile();
    assertThat(back.replicasTakenBack()).hasSize(1);
    assertThat(back.rebuildsStarted()).isEmpty();
    assertThat(back.primariesMoved()).isEmpty();
    assertThat(cp.completeRebuilds()).isEqualTo(1);
    Allocation done = cp.volume("v");
    assertThat(done.getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    assertThat(done.getPrimaryNodeId()).isEqualTo(best);
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void aHandedOverPrimaryWhoseNodeGoesDownIsStillLostAndRebuiltAfterTheGrace() {
    ManagerFixture cp = plain();
    cp.nodes(1, 4, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 3);
    String primary = a.getPrimaryNodeId();
    cp.silence(primary);
    assertThat(cp.replication.reconcile().primariesMoved()).hasSize(1);
    long epoch = cp.volume("v").getEpoch();

    cp.clock.advance(Duration.ofMinutes(5).minusSeconds(1));
    ReplicationManager.Pass early = cp.replication.reconcile();
    assertThat(early.nodesMarkedDown()).isEmpty();
    assertThat(early.rebuildsStarted()).isEmpty();
    assertThat(cp.volume("v").getEpoch()).isEqualTo(epoch);

    cp.clock.advance(Duration.ofSeconds(1));
    ReplicationManager.Pass down = cp.replication.reconcile();
    assertThat(down.nodesMarkedDown()).containsExactly(primary);
    assertThat(down.primariesMoved()).isEmpty();
    assertThat(down.rebuildsStarted())
        .singleElement()
        .asString()
        .startsWith("v: started rebuild of " + primary + "'s replica on ");
    Allocation b = cp.volume("v");
    Replica lost = only(b, r -> r.getNodeId().equals(primary));
    assertThat(lost.getState()).isEqualTo(ReplicaState.REPLICA_STATE_LOST);
    assertThat(lost.getUnwantedReason()).isEqualTo("node down");
    assertThat(lost.getCurrentWhenUnwanted()).isTrue();
    assertThat(b.getPrimaryNodeId()).isNotEqualTo(primary);
    assertThat(cp.completeRebuilds()).isEqualTo(1);
    assertThat(cp.volume("v").getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    assertThat(cp.volume("v").getReplicasList())
        .extracting(Replica::getNodeId)
        .doesNotContain(primary);
  }

  @Test
  void noHandoverWithoutAnotherInSyncReplicaOnALiveNodeThatAdmitsTheVolume() {
    ManagerFixture cp = plain();
    cp.nodes(1, 4, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 3);
    String primary = a.getPrimaryNodeId();
    List<String> followers =
        a.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(primary))
            .toList();
    // The other replicas are silent too, or missed writes, or their node no longer admits the
    // volume: the role stays (the volume is no better off elsewhere).
    cp.silence(followers.get(0));
    assertThat(cp.replication.replicaFailedAudit("v", followers.get(1))).isTrue();
    cp.silence(primary);
    // (The follower that missed writes is taken back by a catch-up meanwhile: not HEALTHY yet.)
    assertThat(cp.replication.reconcile().primariesMoved()).isEmpty();
    assertThat(cp.volume("v").getPrimaryNodeId()).isEqualTo(primary);

    // The silent follower comes back, but its tier no longer admits the volume: still no
    // handover to it (it is made STALE where it is instead).
    cp.trust.set(followers.get(0), TrustTier.NONE, 0.1);
    cp.revive(followers.get(0));
    ReplicationManager.Pass untrusted = cp.replication.reconcile();
    assertThat(untrusted.primariesMoved()).isEmpty();
    assertThat(cp.volume("v").getPrimaryNodeId()).isEqualTo(primary);
    assertThat(only(cp.volume("v"), r -> r.getNodeId().equals(followers.get(0))).getState())
        .isEqualTo(ReplicaState.REPLICA_STATE_STALE);
  }

  @Test
  void aPrimaryWhoseLeaseIsStillHeldKeepsItsRoleHoweverLate() {
    ManagerFixture cp = plain();
    cp.nodes(1, 4, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 3);
    // Its heartbeats are late but its lease has not expired: it is not silent.
    cp.clock.advance(Duration.ofMinutes(4));
    ReplicationManager.Pass p = cp.replication.reconcile();
    assertThat(p.primariesMoved()).isEmpty();
    assertThat(cp.volume("v")).isEqualTo(a);
    assertThat(cp.registry.get(a.getPrimaryNodeId()).orElseThrow().getLeaseLostAtUnixMs()).isZero();
  }

  @Test
  void noHandoverWhileDownDecisionsAreHeldNorWithinANewLeadersReconnectWindow() {
    ManagerFixture cp =
        fixture(
            new ReplicationManager.Settings(
                Duration.ofMinutes(1), 2, 8, Duration.ofMinutes(1), 0.3, false));
    cp.nodes(1, 6, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 2);
    String primary = a.getPrimaryNodeId();
    List<String> others =
        cp.registry.list().stream()
            .map(io.mycnet.storage.api.v1.NodeRecord::getNodeId)
            .filter(n -> a.getReplicasList().stream().noneMatch(r -> r.getNodeId().equals(n)))
            .toList();
    // A new leader: within its reconnect window a silent primary keeps its role.
    cp.silence(primary);
    assertThat(cp.replication.reconcile().primariesMoved()).isEmpty();
    cp.clock.advance(Duration.ofMinutes(1).minusSeconds(1));
    assertThat(cp.replication.reconcile().primariesMoved()).isEmpty();
    assertThat(cp.volume("v")).isEqualTo(a);
    cp.revive(primary);
    cp.replication.reconcile();

    // Past the window, 2 of 6 nodes silent past their grace: DOWN decisions are held (more than
    // 30 % silent, a partition is suspected); the primary goes silent too: no handover.
    cp.clock.advance(Duration.ofSeconds(1));
    cp.silence(others.get(0));
    cp.silence(others.get(1));
    cp.replication.reconcile();
    cp.clock.advance(Duration.ofMinutes(2));
    assertThat(cp.replication.reconcile().hold()).contains("2 of 6 nodes are silent at once");
    cp.silence(primary);
    ReplicationManager.Pass held = cp.replication.reconcile();
    assertThat(held.hold()).contains("3 of 6 nodes are silent at once");
    assertThat(held.primariesMoved()).isEmpty();
    // The hold lasts as long as the silence does, pass after pass.
    cp.clock.advance(Duration.ofSeconds(30));
    held = cp.replication.reconcile();
    assertThat(held.hold()).contains("3 of 6 nodes are silent at once");
    assertThat(held.primariesMoved()).isEmpty();
    assertThat(cp.volume("v").getPrimaryNodeId()).isEqualTo(primary);
    assertThat(cp.volume("v").getEpoch()).isEqualTo(a.getEpoch());

    // The others come back: the hold ends and the role is handed over in that pass.
    cp.revive(others.get(0));
    cp.revive(others.get(1));
    ReplicationManager.Pass lifted = cp.replication.reconcile();
    assertThat(lifted.hold()).isNull();
    assertThat(lifted.primariesMoved())
        .singleElement()
        .asString()
        .contains(primary + " -> " + follower(a) + " (handover");
    assertThat(cp.volume("v").getEpoch()).isEqualTo(a.getEpoch() + 1);
  }

  @Test
  void aHandoverWaitsForTheSettleTimeAndNeverHappensWhileTheSilenceIsSuspect() {
    ManagerFixture cp =
        fixture(
            new ReplicationManager.Settings(
                Duration.ofMinutes(10), 2, 8, Duration.ZERO, 0.3, true, Duration.ofSeconds(15)));
    cp.nodes(1, 6, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 2);
    String primary = a.getPrimaryNodeId();
    List<String> others =
        cp.registry.list().stream()
            .map(io.mycnet.storage.api.v1.NodeRecord::getNodeId)
            .filter(n -> a.getReplicasList().stream().noneMatch(r -> r.getNodeId().equals(n)))
            .toList();

    // The primary's node falls silent: nothing moves before it has been silent for the settle.
    cp.silence(primary);
    assertThat(cp.replication.reconcile().primariesMoved()).isEmpty();
    cp.clock.advance(Duration.ofSeconds(14));
    assertThat(cp.replication.reconcile().primariesMoved()).isEmpty();
    // Within the settle, two more nodes fall silent (a whole domain, say): 3 of 6 silent is
    // suspect, long before any grace is over, so the role stays where it is.
    cp.silence(others.get(0));
    cp.silence(others.get(1));
    cp.clock.advance(Duration.ofSeconds(5));
    ReplicationManager.Pass suspect = cp.replication.reconcile();
    assertThat(suspect.primariesMoved()).isEmpty();
    assertThat(suspect.nodesMarkedDown()).isEmpty();
    assertThat(cp.volume("v")).isEqualTo(a);

    // They come back; the primary's node is still silent. The settle starts again from the last
    // suspect pass (the rest of a returning region gets its time too), then it is handed over.
    cp.revive(others.get(0));
    cp.revive(others.get(1));
    assertThat(cp.replication.reconcile().primariesMoved()).isEmpty();
    cp.clock.advance(Duration.ofSeconds(15));
    assertThat(cp.replication.reconcile().primariesMoved())
        .singleElement()
        .asString()
        .contains(primary + " -> " + follower(a) + " (handover");
    assertThat(cp.volume("v").getEpoch()).isEqualTo(a.getEpoch() + 1);
  }

  @Test
  void quarantineAndATierDropMakeReplicasStaleButNeverTheLastHealthyOne() {
    ManagerFixture cp = plain();
    cp.nodes(1, 4, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation crit = bound(cp, "crit", StorageType.CONSENSUS, 3);
    String q = follower(crit);
    cp.registry.setState(q, NodeState.NODE_STATE_QUARANTINED);
    ReplicationManager.Pass p = cp.replication.reconcile();
    assertThat(p.rebuildsStarted()).hasSize(1);
    Replica stale = only(cp.volume("crit"), r -> r.getNodeId().equals(q));
    assertThat(stale.getState()).isEqualTo(ReplicaState.REPLICA_STATE_STALE);
    assertThat(stale.getUnwantedReason()).isEqualTo("node quarantined");
    assertThat(stale.getCurrentWhenUnwanted()).isTrue();
    assertThat(cp.completeRebuilds()).isEqualTo(1);
    assertThat(cp.volume("crit").getReplicasList())
        .extracting(Replica::getNodeId)
        .doesNotContain(q);
    assertThat(cp.pending(q, NodeCommand::hasDeleteReplica)).hasSize(1);
    assertThat(cp.reserved(q)).isZero();

    // Every holder of a CRITICAL volume drops below CRITICAL: one replica stays (the primary, the
    // copy source until a replacement is verified), the others are evacuated.
    cp.manager.allocate(
        StorageRequest.of("pair", "ns", "default", GIB, StorageType.CONSENSUS).withReplicas(3));
    cp.confirmCreates();
    Allocation pair = cp.volume("pair");
    for (Replica r : pair.getReplicasList()) {
      cp.trust.set(r.getNodeId(), TrustTier.SENSITIVE, 0.8);
    }
    cp.replication.reconcile();
    Allocation after = cp.volume("pair");
    Replica kept = only(after, r -> r.getState() == ReplicaState.REPLICA_STATE_HEALTHY);
    assertThat(kept.getNodeId()).isEqualTo(pair.getPrimaryNodeId());
    assertThat(after.getReplicasList())
        .filteredOn(r -> r.getState() == ReplicaState.REPLICA_STATE_STALE)
        .hasSize(2)
        .allSatisfy(
            r ->
                assertThat(r.getUnwantedReason())
                    .isEqualTo("node's tier SENSITIVE does not allow CRITICAL"));
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void aNodeWhoseTrustIsNotKnownYetKeepsItsData() {
    ManagerFixture cp = plain();
    cp.nodes(1, 4, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.CONSENSUS, 3);
    String n = follower(a);
    cp.trust.set(n, TrustTier.NONE, 0.0);
    cp.trust.forget(n); // not restored yet
    ReplicationManager.Pass p = cp.replication.reconcile();
    assertThat(p.rebuildsStarted()).isEmpty();
    assertThat(cp.volume("v")).isEqualTo(a);
  }

  @Test
  void aFailedAuditMakesAReplicaStaleAndNotCurrentExceptTheLastHealthy() {
    ManagerFixture cp = plain();
    cp.nodes(1, 4, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 2);
    String f = follower(a);
    assertThat(cp.replication.replicaFailedAudit("v", f)).isTrue();
    Replica r = only(cp.volume("v"), x -> x.getNodeId().equals(f));
    assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_STALE);
    assertThat(r.getCurrentWhenUnwanted()).isFalse();
    assertThat(r.getUnwantedReason()).isEqualTo("failed an audit or missed writes");
    assertThat(cp.volume("v").getState()).isEqualTo(VolumeState.VOLUME_STATE_DEGRADED);
    // The primary is now the last HEALTHY replica: kept, however bad the report.
    assertThat(cp.replication.replicaFailedAudit("v", a.getPrimaryNodeId())).isFalse();
    assertThat(only(cp.volume("v"), x -> x.getNodeId().equals(a.getPrimaryNodeId())).getState())
        .isEqualTo(ReplicaState.REPLICA_STATE_HEALTHY);
    assertThat(cp.replication.replicaFailedAudit("nope", f)).isFalse();

    // Its node is live and eligible: the laggard is taken back by a delta catch-up from the
    // primary.
    ReplicationManager.Pass p = cp.replication.reconcile();
    assertThat(p.replicasTakenBack()).singleElement().asString().contains("taking back " + f);
    Replica back = only(cp.volume("v"), x -> x.getNodeId().equals(f));
    assertThat(back.getState()).isEqualTo(ReplicaState.REPLICA_STATE_REBUILDING);
    assertThat(back.getSourceNodeId()).isEqualTo(a.getPrimaryNodeId());
    assertThat(cp.pending(f, NodeCommand::hasRebuildReplica)).hasSize(1);
    assertThat(cp.completeRebuilds()).isEqualTo(1);
    assertThat(cp.volume("v").getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    assertThat(cp.volume("v").getReplicasCount()).isEqualTo(2);
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void aNewVolumesPrimaryKeepsItsRoleWhileItsReplicaIsStillBeingCreated() {
    ManagerFixture cp = plain();
    cp.nodes(1, 4, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a =
        cp.manager.allocate(
            StorageRequest.of("v", "ns", "default", GIB, StorageType.SERVICE).withReplicas(3));
    String primary = a.getPrimaryNodeId();
    // The followers' agents answer first; the primary's create is still on its way.
    assertThat(cp.confirmCreates(n -> !n.equals(primary))).isEqualTo(2);
    ReplicationManager.Pass p = cp.replication.reconcile();
    assertThat(p.primariesMoved()).isEmpty();
    assertThat(cp.volume("v").getPrimaryNodeId()).isEqualTo(primary);
    assertThat(cp.volume("v").getEpoch()).isEqualTo(a.getEpoch());
    assertThat(cp.confirmCreates()).isEqualTo(1);
    assertThat(cp.volume("v").getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    assertThat(cp.replication.reconcile().primariesMoved()).isEmpty();
  }

  @Test
  void aReplicaMarkedStaleOnALiveNodeWaitsOneLeaseThenIsTakenBackOrReplaced() {
    ManagerFixture cp =
        fixture(
            new ReplicationManager.Settings(
                Duration.ofMinutes(10), 2, 8, Duration.ZERO, 0.5, true, Duration.ofSeconds(15)));
    cp.nodes(1, 5, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 3);
    String f = follower(a);
    String g =
        a.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(a.getPrimaryNodeId()) && !n.equals(f))
            .findFirst()
            .orElseThrow();

    // Missed writes reported while the node's lease still holds: nothing is sent to it yet.
    assertThat(cp.replication.replicaFailedAudit("v", f)).isTrue();
    assertThat(only(cp.volume("v"), x -> x.getNodeId().equals(f)).getUnwantedAtUnixMs())
        .isEqualTo(cp.clock.millis());
    Allocation marked = cp.volume("v");
    ReplicationManager.Pass early = cp.replication.reconcile();
    assertThat(early.replicasTakenBack()).isEmpty();
    assertThat(early.rebuildsStarted()).isEmpty();
    assertThat(early.rebuildsDeferred())
        .singleElement()
        .asString()
        .contains("deferred: settling: " + f + " was marked 0 ms ago")
        .contains("16000 ms");
    assertThat(cp.volume("v").getReplicasList()).isEqualTo(marked.getReplicasList());
    assertThat(cp.volume("v").getEpoch()).isEqualTo(marked.getEpoch());
    assertThat(cp.pending(f, NodeCommand::hasRebuildReplica)).isEmpty();
    // Still live one lease (and a second) later: it is there, and is taken back by a catch-up.
    cp.clock.advance(Duration.ofSeconds(16));
    assertThat(cp.replication.reconcile().replicasTakenBack())
        .singleElement()
        .asString()
        .contains("taking back " + f);

    // The other follower's agent died just before its missed write was reported: its lease lapses
    // within the wait, and the replica is replaced instead of sent a catch-up it cannot run.
    assertThat(cp.completeRebuilds()).isEqualTo(1);
    assertThat(cp.replication.replicaFailedAudit("v", g)).isTrue();
    assertThat(cp.replication.reconcile().rebuildsDeferred())
        .singleElement()
        .asString()
        .contains("settling: " + g);
    cp.silence(g);
    cp.clock.advance(Duration.ofSeconds(16));
    ReplicationManager.Pass after = cp.replication.reconcile();
    assertThat(after.replicasTakenBack()).isEmpty();
    assertThat(only(cp.volume("v"), x -> x.getNodeId().equals(g)).getState())
        .isEqualTo(ReplicaState.REPLICA_STATE_STALE);
    assertThat(cp.pending(g, NodeCommand::hasRebuildReplica)).isEmpty();
    // Silent but not DOWN: like its HEALTHY replicas it waits the grace period (a restart would
    // catch up by delta); DOWN, it is replaced elsewhere.
    assertThat(after.rebuildsStarted()).isEmpty();
    assertThat(after.rebuildsDeferred())
        .singleElement()
        .asString()
        .contains(g + " is silent but not DOWN");
    cp.clock.advance(Duration.ofMinutes(10));
    ReplicationManager.Pass down = cp.replication.reconcile();
    assertThat(down.nodesMarkedDown()).containsExactly(g);
    assertThat(down.rebuildsStarted()).singleElement().asString().startsWith("v: started");
  }

  @Test
  void rebuildsBeyondThePoolsLimitWaitRiskiestFirstAndSayWhy() {
    ManagerFixture cp = fixture(new ReplicationManager.Settings(Duration.ZERO, 8, 1));
    cp.nodes(1, 4, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation svc = bound(cp, "a-service", StorageType.SERVICE, 3);
    Allocation crit = bound(cp, "b-critical", StorageType.CONSENSUS, 3);
    String victim =
        svc.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> crit.getReplicasList().stream().anyMatch(r -> r.getNodeId().equals(n)))
            .findFirst()
            .orElseThrow();
    cp.registry.remove(victim);
    ReplicationManager.Pass p = cp.replication.reconcile();
    // One rebuild per pool: the stricter classification goes first.
    assertThat(p.rebuildsStarted()).singleElement().asString().startsWith("b-critical:");
    assertThat(p.rebuildsDeferred())
        .singleElement()
        .asString()
        .startsWith("a-service: deferred: pool default has its maximum of rebuilds under way");
    assertThat(cp.volume("a-service").getRepairNote())
        .startsWith("repair waits: pool default has its maximum of rebuilds under way");
    assertThat(cp.completeRebuilds()).isEqualTo(1);
    ReplicationManager.Pass next = cp.replication.reconcile();
    assertThat(next.rebuildsStarted()).singleElement().asString().startsWith("a-service:");
    assertThat(cp.volume("a-service").getRepairNote()).isEmpty();
  }

  @Test
  void aNewLeaderGivesAgentsTheReconnectWindowBeforeAnyGraceCounts() {
    ManagerFixture cp =
        fixture(
            new ReplicationManager.Settings(
                Duration.ofMinutes(2), 2, 8, Duration.ofMinutes(1), 1.0, false));
    cp.nodes(1, 3, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 2);
    String victim = follower(a);
    cp.silence(victim);
    // An earlier incarnation noted the loss an hour ago.
    long anHourAgo = cp.clock.millis() - Duration.ofHours(1).toMillis();
    cp.registry.update(victim, r -> r.toBuilder().setLeaseLostAtUnixMs(anHourAgo).build());

    assertThat(cp.replication.reconcile().nodesMarkedDown()).isEmpty(); // starts acting now
    cp.clock.advance(Duration.ofMinutes(3).minusSeconds(1));
    assertThat(cp.replication.reconcile().nodesMarkedDown()).isEmpty();
    // Standing by (not leader, or etcd out of reach) starts a new window when acting again.
    cp.replication.standBy();
    cp.clock.advance(Duration.ofSeconds(1));
    assertThat(cp.replication.reconcile().nodesMarkedDown()).isEmpty();
    cp.clock.advance(Duration.ofMinutes(3).minusSeconds(1));
    assertThat(cp.replication.reconcile().nodesMarkedDown()).isEmpty();
    cp.clock.advance(Duration.ofSeconds(1));
    assertThat(cp.replication.reconcile().nodesMarkedDown()).containsExactly(victim);

    // It comes back: UP, its loss forgotten.
    cp.revive(victim);
    cp.replication.reconcile();
    assertThat(cp.registry.get(victim).orElseThrow().getState()).isEqualTo(NodeState.NODE_STATE_UP);
    assertThat(cp.registry.get(victim).orElseThrow().getLeaseLostAtUnixMs()).isZero();
  }

  @Test
  void tooManySilentNodesHoldEveryDownDecisionAndSayWhy() {
    ManagerFixture cp =
        fixture(
            new ReplicationManager.Settings(Duration.ofMinutes(1), 2, 8, Duration.ZERO, 0.3, true));
    List<ReplicationStatus> told = new ArrayList<>();
    cp.replication.addObserver(
        new ReplicationManager.Observer() {
          @Override
          public void holdChanged(ReplicationStatus status) {
            told.add(status);
          }
        });
    List<String> nodes = cp.nodes(2, 2, 1, 100, TrustTier.CRITICAL, 0.95); // 2 regions x 2
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 2);
    // Region r1 goes silent as a whole.
    List<String> r1 = nodes.stream().filter(n -> n.startsWith("n1")).toList();
    r1.forEach(cp::silence);
    cp.replication.reconcile();
    cp.clock.advance(Duration.ofMinutes(10));
    ReplicationManager.Pass p = cp.replication.reconcile();
    assertThat(p.nodesMarkedDown()).isEmpty();
    assertThat(p.rebuildsStarted()).isEmpty();
    assertThat(p.hold()).contains("2 of 4 nodes are silent at once");
    ReplicationStatus status =
        cp.store.get(cp.keys.replicationStatus(), ReplicationStatus.parser()).value();
    assertThat(status.getHeldNodesList()).containsExactlyInAnyOrderElementsOf(r1);
    assertThat(status.getHeldSinceUnixMs()).isEqualTo(cp.clock.millis());
    assertThat(told).singleElement().satisfies(s -> assertThat(s.getHoldReason()).isNotEmpty());
    boolean touched = a.getReplicasList().stream().anyMatch(r -> r1.contains(r.getNodeId()));
    assertThat(cp.volume("v").getRepairNote().startsWith("replication paused")).isEqualTo(touched);
    for (String n : r1) {
      assertThat(cp.registry.get(n).orElseThrow().getState()).isEqualTo(NodeState.NODE_STATE_UP);
    }

    // One of them comes back: the hold ends; the other gets its grace from the end of the hold.
    cp.revive(r1.get(0));
    cp.clock.advance(Duration.ofSeconds(1));
    ReplicationManager.Pass lifted = cp.replication.reconcile();
    assertThat(lifted.hold()).isNull();
    assertThat(lifted.nodesMarkedDown()).isEmpty();
    assertThat(told.get(told.size() - 1).getHoldReason()).isEmpty();
    assertThat(cp.volume("v").getRepairNote()).doesNotStartWith("replication paused");
    cp.clock.advance(Duration.ofSeconds(58));
    assertThat(cp.replication.reconcile().nodesMarkedDown()).isEmpty();
    cp.clock.advance(Duration.ofSeconds(2));
    assertThat(cp.replication.reconcile().nodesMarkedDown()).containsExactly(r1.get(1));
  }

  @Test
  void aVolumeWithoutHealthyReplicasIsLostThenRecoveredFromTheOldPrimary() {
    ManagerFixture cp = fixture(new ReplicationManager.Settings(Duration.ZERO, 2, 8));
    List<String> lost = new ArrayList<>();
    List<String> recovered = new ArrayList<>();
    cp.replication.addObserver(
        new ReplicationManager.Observer() {
          @Override
          public void volumeLost(Allocation a) {
            lost.add(a.getVolumeId());
          }

          @Override
          public void volumeRecovered(Allocation a, String from) {
            recovered.add(a.getVolumeId());
          }
        });
    cp.nodes(1, 4, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "w", StorageType.SERVICE, 2);
    a.getReplicasList().forEach(r -> cp.silence(r.getNodeId()));
    cp.replication.reconcile();
    ReplicationManager.Pass down = cp.replication.reconcile();
    assertThat(down.volumesLost()).containsExactly("w");
    assertThat(lost).containsExactly("w");
    Allocation written = cp.volume("w");
    assertThat(written.getState()).isEqualTo(VolumeState.VOLUME_STATE_LOST);
    assertThat(written.getRepairNote()).contains("no HEALTHY replica");

    a.getReplicasList().forEach(r -> cp.revive(r.getNodeId()));
    ReplicationManager.Pass p = cp.replication.reconcile();
    assertThat(p.volumesRecovered())
        .singleElement()
        .asString()
        .contains("from " + a.getPrimaryNodeId());
    assertThat(recovered).containsExactly("w");
    assertThat(p.replicasTakenBack()).hasSize(1);
    assertThat(cp.completeRebuilds()).isEqualTo(1);
    Allocation done = cp.volume("w");
    assertThat(done.getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    assertThat(done.getPrimaryNodeId()).isEqualTo(a.getPrimaryNodeId());
    assertThat(done.getReplicasList())
        .extracting(Replica::getNodeId)
        .containsExactlyInAnyOrderElementsOf(
            a.getReplicasList().stream().map(Replica::getNodeId).toList());
  }

  @Test
  void aVolumeCrowdedIntoOneRegionMovesOneReplicaOnceAnotherRegionIsEligible() {
    ManagerFixture cp = fixture(new ReplicationManager.Settings(Duration.ZERO, 2, 8));
    List<String> nodes = cp.nodes(2, 2, 1, 100, TrustTier.CRITICAL, 0.95);
    List<String> r1 = nodes.stream().filter(n -> n.startsWith("n1")).toList();
    r1.forEach(n -> cp.trust.set(n, TrustTier.NONE, 0.0));
    cp.cluster.invalidate();
    cp.namespace("ns", 0, 0);
    Allocation crowded = bound(cp, "s", StorageType.SERVICE, 2);
    assertThat(crowded.getReplicasList())
        .allSatisfy(r -> assertThat(r.getTopologyPath()).startsWith("region=r0/"));
    assertThat(cp.replication.reconcile().respreads()).isEmpty(); // nowhere better yet

    r1.forEach(n -> cp.trust.set(n, TrustTier.CRITICAL, 0.95));
    ReplicationManager.Pass p = cp.replication.reconcile();
    assertThat(p.respreads()).hasSize(1);
    Allocation moving = cp.volume("s");
    assertThat(
            only(moving, r -> r.getState() == ReplicaState.REPLICA_STATE_STALE).getUnwantedReason())
        .startsWith("re-spread to region=r1");
    assertThat(
            only(moving, r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)
                .getTopologyPath())
        .startsWith("region=r1/");
    assertThat(moving.getPrimaryNodeId()).isEqualTo(crowded.getPrimaryNodeId());
    assertThat(cp.replication.reconcile().respreads()).isEmpty(); // one move at a time
    assertThat(cp.completeRebuilds()).isEqualTo(1);
    Allocation spread = cp.volume("s");
    assertThat(spread.getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    assertThat(spread.getReplicasList())
        .extracting(r -> r.getTopologyPath().substring(0, 9))
        .containsExactlyInAnyOrder("region=r0", "region=r1");
    assertThat(cp.replication.reconcile().respreads()).isEmpty();
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void aRebuildTargetThatGoesDownIsLostAndReplacedByAnother() {
    ManagerFixture cp = fixture(new ReplicationManager.Settings(Duration.ZERO, 2, 8));
    cp.nodes(1, 5, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    Allocation a = bound(cp, "v", StorageType.SERVICE, 3);
    String first = follower(a);
    cp.registry.remove(first);
    cp.replication.reconcile();
    Replica target =
        only(cp.volume("v"), r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING);
    cp.registry.remove(target.getNodeId());
    ReplicationManager.Pass p = cp.replication.reconcile();
    assertThat(p.rebuildsStarted()).hasSize(1);
    Allocation b = cp.volume("v");
    assertThat(only(b, r -> r.getNodeId().equals(target.getNodeId())).getState())
        .isEqualTo(ReplicaState.REPLICA_STATE_LOST);
    Replica second = only(b, r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING);
    assertThat(second.getNodeId()).isNotIn(first, target.getNodeId());
    // The stopped rebuild's report comes too late to count.
    assertThat(cp.replication.completeRebuild("v", target.getNodeId(), target.getEpoch()))
        .isFalse();
    assertThat(cp.completeRebuilds()).isEqualTo(1);
    // Both unwanted replicas end up retired: one by the completion, one by the next pass.
    cp.replication.reconcile();
    Allocation done = cp.volume("v");
    assertThat(done.getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    assertThat(done.getReplicasList())
        .extracting(Replica::getState)
        .containsOnly(ReplicaState.REPLICA_STATE_HEALTHY)
        .hasSize(3);
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void aControlPlaneThatIsNotTheLeaderDoesNothing() {
    ManagerFixture cp = plain();
    cp.nodes(1, 3, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.store.fence(Fence.notLeader(cp.keys.leader()));
    assertThatThrownBy(() -> cp.replication.reconcile()).isInstanceOf(NotLeaderException.class);
    cp.store.fence(null);
  }

  @Test
  void settingsOutOfRangeAreRefused() {
    assertThatThrownBy(() -> new ReplicationManager.Settings(Duration.ofSeconds(-1), 2, 8))
        .hasMessageContaining("downGracePeriod must be >= 0");
    assertThatThrownBy(() -> new ReplicationManager.Settings(Duration.ZERO, 0, 8))
        .hasMessageContaining("rebuild limits must be >= 1");
    assertThatThrownBy(
            () -> new ReplicationManager.Settings(Duration.ZERO, 2, 8, Duration.ZERO, 0.0, false))
        .hasMessageContaining("massFailureShare must be in (0, 1]");
    assertThat(ReplicationManager.Settings.defaults().massFailureShare()).isEqualTo(0.3);
  }
}
