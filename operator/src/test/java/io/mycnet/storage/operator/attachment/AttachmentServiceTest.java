package io.mycnet.storage.operator.attachment;

import static io.mycnet.storage.operator.allocation.ManagerFixture.GIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.AttachVolume;
import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.api.v1.DetachVolume;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.allocation.ManagerFixture;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.reconciler.storageclaim.VolumeIds;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.operator.runtime.EngineTrustSource;
import io.mycnet.storage.operator.store.InMemoryStore;
import io.mycnet.storage.operator.store.Versioned;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvidence;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Attach, detach and fence on the in-memory store with the allocation and replication stack the
 * control plane runs ({@link ManagerFixture}): each change is one transaction with its command,
 * idempotent, refused with a reason and nothing written when a rule forbids it; fencing raises the
 * epoch; the replication pass fences DOWN and no longer trusted nodes.
 */
class AttachmentServiceTest {
  /** The claim reconciler's naming, as the running control plane gives it. */
  static final ClaimVolumes CLAIMS =
      new ClaimVolumes() {
        @Override
        public String volumeOf(String namespace, String claim) {
          return VolumeIds.of(namespace, claim);
        }

        @Override
        public Optional<String> claimOf(String volumeId) {
          return VolumeIds.claimOf(volumeId)
              .map(r -> r.getNamespace().orElse("") + "/" + r.getName());
        }
      };

  private ManagerFixture cp;
  private AttachmentService attachments;
  private List<String> nodes;

  @BeforeEach
  void setUp(TestInfo info) {
    cp =
        new ManagerFixture(
            InMemoryStore::new,
            "/" + info.getTestMethod().orElseThrow().getName(),
            new ReplicationManager.Settings(Duration.ofMinutes(5), 2, 8));
    nodes = cp.nodes(1, 5, 1, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    attachments = service(cp.trust);
    cp.replication.fenceAttachmentsWith(attachments);
  }

  @AfterEach
  void tearDown() {
    cp.close();
  }

  private AttachmentService service(NodeTrustSource trust) {
    return new AttachmentService(cp.store, cp.keys, cp.registry, cp.queue, trust, CLAIMS, cp.clock);
  }

  /** A bound 3-replica volume of claim shop/{@code claim}. */
  private Allocation bound(String claim, Classification c) {
    String id = VolumeIds.of("shop", claim);
    cp.manager.allocate(
        StorageRequest.of(id, "ns", "default", GIB, StorageType.SERVICE)
            .withReplicas(3)
            .withClassification(c));
    cp.confirmCreates();
    Allocation a = cp.volume(id);
    assertThat(a.getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    return a;
  }

  private String notReplica(Allocation a) {
    List<String> holders = a.getReplicasList().stream().map(Replica::getNodeId).toList();
    return nodes.stream().filter(n -> !holders.contains(n)).findFirst().orElseThrow();
  }

  private Versioned<Allocation> read(String volumeId) {
    return cp.store.get(cp.keys.allocation(volumeId), Allocation.parser());
  }

  private List<NodeCommand> attaches(String node) {
    return cp.pending(node, NodeCommand::hasAttachVolume);
  }

  private List<NodeCommand> detaches(String node) {
    return cp.pending(node, NodeCommand::hasDetachVolume);
  }

  @Test
  void attachWritesTheAttachmentAndItsCommandTogetherAndIsIdempotent() {
    Allocation a = bound("db", Classification.STANDARD);
    String node = notReplica(a);

    AttachmentService.Outcome o = attachments.attachClaim("shop/db", node, false, "test");
    assertThat(o.changed()).isTrue();
    assertThat(o.message())
        .isEqualTo("volume shop.db attached to node " + node + " read-write (generation 1)");

    Versioned<Allocation> after = read("shop.db");
    assertThat(after.value().getAttachmentsList())
        .singleElement()
        .satisfies(
            at -> {
              assertThat(at.getNodeId()).isEqualTo(node);
              assertThat(at.getReadOnly()).isFalse();
              assertThat(at.getGeneration()).isEqualTo(1);
              assertThat(at.getRequestedBy()).isEqualTo("test");
              assertThat(at.getAttachedAtUnixMs()).isEqualTo(cp.clock.millis());
            });
    assertThat(after.value().getAttachmentGeneration()).isEqualTo(1);
    assertThat(after.value().getEpoch()).isEqualTo(a.getEpoch());

    NodeCommand cmd = attaches(node).get(0);
    assertThat(attaches(node)).hasSize(1);
    assertThat(cmd.getCommandId()).isEqualTo("attach:shop.db:" + a.getIncarnation() + ":1:" + node);
    AttachVolume av = cmd.getAttachVolume();
    assertThat(av.getVolumeId()).isEqualTo("shop.db");
    assertThat(av.getClaim()).isEqualTo("shop/db");
    assertThat(av.getAttachment()).isEqualTo(after.value().getAttachments(0));
    AssignReplica as = av.getAssignment();
    assertThat(as.getEpoch()).isEqualTo(a.getEpoch());
    assertThat(as.getPrimaryNodeId()).isEqualTo(a.getPrimaryNodeId());
    assertThat(as.getSizeBytes()).isEqualTo(GIB);
    assertThat(as.getNamespace()).isEqualTo("ns");
    assertThat(as.getAttachmentsList())
        .containsExactlyElementsOf(after.value().getAttachmentsList());
    assertThat(as.getPeersList())
        .extracting(ReplicaMember::getNodeId)
        .containsExactlyElementsOf(a.getReplicasList().stream().map(Replica::getNodeId).toList());
    assertThat(as.getPeersList())
        .allSatisfy(p -> assertThat(p.getAddress()).startsWith("127.0.0.1:"));

    // Again in the same mode: nothing written.
    AttachmentService.Outcome again = attachments.attach("shop.db", node, false, "test");
    assertThat(again.changed()).isFalse();
    assertThat(again.message())
        .isEqualTo(
            "volume shop.db is already attached to node " + node + " read-write (generation 1)");
    assertThat(read("shop.db").modRevision()).isEqualTo(after.modRevision());
    assertThat(attaches(node)).hasSize(1);

    // Another mode on the same node: refused, nothing written.
    assertThatThrownBy(() -> attachments.attach("shop.db", node, true, "test"))
        .isInstanceOf(AttachmentRefusedException.class)
        .hasMessage(
            "volume shop.db is attached to node "
                + node
                + " read-write (generation 1): detach it first to attach it read-only");
    assertThat(read("shop.db").modRevision()).isEqualTo(after.modRevision());

    // Detach: the attachment goes, the node is told, in one transaction.
    AttachmentService.Outcome d = attachments.detachClaim("shop/db", node, "done");
    assertThat(d.changed()).isTrue();
    assertThat(d.message())
        .isEqualTo("volume shop.db detached from node " + node + " (generation 1): done");
    Versioned<Allocation> detached = read("shop.db");
    assertThat(detached.value().getAttachmentsList()).isEmpty();
    assertThat(detached.value().getAttachmentGeneration()).isEqualTo(1);
    assertThat(detached.value().getEpoch()).isEqualTo(a.getEpoch());
    assertThat(detached.value().getAttachmentNote()).isEmpty();
    DetachVolume dv = detaches(node).get(0).getDetachVolume();
    assertThat(dv.getVolumeId()).isEqualTo("shop.db");
    assertThat(dv.getGeneration()).isEqualTo(1);
    assertThat(dv.getReason()).isEqualTo("done");
    assertThat(dv.getFenced()).isFalse();

    AttachmentService.Outcome d2 = attachments.detach("shop.db", node, "done");
    assertThat(d2.changed()).isFalse();
    assertThat(d2.message()).isEqualTo("volume shop.db is not attached to node " + node);
    assertThat(read("shop.db").modRevision()).isEqualTo(detached.modRevision());
    assertThat(detaches(node)).hasSize(1);

    // A new attach is a new generation.
    assertThat(attachments.attach("shop.db", node, true, "test").message())
        .endsWith("read-only (generation 2)");
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void aSecondWriterIsRefusedNamingTheHolderAndNothingIsWritten() {
    Allocation a = bound("db", Classification.STANDARD);
    String writer = nodes.get(0);
    String other = nodes.get(1);
    attachments.attach("shop.db", writer, false, "csi");
    Versioned<Allocation> before = read("shop.db");

    assertThatThrownBy(() -> attachments.attach("shop.db", other, false, "test"))
        .isInstanceOf(AttachmentRefusedException.class)
        .hasMessage(
            "volume shop.db is attached read-write to node "
                + writer
                + " (generation 1, by csi): a volume has at most one writer; detach it, or fence"
                + " node "
                + writer
                + " if it is lost");
    assertThatThrownBy(() -> attachments.attach("shop.db", other, true, "test"))
        .isInstanceOf(AttachmentRefusedException.class)
        .hasMessageContaining("attached read-write to node " + writer)
        .hasMessageContaining("a reader elsewhere would see the device change under it");
    assertThat(read("shop.db").modRevision()).isEqualTo(before.modRevision());
    assertThat(cp.queue.pending(other)).noneMatch(NodeCommand::hasAttachVolume);
    assertThat(a.getAttachmentsCount()).isZero();
  }

  @Test
  void readOnlyByManyNodesButThenNoWriter() {
    bound("db", Classification.STANDARD);
    for (int i = 0; i < 3; i++) {
      assertThat(attachments.attach("shop.db", nodes.get(i), true, "test").message())
          .endsWith("read-only (generation " + (i + 1) + ")");
    }
    assertThat(read("shop.db").value().getAttachmentsList())
        .extracting(Attachment::getNodeId, Attachment::getReadOnly)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(nodes.get(0), true),
            org.assertj.core.groups.Tuple.tuple(nodes.get(1), true),
            org.assertj.core.groups.Tuple.tuple(nodes.get(2), true));
    for (int i = 0; i < 3; i++) {
      assertThat(attaches(nodes.get(i))).singleElement();
    }
    long revision = read("shop.db").modRevision();
    assertThatThrownBy(() -> attachments.attach("shop.db", nodes.get(3), false, "test"))
        .isInstanceOf(AttachmentRefusedException.class)
        .hasMessage(
            "volume shop.db is attached read-only to nodes "
                + String.join(", ", nodes.subList(0, 3))
                + ": a writer would change the device under its readers; detach them first");
    assertThat(read("shop.db").modRevision()).isEqualTo(revision);
    assertThat(attaches(nodes.get(3))).isEmpty();
  }

  @Test
  void aNodeWhoseTierDoesNotAdmitTheClassificationIsRefusedWithItsTrustExplanation() {
    bound("vault", Classification.CRITICAL);
    String node = nodes.get(4);
    cp.trust.set(node, TrustTier.STANDARD, 0.61);
    assertThatThrownBy(() -> attachments.attach("shop.vault", node, false, "test"))
        .isInstanceOf(AttachmentRefusedException.class)
        .hasMessageStartingWith(
            "node "
                + node
                + " may not attach volume shop.vault: its trust tier STANDARD (score 0.610) does"
                + " not admit CRITICAL data\n")
        .hasMessageEndingWith("node " + node + ": score 0.610, tier STANDARD\n");
    assertThat(read("shop.vault").value().getAttachmentsCount()).isZero();
    assertThat(attaches(node)).isEmpty();

    cp.trust.forget(node);
    assertThatThrownBy(() -> attachments.attach("shop.vault", node, false, "test"))
        .isInstanceOf(AttachmentRefusedException.class)
        .hasMessageContaining("the trust of node " + node + " is not known yet");
  }

  @Test
  void theRefusalCarriesTheTrustEnginesFactorBreakdownAsNodeExplainShowsIt() {
    bound("vault", Classification.CRITICAL);
    String node = nodes.get(4);
    // The node's trust from the real engine: a few good heartbeats, at-rest encryption off.
    TrustEngine engine = new TrustEngine(TrustPolicy.defaults(), cp.clock);
    for (int i = 0; i < 5; i++) {
      cp.clock.advance(Duration.ofSeconds(10));
      engine.record(new TrustEvidence.Heartbeat(node, cp.clock.instant(), true));
      engine.record(
          new TrustEvidence.ReportedFactor(
              node, cp.clock.instant(), TrustFactor.ENCRYPTION_COMPLIANCE, 0.0));
    }
    EngineTrustSource trust = new EngineTrustSource(engine);
    String explain = engine.assess(node).render();
    assertThat(trust.trustOf(node).tier().allows(Classification.CRITICAL)).isFalse();

    assertThatThrownBy(() -> service(trust).attach("shop.vault", node, false, "test"))
        .isInstanceOf(AttachmentRefusedException.class)
        .hasMessageContaining("does not admit CRITICAL data\nnode " + node + " at ")
        .hasMessageContaining("factor")
        .hasMessageContaining(TrustFactor.ENCRYPTION_COMPLIANCE.toString())
        .hasMessageContaining("vetting: ")
        .hasMessageEndingWith(explain.substring(explain.indexOf("why: ")));
    assertThat(read("shop.vault").value().getAttachmentsCount()).isZero();
  }

  @Test
  void badInputIsRefusedNamingItAndWritesNothing() {
    bound("db", Classification.STANDARD);
    long revision = read("shop.db").modRevision();
    assertThatThrownBy(() -> attachments.attachClaim("shop/nothing", nodes.get(0), false, "t"))
        .isInstanceOf(AttachmentRefusedException.class)
        .hasMessage(
            "claim shop/nothing has no volume: it does not exist or is not bound yet (volume"
                + " shop.nothing)");
    assertThatThrownBy(() -> attachments.attach("plain", nodes.get(0), false, "t"))
        .hasMessage("volume plain does not exist");
    assertThatThrownBy(() -> attachments.attachClaim("db", nodes.get(0), false, "t"))
        .isInstanceOf(AttachmentRefusedException.class)
        .hasMessageStartingWith("claim 'db' is not <namespace>/<claim>");
    assertThatThrownBy(() -> attachments.attachClaim("Shop/db", nodes.get(0), false, "t"))
        .hasMessageStartingWith("claim 'Shop/db' is not <namespace>/<claim>");
    assertThatThrownBy(() -> attachments.attachClaim("shop/db", "ghost", false, "t"))
        .hasMessage("node ghost is not registered: only a node whose agent has joined can attach");
    assertThatThrownBy(() -> attachments.attach("shop.db", "bad/id", false, "t"))
        .isInstanceOf(AttachmentRefusedException.class)
        .hasMessageContaining("node id 'bad/id' has '/'");
    assertThatThrownBy(() -> attachments.detach("shop.db", "ghost", "x"))
        .hasMessage("node ghost is not registered");
    assertThatThrownBy(() -> attachments.fence("ghost", "lost"))
        .hasMessage("node ghost is not registered");
    assertThatThrownBy(() -> attachments.fence(nodes.get(0), " "))
        .hasMessageContaining("needs a reason");

    cp.registry.setState(nodes.get(1), NodeState.NODE_STATE_DOWN);
    assertThatThrownBy(() -> attachments.attach("shop.db", nodes.get(1), false, "t"))
        .hasMessage("node " + nodes.get(1) + " is DOWN: only an UP node can attach a volume");

    // A volume still being created.
    cp.manager.allocate(StorageRequest.of("shop.new", "ns", "default", GIB, StorageType.SERVICE));
    assertThatThrownBy(() -> attachments.attach("shop.new", nodes.get(0), false, "t"))
        .hasMessage("volume shop.new is CREATING: it can be attached once it is bound");
    assertThat(read("shop.db").modRevision()).isEqualTo(revision);
    for (String n : nodes) {
      assertThat(attaches(n)).isEmpty();
    }
  }

  @Test
  void fenceRevokesEveryAttachmentOfTheNodeRaisesTheEpochsAndTellsTheNode() {
    Allocation db = bound("db", Classification.STANDARD);
    Allocation logs = bound("logs", Classification.STANDARD);
    String lost = nodes.get(0);
    String reader = nodes.get(1);
    attachments.attach("shop.db", lost, false, "t");
    attachments.attach("shop.logs", lost, true, "t");
    attachments.attach("shop.logs", reader, true, "t");

    AttachmentService.Outcome o = attachments.fence(lost, "node stolen");
    assertThat(o.changed()).isTrue();
    assertThat(o.message())
        .isEqualTo(
            "node "
                + lost
                + " fenced off shop.db (generation 1, epoch "
                + db.getEpoch()
                + " -> "
                + (db.getEpoch() + 1)
                + "), shop.logs (generation 1, epoch "
                + logs.getEpoch()
                + " -> "
                + (logs.getEpoch() + 1)
                + "): the replicas refuse its I/O from now on");

    Allocation dbAfter = cp.volume("shop.db");
    assertThat(dbAfter.getEpoch()).isEqualTo(db.getEpoch() + 1);
    assertThat(dbAfter.getPrimaryNodeId()).isEqualTo(db.getPrimaryNodeId());
    assertThat(dbAfter.getAttachmentsList()).isEmpty();
    assertThat(dbAfter.getAttachmentNote())
        .startsWith("node " + lost + " fenced at ")
        .endsWith(": fenced: node stolen");
    Allocation logsAfter = cp.volume("shop.logs");
    assertThat(logsAfter.getEpoch()).isEqualTo(logs.getEpoch() + 1);
    assertThat(logsAfter.getAttachmentsList())
        .extracting(Attachment::getNodeId)
        .containsExactly(reader);

    assertThat(detaches(lost))
        .extracting(c -> c.getDetachVolume().getVolumeId(), c -> c.getDetachVolume().getFenced())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("shop.db", true),
            org.assertj.core.groups.Tuple.tuple("shop.logs", true));
    assertThat(detaches(lost).get(0).getCommandId())
        .isEqualTo("fence:shop.db:" + db.getIncarnation() + ":1:" + lost);
    assertThat(detaches(reader)).isEmpty();

    // At once attachable elsewhere; a second fence finds nothing.
    assertThat(attachments.attach("shop.db", nodes.get(2), false, "t").changed()).isTrue();
    AttachmentService.Outcome again = attachments.fence(lost, "node stolen");
    assertThat(again.changed()).isFalse();
    assertThat(again.message()).isEqualTo("node " + lost + " has no attachment to fence");
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void theReplicationPassFencesTheAttachmentsOfANodeMarkedDown() {
    Allocation a = bound("db", Classification.STANDARD);
    String consumer = notReplica(a);
    attachments.attach("shop.db", consumer, false, "t");

    cp.silence(consumer);
    ReplicationManager.Pass noted = cp.replication.reconcile();
    assertThat(noted.attachmentsFenced()).isEmpty();
    cp.clock.advance(Duration.ofMinutes(4));
    assertThat(cp.replication.reconcile().attachmentsFenced()).isEmpty();
    assertThat(cp.volume("shop.db").getAttachmentsCount()).isOne();

    cp.clock.advance(Duration.ofMinutes(1));
    ReplicationManager.Pass down = cp.replication.reconcile();
    assertThat(down.nodesMarkedDown()).containsExactly(consumer);
    assertThat(down.attachmentsFenced())
        .containsExactly(
            "shop.db on node "
                + consumer
                + " (generation 1, epoch "
                + a.getEpoch()
                + " -> "
                + (a.getEpoch() + 1)
                + "): node down");
    Allocation after = cp.volume("shop.db");
    assertThat(after.getAttachmentsList()).isEmpty();
    assertThat(after.getEpoch()).isEqualTo(a.getEpoch() + 1);
    assertThat(after.getAttachmentNote()).endsWith(": node down");
    assertThat(detaches(consumer))
        .singleElement()
        .satisfies(c -> assertThat(c.getDetachVolume().getFenced()).isTrue());

    // The next pass has nothing left to fence; another node attaches at once.
    assertThat(cp.replication.reconcile().attachmentsFenced()).isEmpty();
    assertThat(attachments.attach("shop.db", a.getPrimaryNodeId(), false, "t").changed()).isTrue();
  }

  @Test
  void theReplicationPassFencesANodeWhoseTrustNoLongerAdmitsTheVolume() {
    Allocation vault = bound("vault", Classification.CRITICAL);
    Allocation open = bound("open", Classification.STANDARD);
    String consumer = notReplica(vault);
    attachments.attach("shop.vault", consumer, false, "t");
    attachments.attach("shop.open", consumer, true, "t");

    assertThat(cp.replication.reconcile().attachmentsFenced()).isEmpty();
    // The node lost its encryption: its tier drops below CRITICAL.
    cp.trust.set(consumer, TrustTier.SENSITIVE, 0.8);
    ReplicationManager.Pass pass = cp.replication.reconcile();
    assertThat(pass.attachmentsFenced()).singleElement().asString().startsWith("shop.vault ");
    assertThat(cp.volume("shop.vault").getAttachmentsList()).isEmpty();
    assertThat(cp.volume("shop.vault").getEpoch()).isEqualTo(vault.getEpoch() + 1);
    assertThat(cp.volume("shop.vault").getAttachmentNote())
        .endsWith("node's trust tier SENSITIVE (score 0.800) no longer admits CRITICAL data");
    assertThat(cp.volume("shop.open").getAttachmentsList())
        .extracting(Attachment::getNodeId)
        .containsExactly(consumer);
    assertThat(cp.volume("shop.open").getEpoch()).isEqualTo(open.getEpoch());
  }

  @Test
  void releasingAnAttachedVolumeTellsTheAttachedNodesInTheSameTransaction() {
    Allocation a = bound("db", Classification.STANDARD);
    String consumer = notReplica(a);
    attachments.attach("shop.db", consumer, true, "t");
    attachments.attach("shop.db", a.getPrimaryNodeId(), true, "t");

    cp.manager.release("shop.db");
    assertThat(read("shop.db").exists()).isFalse();
    for (String node : List.of(consumer, a.getPrimaryNodeId())) {
      assertThat(detaches(node))
          .singleElement()
          .satisfies(
              c -> {
                assertThat(c.getCommandId()).startsWith("release:shop.db:" + a.getIncarnation());
                assertThat(c.getDetachVolume().getReason()).isEqualTo("volume released");
                assertThat(c.getDetachVolume().getFenced()).isTrue();
              });
    }
    assertThat(cp.audit()).isEmpty();
  }
}
