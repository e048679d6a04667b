package io.mycnet.storage.operator.attachment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.local.LocalApiServer;
import io.mycnet.storage.operator.allocation.AllocationAudit;
import io.mycnet.storage.operator.allocation.ControlPlaneFixture;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.election.LeaderElection;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.nodeapi.AssignmentPublisher;
import io.mycnet.storage.operator.reconciler.KubeEvents;
import io.mycnet.storage.operator.reconciler.node.NodeActionWatcher;
import io.mycnet.storage.operator.security.NodeAdmission;
import io.mycnet.storage.operator.security.SecurityStore;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.KeyValueStore;
import io.mycnet.storage.operator.store.NotLeaderException;
import io.mycnet.storage.operator.store.Versioned;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Attachments on a real etcd, with the leader's fence on every write: the attach, detach and fence
 * transactions with their commands, a race of two writers of which exactly one wins, the assignment
 * publisher telling the attached node, a deposed leader that writes nothing, and the Node
 * annotations ({@code storage.mycnet.io/attach|detach|fence}) through the action watcher against
 * the local API server, results and events included.
 */
class AttachmentIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  private static final LeaderElection.Listener QUIET =
      new LeaderElection.Listener() {
        @Override
        public void elected(long term) {}

        @Override
        public void deposed(long term) {}
      };

  private ControlPlaneFixture cp;
  private LeaderElection election;
  private AttachmentService attachments;
  private final List<AutoCloseable> closing = new ArrayList<>();

  @BeforeEach
  void setUp(TestInfo info) {
    cp =
        new ControlPlaneFixture(
            ETCD.endpoints(), "/att-" + info.getTestMethod().orElseThrow().getName());
    election = new LeaderElection(cp.store, cp.keys, "cp", Duration.ofSeconds(2), QUIET);
    election.start();
    await().atMost(Duration.ofSeconds(20)).until(election::isLeader);
    cp.registerNodes(1, 2, 1, 2, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("ns", 0, 0);
    NodeTrustSource trust = id -> cp.trust.getOrDefault(id, NodeTrustSource.NodeTrust.UNKNOWN);
    attachments =
        new AttachmentService(
            cp.store,
            cp.keys,
            cp.registry,
            cp.queue,
            trust,
            AttachmentServiceTest.CLAIMS,
            Clock.systemUTC());
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = closing.size() - 1; i >= 0; i--) {
      closing.get(i).close();
    }
    election.close();
    cp.close();
  }

  private Allocation bound(String claim) {
    cp.manager.allocate(
        StorageRequest.of("shop." + claim, "ns", "default", 1L << 30, StorageType.SERVICE)
            .withReplicas(3));
    cp.confirmCreates();
    return cp.manager.get("shop." + claim).orElseThrow();
  }

  private List<String> nodes() {
    return cp.registry.list().stream().map(n -> n.getNodeId()).sorted().toList();
  }

  private List<NodeCommand> pending(String node, java.util.function.Predicate<NodeCommand> kind) {
    return cp.queue.pending(node).stream().filter(kind).toList();
  }

  @Test
  void attachDetachAndFenceAreEachOneTransactionWithTheNodesCommand() {
    Allocation a = bound("db");
    String consumer =
        nodes().stream()
            .filter(n -> a.getReplicasList().stream().noneMatch(r -> r.getNodeId().equals(n)))
            .findFirst()
            .orElseThrow();
    Versioned<Allocation> before = cp.store.get(cp.keys.allocation("shop.db"), Allocation.parser());

    assertThat(attachments.attachClaim("shop/db", consumer, false, "it").changed()).isTrue();
    Versioned<Allocation> attached =
        cp.store.get(cp.keys.allocation("shop.db"), Allocation.parser());
    List<NodeCommand> attach = pending(consumer, NodeCommand::hasAttachVolume);
    assertThat(attach).singleElement();
    // The allocation and the command were written by the same transaction: one store revision.
    assertThat(attach.get(0).getSequence()).isEqualTo(attached.modRevision());
    assertThat(attach.get(0).getAttachVolume().getAssignment().getRevision())
        .isEqualTo(before.modRevision());
    assertThat(attachments.attachClaim("shop/db", consumer, false, "it").changed()).isFalse();

    // Detach, then fence after a new attach: each one transaction with its command.
    assertThat(attachments.detachClaim("shop/db", consumer, "done").changed()).isTrue();
    Versioned<Allocation> detached =
        cp.store.get(cp.keys.allocation("shop.db"), Allocation.parser());
    assertThat(detached.value().getAttachmentsList()).isEmpty();
    assertThat(pending(consumer, NodeCommand::hasDetachVolume))
        .singleElement()
        .satisfies(c -> assertThat(c.getSequence()).isEqualTo(detached.modRevision()));

    attachments.attach("shop.db", consumer, true, "it");
    AttachmentService.Outcome f = attachments.fence(consumer, "lost in the field");
    assertThat(f.changed()).isTrue();
    Versioned<Allocation> fenced = cp.store.get(cp.keys.allocation("shop.db"), Allocation.parser());
    assertThat(fenced.value().getEpoch()).isEqualTo(a.getEpoch() + 1);
    assertThat(fenced.value().getAttachmentsList()).isEmpty();
    assertThat(fenced.value().getAttachmentGeneration()).isEqualTo(2);
    NodeCommand fence =
        pending(consumer, c -> c.hasDetachVolume() && c.getDetachVolume().getFenced()).get(0);
    assertThat(fence.getSequence()).isEqualTo(fenced.modRevision());
    assertThat(fence.getDetachVolume().getGeneration()).isEqualTo(2);
    assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
  }

  @Test
  void twoWritersRacingOnTheStoreOneWinsTheOtherIsRefusedNamingIt() throws Exception {
    bound("db");
    List<String> all = nodes();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<String>> results = new ArrayList<>();
      for (String node : all.subList(0, 2)) {
        Callable<String> attach =
            () -> {
              go.await();
              try {
                return attachments.attach("shop.db", node, false, "race").message();
              } catch (AttachmentRefusedException e) {
                return "refused: " + e.getMessage();
              }
            };
        results.add(pool.submit(attach));
      }
      go.countDown();
      List<String> texts = new ArrayList<>();
      for (Future<String> r : results) {
        texts.add(r.get(30, TimeUnit.SECONDS));
      }
      List<Attachment> held = cp.manager.get("shop.db").orElseThrow().getAttachmentsList();
      assertThat(held).singleElement();
      String winner = held.get(0).getNodeId();
      String loser = all.subList(0, 2).stream().filter(n -> !n.equals(winner)).findFirst().get();
      assertThat(texts)
          .containsExactlyInAnyOrder(
              "volume shop.db attached to node " + winner + " read-write (generation 1)",
              "refused: volume shop.db is attached read-write to node "
                  + winner
                  + " (generation 1, by race): a volume has at most one writer; detach it, or"
                  + " fence node "
                  + winner
                  + " if it is lost");
      assertThat(pending(loser, NodeCommand::hasAttachVolume)).isEmpty();
      assertThat(pending(winner, NodeCommand::hasAttachVolume)).singleElement();
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void theAttachedNodeIsToldTheAssignmentAndTheFencedNodeNoLonger() {
    Allocation a = bound("db");
    String consumer =
        nodes().stream()
            .filter(n -> a.getReplicasList().stream().noneMatch(r -> r.getNodeId().equals(n)))
            .findFirst()
            .orElseThrow();
    AssignmentPublisher publisher =
        new AssignmentPublisher(cp.store, cp.keys, cp.queue, cp.registry, Clock.systemUTC())
            .start();
    closing.add(publisher);
    attachments.attach("shop.db", consumer, false, "it");
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                assignments(consumer).stream()
                    .anyMatch(
                        x ->
                            x.getAttachmentsCount() == 1
                                && x.getAttachments(0).getNodeId().equals(consumer)));
    for (Replica r : a.getReplicasList()) {
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  assignments(r.getNodeId()).stream().anyMatch(x -> x.getAttachmentsCount() == 1));
    }
    int toldConsumer = assignments(consumer).size();

    attachments.fence(consumer, "stolen");
    long epoch = a.getEpoch() + 1;
    for (Replica r : a.getReplicasList()) {
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  assignments(r.getNodeId()).stream()
                      .anyMatch(x -> x.getEpoch() == epoch && x.getAttachmentsCount() == 0));
    }
    assertThat(assignments(consumer)).hasSize(toldConsumer);
    assertThat(assignments(consumer)).noneMatch(x -> x.getEpoch() == epoch);
  }

  private List<AssignReplica> assignments(String node) {
    return cp.queue.pending(node).stream()
        .filter(NodeCommand::hasAssignReplica)
        .map(NodeCommand::getAssignReplica)
        .toList();
  }

  @Test
  void aDeposedLeaderAttachesNothing() throws Exception {
    bound("db");
    String node = nodes().get(0);
    try (var other =
        io.etcd.jetcd.Client.builder().endpoints(ETCD.endpoints().toArray(String[]::new)).build()) {
      KeyValueStore otherStore = new EtcdStore(other, Duration.ofSeconds(5));
      otherStore.txn().delete(cp.keys.leader()).commit();
      otherStore.txn().putString(cp.keys.leader(), "usurper").commit();
    }
    assertThatThrownBy(() -> attachments.attach("shop.db", node, false, "it"))
        .isInstanceOf(NotLeaderException.class);
    assertThat(cp.manager.get("shop.db").orElseThrow().getAttachmentsList()).isEmpty();
    assertThat(pending(node, NodeCommand::hasAttachVolume)).isEmpty();
  }

  @Test
  void theNodeAnnotationsAttachDetachAndFenceWithResultsAndEvents() throws Exception {
    Allocation a = bound("db");
    List<String> all = nodes();
    String node = all.get(0);
    LocalApiServer api = new LocalApiServer();
    closing.add(api);
    KubernetesClient kube = api.newClient();
    closing.add(kube);
    KubeEvents events = new KubeEvents(kube, Clock.systemUTC());
    closing.add(events);
    SecurityStore security = new SecurityStore(cp.store, cp.keys, Clock.systemUTC());
    closing.add(security);
    NodeActionWatcher watcher =
        new NodeActionWatcher(
                kube,
                new NodeAdmission(cp.registry, security, Clock.systemUTC()),
                attachments,
                events,
                () -> true)
            .start();
    closing.add(watcher);
    for (String n : all) {
      kube.nodes()
          .resource(new NodeBuilder().withNewMetadata().withName(n).endMetadata().build())
          .create();
    }

    assertThat(request(kube, node, NodeActionWatcher.ATTACH, "shop/db:ro", "r1"))
        .isEqualTo(
            "r1 attach ok: volume shop.db attached to node " + node + " read-only (generation 1)");
    assertThat(cp.manager.get("shop.db").orElseThrow().getAttachments(0).getRequestedBy())
        .isEqualTo("storage.mycnet.io/attach (request r1)");
    assertThat(annotations(kube, node))
        .doesNotContainKeys(NodeActionWatcher.ATTACH, NodeActionWatcher.REQUEST_ID);
    assertThat(request(kube, node, NodeActionWatcher.ATTACH, "shop/db:ro", "r2"))
        .startsWith("r2 attach unchanged: volume shop.db is already attached");
    assertThat(request(kube, all.get(1), NodeActionWatcher.ATTACH, "shop/db", "r3"))
        .isEqualTo(
            "r3 attach refused: volume shop.db is attached read-only to node "
                + node
                + ": a writer would change the device under its readers; detach them first");
    assertThat(request(kube, node, NodeActionWatcher.ATTACH, "shop/none", "r4"))
        .isEqualTo(
            "r4 attach refused: claim shop/none has no volume: it does not exist or is not bound"
                + " yet (volume shop.none)");
    assertThat(request(kube, node, NodeActionWatcher.DETACH, "shop/db", "r5"))
        .isEqualTo(
            "r5 detach ok: volume shop.db detached from node "
                + node
                + " (generation 1): detached by storage.mycnet.io/detach");
    assertThat(request(kube, node, NodeActionWatcher.ATTACH, "shop/db", "r6"))
        .startsWith("r6 attach ok: ");
    assertThat(request(kube, node, NodeActionWatcher.FENCE, "disk stolen", "r7"))
        .isEqualTo(
            "r7 fence ok: node "
                + node
                + " fenced off shop.db (generation 2, epoch "
                + a.getEpoch()
                + " -> "
                + (a.getEpoch() + 1)
                + "): the replicas refuse its I/O from now on");
    assertThat(cp.manager.get("shop.db").orElseThrow().getAttachmentNote())
        .endsWith("fenced: disk stolen");

    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () ->
                assertThat(
                        kube.v1().events().inAnyNamespace().list().getItems().stream()
                            .map(Event::getReason)
                            .toList())
                    .contains(
                        "VolumeAttached", "VolumeDetached", "NodeFenced", "NodeActionRefused"));
  }

  private static Map<String, String> annotations(KubernetesClient kube, String node) {
    return kube.nodes().withName(node).get().getMetadata().getAnnotations();
  }

  /** Sets the action annotation with a request id, as the CLI does, and waits for its result. */
  private static String request(
      KubernetesClient kube, String node, String annotation, String value, String requestId) {
    kube.nodes()
        .withName(node)
        .edit(
            n ->
                new NodeBuilder(n)
                    .editMetadata()
                    .addToAnnotations(annotation, value)
                    .addToAnnotations(NodeActionWatcher.REQUEST_ID, requestId)
                    .endMetadata()
                    .build());
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              Map<String, String> a = annotations(kube, node);
              return a != null
                  && a.getOrDefault(NodeActionWatcher.RESULT, "").startsWith(requestId + " ");
            });
    return annotations(kube, node).get(NodeActionWatcher.RESULT);
  }
}
