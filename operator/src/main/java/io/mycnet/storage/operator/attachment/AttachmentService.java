package io.mycnet.storage.operator.attachment;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.AttachVolume;
import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.allocation.Assignments;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.KeyValueStore;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import io.mycnet.storage.operator.store.Txn;
import io.mycnet.storage.operator.store.Versioned;
import io.mycnet.storage.operator.wire.ProtoMapping;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Attaches volumes to nodes, detaches and fences them (docs/block-export.md, "Attachments").
 *
 * <p>An attachment lives in the volume's {@code Allocation} ({@code attachments}, {@code
 * attachment_generation}, {@code attachment_note}). Every change of one volume's attachments is ONE
 * store transaction, guarded by the allocation's revision as read (and, for an attach, the node
 * record's) and fenced by the leader key as every write of the store is, that also queues the
 * command for the consumer node: {@code AttachVolume} (with the volume's assignment as {@link
 * Assignments} builds it for everyone) or {@code DetachVolume}. Either both land or neither.
 *
 * <p>Rules of an attach: the volume is BOUND, DEGRADED or REBUILDING (it has a healthy replica to
 * serve from); the node is registered and UP; the node's trust tier admits the volume's
 * classification (the placement rule, {@code TrustTier.allows}), else the refusal carries the
 * node's trust explanation; read-write by at most one node, read-only by any number, never both at
 * once on different nodes (a reader would see a device that changes under it). Attaching what is
 * attached in the same mode changes nothing.
 *
 * <p>A fence revokes a node's attachment and raises the volume's epoch in the same transaction: the
 * replicas learn both through the assignment and refuse the node's frontend and every request of
 * the old epoch, so the volume can be attached elsewhere at once. The node gets {@code
 * DetachVolume(fenced=true)}. The replication pass fences on its own ({@link #fenceUnfit}) the
 * attachments of a node that is DOWN or REMOVED, and of a live node whose tier no longer admits the
 * volume's classification.
 */
public final class AttachmentService {
  private static final Logger LOG = LoggerFactory.getLogger(AttachmentService.class);

  /** Guarded transactions that lose a race are re-read and decided again this many times. */
  static final int ATTEMPTS = 8;

  private static final Pattern K8S_NAMESPACE =
      Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final Pattern K8S_NAME = Pattern.compile("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?");

  /**
   * What an attach, detach or fence did.
   *
   * @param changed false when it was already so (nothing written)
   * @param message one line for a person
   */
  public record Outcome(boolean changed, String message) {}

  /**
   * One attachment a fence revoked.
   *
   * @param why the reason kept in the volume's {@code attachment_note}
   */
  public record Fenced(
      String nodeId, String volumeId, long generation, long fromEpoch, long toEpoch, String why) {
    /** {@code shop.db (generation 2, epoch 4 -> 5)}. */
    String volumePart() {
      return volumeId
          + " (generation "
          + generation
          + ", epoch "
          + fromEpoch
          + " -> "
          + toEpoch
          + ")";
    }

    /** {@code shop.db on node edge-1 (generation 2, epoch 4 -> 5): node down}. */
    @Override
    public String toString() {
      return volumeId
          + " on node "
          + nodeId
          + " (generation "
          + generation
          + ", epoch "
          + fromEpoch
          + " -> "
          + toEpoch
          + "): "
          + why;
    }
  }

  private final KeyValueStore store;
  private final EtcdKeys keys;
  private final NodeRegistry registry;
  private final CommandQueue queue;
  private final NodeTrustSource trust;
  private final ClaimVolumes claims;
  private final Clock clock;

  public AttachmentService(
      KeyValueStore store,
      EtcdKeys keys,
      NodeRegistry registry,
      CommandQueue queue,
      NodeTrustSource trust,
      ClaimVolumes claims,
      Clock clock) {
    this.store = store;
    this.keys = keys;
    this.registry = registry;
    this.queue = queue;
    this.trust = trust;
    this.claims = claims;
    this.clock = clock;
  }

  /**
   * The volume id of a claim reference {@code "<kubernetes namespace>/<claim>"}.
   *
   * @throws AttachmentRefusedException when the reference is malformed
   */
  public String volumeOfClaim(String claimRef) {
    if (claimRef == null) {
      throw new AttachmentRefusedException("no claim given: expected <namespace>/<claim>");
    }
    String ref = claimRef.strip();
    int slash = ref.indexOf('/');
    String ns = slash < 0 ? "" : ref.substring(0, slash);
    String name = slash < 0 ? "" : ref.substring(slash + 1);
    if (!K8S_NAMESPACE.matcher(ns).matches() || !K8S_NAME.matcher(name).matches()) {
      throw new AttachmentRefusedException(
          "claim '"
              + claimRef
              + "' is not <namespace>/<claim> (a Kubernetes namespace and a StorageClaim name,"
              + " e.g. shop/orders-db)");
    }
    return claims.volumeOf(ns, name);
  }

  /** {@link #attach} of the volume of claim {@code "<namespace>/<claim>"}. */
  public Outcome attachClaim(String claimRef, String nodeId, boolean readOnly, String requestedBy) {
    return attach(volumeOfClaim(claimRef), nodeId, readOnly, requestedBy);
  }

  /** {@link #detach} of the volume of claim {@code "<namespace>/<claim>"}. */
  public Outcome detachClaim(String claimRef, String nodeId, String reason) {
    return detach(volumeOfClaim(claimRef), nodeId, reason);
  }

  /**
   * Attaches the volume to the node, read-only or read-write, in one transaction that also queues
   * the {@code AttachVolume} command on the node's queue.
   *
   * @throws AttachmentRefusedException when a rule forbids it (nothing written)
   * @throws StoreUnavailableException when the store does not answer, or kept changing
   */
  public Outcome attach(String volumeId, String nodeId, boolean readOnly, String requestedBy) {
    String volumeKey = key(() -> keys.allocation(volumeId));
    String nodeKey = key(() -> keys.node(nodeId));
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      List<Versioned<byte[]>> raw = store.getAllRaw(List.of(volumeKey, nodeKey));
      Versioned<Allocation> av = KeyValueStore.parse(raw.get(0), Allocation.parser());
      Versioned<NodeRecord> nv = KeyValueStore.parse(raw.get(1), NodeRecord.parser());
      Allocation a = existing(av, volumeId);
      String mode = mode(readOnly);
      VolumeState state = a.getState();
      if (state != VolumeState.VOLUME_STATE_BOUND
          && state != VolumeState.VOLUME_STATE_DEGRADED
          && state != VolumeState.VOLUME_STATE_REBUILDING) {
        throw new AttachmentRefusedException(
            AttachmentRefusedException.Kind.NOT_READY,
            "volume "
                + volumeId
                + " is "
                + name(state)
                + (state == VolumeState.VOLUME_STATE_LOST
                    ? ": no healthy replica is left to serve it"
                    : ": it can be attached once it is bound"));
      }
      if (!nv.exists()) {
        throw new AttachmentRefusedException(
            AttachmentRefusedException.Kind.NOT_FOUND,
            "node " + nodeId + " is not registered: only a node whose agent has joined can attach");
      }
      NodeState nodeState = nv.value().getState();
      if (nodeState != NodeState.NODE_STATE_UP) {
        throw new AttachmentRefusedException(
            AttachmentRefusedException.Kind.NOT_READY,
            "node "
                + nodeId
                + " is "
                + nodeState.name().replace("NODE_STATE_", "")
                + ": only an UP node can attach a volume");
      }
      Attachment mine = attachmentOf(a, nodeId);
      if (mine != null) {
        if (mine.getReadOnly() == readOnly) {
          return new Outcome(
              false,
              "volume "
                  + volumeId
                  + " is already attached to node "
                  + nodeId
                  + " "
                  + mode
                  + " (generation "
                  + mine.getGeneration()
                  + ")");
        }
        throw new AttachmentRefusedException(
            AttachmentRefusedException.Kind.OTHER_MODE,
            "volume "
                + volumeId
                + " is attached to node "
                + nodeId
                + " "
                + mode(mine.getReadOnly())
                + " (generation "
                + mine.getGeneration()
                + "): detach it first to attach it "
                + mode);
      }
      refuseConflicts(a, nodeId, readOnly);
      Classification c = ProtoMapping.fromProto(a.getClassification());
      if (!trust.known(nodeId)) {
        throw new AttachmentRefusedException(
            AttachmentRefusedException.Kind.TRUST_UNKNOWN,
            "the trust of node "
                + nodeId
                + " is not known yet (the control plane has not restored it, or has no evidence"
                + " about the node): try again shortly");
      }
      NodeTrustSource.NodeTrust t = trust.trustOf(nodeId);
      if (!t.tier().allows(c)) {
        throw new AttachmentRefusedException(
            AttachmentRefusedException.Kind.TRUST,
            String.format(
                    Locale.ROOT,
                    "node %s may not attach volume %s: its trust tier %s (score %.3f) does not"
                        + " admit %s data%n",
                    nodeId,
                    volumeId,
                    t.tier(),
                    t.score(),
                    c)
                + trust.explain(nodeId));
      }
      Versioned<NamespaceRecord> owner =
          store.get(keys.namespace(a.getNamespace()), NamespaceRecord.parser());
      long now = clock.millis();
      long generation = a.getAttachmentGeneration() + 1;
      Attachment attachment =
          Attachment.newBuilder()
              .setNodeId(nodeId)
              .setReadOnly(readOnly)
              .setGeneration(generation)
              .setAttachedAtUnixMs(now)
              .setRequestedBy(requestedBy == null ? "" : requestedBy)
              .build();
      Allocation next =
          a.toBuilder()
              .addAttachments(attachment)
              .setAttachmentGeneration(generation)
              .setUpdatedAtUnixMs(now)
              .build();
      AssignReplica assignment =
          Assignments.content(
                  next,
                  owner.exists() ? owner.value() : null,
                  id -> registry.get(id).map(NodeRecord::getAddress).orElse(""))
              .toBuilder()
              .setRevision(Math.max(av.modRevision(), owner.modRevision()))
              .build();
      NodeCommand command =
          NodeCommand.newBuilder()
              .setCommandId(commandId("attach", a, generation, nodeId))
              .setIssuedAtUnixMs(now)
              .setAttachVolume(
                  AttachVolume.newBuilder()
                      .setVolumeId(volumeId)
                      .setAttachment(attachment)
                      .setAssignment(assignment)
                      .setClaim(claims.claimOf(volumeId).orElse(volumeId)))
              .build();
      Txn txn = store.txn().requireUnchanged(av).requireUnchanged(nv).put(av.key(), next);
      queue.batch().add(nodeId, command).stage(txn);
      if (txn.commit()) {
        String message =
            "volume "
                + volumeId
                + " attached to node "
                + nodeId
                + " "
                + mode
                + " (generation "
                + generation
                + ")";
        LOG.info("{}, requested by {}", message, attachment.getRequestedBy());
        return new Outcome(true, message);
      }
    }
    throw new StoreUnavailableException(
        "attach of " + volumeId + " to " + nodeId + " kept conflicting with other decisions", null);
  }

  /**
   * Ends the node's attachment of the volume cleanly (the node's frontend flushes, then closes), in
   * one transaction that also queues {@code DetachVolume} on the node's queue.
   *
   * @throws AttachmentRefusedException when the volume or the node does not exist (nothing written)
   */
  public Outcome detach(String volumeId, String nodeId, String reason) {
    String volumeKey = key(() -> keys.allocation(volumeId));
    key(() -> keys.node(nodeId));
    String why = reason == null || reason.isBlank() ? "detached on request" : reason.strip();
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      Versioned<Allocation> av = store.get(volumeKey, Allocation.parser());
      Allocation a = existing(av, volumeId);
      Attachment mine = attachmentOf(a, nodeId);
      if (mine == null) {
        if (registry.get(nodeId).isEmpty()) {
          throw new AttachmentRefusedException(
              AttachmentRefusedException.Kind.NOT_FOUND, "node " + nodeId + " is not registered");
        }
        return new Outcome(false, "volume " + volumeId + " is not attached to node " + nodeId);
      }
      long now = clock.millis();
      Allocation next = without(a, nodeId).setUpdatedAtUnixMs(now).build();
      NodeCommand command = detachCommand(a, mine, why, false, now);
      Txn txn = store.txn().requireUnchanged(av).put(av.key(), next);
      queue.batch().add(nodeId, command).stage(txn);
      if (txn.commit()) {
        String message =
            "volume "
                + volumeId
                + " detached from node "
                + nodeId
                + " (generation "
                + mine.getGeneration()
                + "): "
                + why;
        LOG.info(message);
        return new Outcome(true, message);
      }
    }
    throw new StoreUnavailableException(
        "detach of " + volumeId + " from " + nodeId + " kept conflicting with other decisions",
        null);
  }

  /**
   * Fences the node: revokes every attachment it has and raises each of those volumes' epoch, one
   * transaction per volume, each queueing {@code DetachVolume(fenced=true)} to the node.
   *
   * @throws AttachmentRefusedException when no reason is given, or the node is neither registered
   *     nor attached anywhere (nothing written)
   */
  public Outcome fence(String nodeId, String reason) {
    key(() -> keys.node(nodeId));
    if (reason == null || reason.isBlank()) {
      throw new AttachmentRefusedException(
          "fencing node " + nodeId + " needs a reason (it is kept in each volume's status)");
    }
    List<Fenced> fenced = new ArrayList<>();
    for (Versioned<Allocation> v : store.list(keys.allocations(), Allocation.parser())) {
      if (attachmentOf(v.value(), nodeId) != null) {
        fenceOne(v, nodeId, "fenced: " + reason.strip(), fenced);
      }
    }
    if (fenced.isEmpty()) {
      if (registry.get(nodeId).isEmpty()) {
        throw new AttachmentRefusedException(
            AttachmentRefusedException.Kind.NOT_FOUND, "node " + nodeId + " is not registered");
      }
      return new Outcome(false, "node " + nodeId + " has no attachment to fence");
    }
    String message =
        "node "
            + nodeId
            + " fenced off "
            + fenced.stream().map(Fenced::volumePart).collect(Collectors.joining(", "))
            + ": the replicas refuse its I/O from now on";
    LOG.warn("{} ({})", message, reason.strip());
    return new Outcome(true, message);
  }

  /**
   * The replication pass's part: fences every attachment whose node is gone (not registered), DOWN
   * or REMOVED, or is live with a known tier that no longer admits the volume's classification (a
   * silent node is judged by liveness alone, as its replicas are). Returns the allocations as they
   * are afterwards (re-read where a fence wrote; a released one is left out) and adds every fence
   * to {@code fenced}.
   */
  public List<Versioned<Allocation>> fenceUnfit(
      Map<String, NodeRecord> nodes,
      Set<String> live,
      List<Versioned<Allocation>> allocations,
      List<Fenced> fenced) {
    List<Versioned<Allocation>> out = new ArrayList<>(allocations.size());
    for (Versioned<Allocation> v : allocations) {
      Versioned<Allocation> cur = v;
      for (Attachment at : v.value().getAttachmentsList()) {
        String why = unfit(v.value(), at.getNodeId(), nodes, live);
        if (why != null) {
          cur = fenceOne(cur, at.getNodeId(), why, fenced);
          if (!cur.exists()) {
            break;
          }
        }
      }
      if (cur.exists()) {
        out.add(cur);
      }
    }
    return out;
  }

  /** Why the node may no longer keep its attachment of {@code a}, or null. */
  private String unfit(
      Allocation a, String nodeId, Map<String, NodeRecord> nodes, Set<String> live) {
    NodeRecord n = nodes.get(nodeId);
    if (n == null || n.getState() == NodeState.NODE_STATE_REMOVED) {
      return "node removed";
    }
    if (n.getState() == NodeState.NODE_STATE_DOWN) {
      return "node down";
    }
    if (live.contains(nodeId) && trust.known(nodeId)) {
      Classification c = ProtoMapping.fromProto(a.getClassification());
      NodeTrustSource.NodeTrust t = trust.trustOf(nodeId);
      if (!t.tier().allows(c)) {
        return String.format(
            Locale.ROOT,
            "node's trust tier %s (score %.3f) no longer admits %s data",
            t.tier(),
            t.score(),
            c);
      }
    }
    return null;
  }

  /**
   * Revokes the node's attachment of the volume and raises its epoch in one transaction with the
   * fenced detach command, re-reading on a lost race. Returns the allocation afterwards.
   */
  private Versioned<Allocation> fenceOne(
      Versioned<Allocation> v, String nodeId, String why, List<Fenced> fenced) {
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (!v.exists()) {
        return v;
      }
      Allocation a = v.value();
      Attachment mine = attachmentOf(a, nodeId);
      if (mine == null) {
        return v;
      }
      long now = clock.millis();
      Allocation next =
          without(a, nodeId)
              .setEpoch(a.getEpoch() + 1)
              .setAttachmentNote(
                  "node "
                      + nodeId
                      + " fenced at "
                      + Instant.ofEpochMilli(now)
                      + " (generation "
                      + mine.getGeneration()
                      + ", epoch "
                      + a.getEpoch()
                      + " -> "
                      + (a.getEpoch() + 1)
                      + "): "
                      + why)
              .setUpdatedAtUnixMs(now)
              .build();
      Txn txn = store.txn().requireUnchanged(v).put(v.key(), next);
      queue.batch().add(nodeId, detachCommand(a, mine, why, true, now)).stage(txn);
      if (txn.commit()) {
        fenced.add(
            new Fenced(
                nodeId, a.getVolumeId(), mine.getGeneration(), a.getEpoch(), next.getEpoch(), why));
        LOG.warn("volume {}: {}", a.getVolumeId(), next.getAttachmentNote());
      }
      v = store.get(v.key(), Allocation.parser());
    }
    throw new StoreUnavailableException(
        "fencing node " + nodeId + " off " + v.key() + " kept conflicting with other decisions",
        null);
  }

  private void refuseConflicts(Allocation a, String nodeId, boolean readOnly) {
    List<Attachment> others =
        a.getAttachmentsList().stream().filter(x -> !x.getNodeId().equals(nodeId)).toList();
    Attachment writer = others.stream().filter(x -> !x.getReadOnly()).findFirst().orElse(null);
    if (writer != null) {
      throw new AttachmentRefusedException(
          AttachmentRefusedException.Kind.HELD_ELSEWHERE,
          "volume "
              + a.getVolumeId()
              + " is attached read-write to node "
              + writer.getNodeId()
              + " (generation "
              + writer.getGeneration()
              + (writer.getRequestedBy().isEmpty() ? "" : ", by " + writer.getRequestedBy())
              + (readOnly
                  ? "): a reader elsewhere would see the device change under it"
                  : "): a volume has at most one writer")
              + "; detach it, or fence node "
              + writer.getNodeId()
              + " if it is lost");
    }
    if (!readOnly && !others.isEmpty()) {
      throw new AttachmentRefusedException(
          AttachmentRefusedException.Kind.HELD_ELSEWHERE,
          "volume "
              + a.getVolumeId()
              + " is attached read-only to node"
              + (others.size() == 1 ? " " : "s ")
              + others.stream().map(Attachment::getNodeId).collect(Collectors.joining(", "))
              + ": a writer would change the device under its readers; detach them first");
    }
  }

  private static NodeCommand detachCommand(
      Allocation a, Attachment ended, String reason, boolean fenced, long now) {
    return Assignments.detach(fenced ? "fence" : "detach", a, ended, reason, fenced, now);
  }

  /** Unique per (kind, volume incarnation, attachment generation, node). */
  private static String commandId(String kind, Allocation a, long generation, String nodeId) {
    return kind
        + ":"
        + a.getVolumeId()
        + ":"
        + a.getIncarnation()
        + ":"
        + generation
        + ":"
        + nodeId;
  }

  private Allocation existing(Versioned<Allocation> av, String volumeId) {
    if (av.exists()) {
      return av.value();
    }
    String claim = claims.claimOf(volumeId).orElse(null);
    throw new AttachmentRefusedException(
        AttachmentRefusedException.Kind.NOT_FOUND,
        claim == null
            ? "volume " + volumeId + " does not exist"
            : "claim "
                + claim
                + " has no volume: it does not exist or is not bound yet (volume "
                + volumeId
                + ")");
  }

  private static Attachment attachmentOf(Allocation a, String nodeId) {
    for (Attachment at : a.getAttachmentsList()) {
      if (at.getNodeId().equals(nodeId)) {
        return at;
      }
    }
    return null;
  }

  private static Allocation.Builder without(Allocation a, String nodeId) {
    Allocation.Builder b = a.toBuilder().clearAttachments();
    for (Attachment at : a.getAttachmentsList()) {
      if (!at.getNodeId().equals(nodeId)) {
        b.addAttachments(at);
      }
    }
    return b;
  }

  private static String mode(boolean readOnly) {
    return readOnly ? "read-only" : "read-write";
  }

  private static String name(VolumeState s) {
    return s.name().replace("VOLUME_STATE_", "");
  }

  /** A store key of a user-given id; a malformed id is a refusal naming it. */
  private static String key(java.util.function.Supplier<String> key) {
    try {
      return key.get();
    } catch (IllegalArgumentException e) {
      throw new AttachmentRefusedException(e.getMessage());
    }
  }
}
