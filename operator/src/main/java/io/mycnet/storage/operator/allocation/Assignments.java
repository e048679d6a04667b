package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.api.v1.DetachVolume;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaState;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.function.Function;

/**
 * What a node is told about a volume it serves: the {@code AssignReplica} content (epoch, primary,
 * replica set with each replica's state and data-port address, owner and the grants of the volume's
 * claim, the attached nodes), and which nodes are told. The assignment publisher sends it whenever
 * it changes; an attach sends it inside the {@code AttachVolume}. One definition, so an attached
 * node's frontend and the replicas see the same thing.
 */
public final class Assignments {
  private Assignments() {}

  /**
   * The assignment of {@code a} without its revision.
   *
   * @param owner the owner's namespace record (null: none, hence no grants)
   * @param addressOf a node's data-port address ("" when unknown)
   */
  public static AssignReplica content(
      Allocation a, NamespaceRecord owner, Function<String, String> addressOf) {
    AssignReplica.Builder b =
        AssignReplica.newBuilder()
            .setVolumeId(a.getVolumeId())
            .setEpoch(a.getEpoch())
            .setSizeBytes(a.getSizeBytes())
            .setConsistency(a.getConsistency())
            .setPrimaryNodeId(a.getPrimaryNodeId())
            .setNamespace(a.getNamespace())
            .addAllGrants(ShareGrants.forVolume(owner, a))
            .addAllAttachments(a.getAttachmentsList());
    for (Replica r : a.getReplicasList()) {
      b.addPeers(
          ReplicaMember.newBuilder()
              .setNodeId(r.getNodeId())
              .setAddress(addressOf.apply(r.getNodeId()))
              .setState(r.getState()));
    }
    return b.build();
  }

  /**
   * The nodes told the assignment: every replica's node but the LOST ones', then every attached
   * node (its frontend follows the primary), each once, in that order.
   */
  public static Set<String> recipients(Allocation a) {
    Set<String> out = new LinkedHashSet<>();
    for (Replica r : a.getReplicasList()) {
      if (r.getState() != ReplicaState.REPLICA_STATE_LOST) {
        out.add(r.getNodeId());
      }
    }
    for (Attachment at : a.getAttachmentsList()) {
      out.add(at.getNodeId());
    }
    return out;
  }

  /**
   * The {@code DetachVolume} that ends attachment {@code ended} of {@code a}, with the id {@code
   * <kind>:<volume>:<incarnation>:<generation>:<node>} (unique per attachment and kind, so a
   * retried decision never queues it twice).
   *
   * @param fenced the node's frontend fails I/O in flight rather than flushing it
   */
  public static NodeCommand detach(
      String kind, Allocation a, Attachment ended, String reason, boolean fenced, long now) {
    return NodeCommand.newBuilder()
        .setCommandId(
            kind
                + ":"
                + a.getVolumeId()
                + ":"
                + a.getIncarnation()
                + ":"
                + ended.getGeneration()
                + ":"
                + ended.getNodeId())
        .setIssuedAtUnixMs(now)
        .setDetachVolume(
            DetachVolume.newBuilder()
                .setVolumeId(a.getVolumeId())
                .setGeneration(ended.getGeneration())
                .setReason(reason)
                .setFenced(fenced))
        .build();
  }
}
