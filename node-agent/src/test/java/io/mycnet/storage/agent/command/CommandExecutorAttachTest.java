package io.mycnet.storage.agent.command;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.agent.data.VolumeIoCalls;
import io.mycnet.storage.agent.frontend.AttachedVolumes;
import io.mycnet.storage.agent.identity.IdentityKeys;
import io.mycnet.storage.agent.identity.Revocations;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.agent.replication.PeerChannels;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.AttachVolume;
import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.api.v1.DetachVolume;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaState;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The attachment commands on an agent's executor (real store, applied-commands log and attachment
 * records on disk): attach, an assignment of a volume attached here without a replica here, and
 * detach by generation; an agent without a block frontend refuses them.
 */
class CommandExecutorAttachTest {
  static final String VOLUME = "app.data";
  @TempDir Path dir;
  AppliedCommands applied;
  ReplicaStore store;
  PeerChannels peers;
  AttachedVolumes attached;
  CommandExecutor executor;

  @BeforeEach
  void open() throws Exception {
    applied = AppliedCommands.open(dir);
    store = ReplicaStore.open(dir);
    Revocations revocations = Revocations.open(dir);
    peers = new PeerChannels(new IdentityKeys(), revocations);
    attached =
        AttachedVolumes.open(
            dir,
            "n0",
            store,
            new VolumeIoCalls(store, r -> {}),
            peers,
            revocations,
            Duration.ofSeconds(2));
    executor = new CommandExecutor(store, applied, 1L << 30);
  }

  @AfterEach
  void close() {
    attached.close();
    peers.close();
    applied.close();
  }

  static AssignReplica assignment(long epoch, String primary) {
    return AssignReplica.newBuilder()
        .setVolumeId(VOLUME)
        .setEpoch(epoch)
        .setSizeBytes(1 << 20)
        .setPrimaryNodeId(primary)
        .setNamespace("app")
        .addPeers(
            ReplicaMember.newBuilder()
                .setNodeId(primary)
                .setAddress("127.0.0.1:1")
                .setState(ReplicaState.REPLICA_STATE_HEALTHY))
        .addAttachments(Attachment.newBuilder().setNodeId("n0").setGeneration(4))
        .build();
  }

  static NodeCommand attach(String id, long generation) {
    return NodeCommand.newBuilder()
        .setCommandId(id)
        .setAttachVolume(
            AttachVolume.newBuilder()
                .setVolumeId(VOLUME)
                .setAttachment(Attachment.newBuilder().setNodeId("n0").setGeneration(generation))
                .setAssignment(assignment(3, "n1"))
                .setClaim("team-a/data"))
        .build();
  }

  static NodeCommand detach(String id, long generation) {
    return NodeCommand.newBuilder()
        .setCommandId(id)
        .setDetachVolume(
            DetachVolume.newBuilder()
                .setVolumeId(VOLUME)
                .setGeneration(generation)
                .setReason("volume detach"))
        .build();
  }

  static NodeCommand assign(String id, AssignReplica a) {
    return NodeCommand.newBuilder().setCommandId(id).setAssignReplica(a).build();
  }

  @Test
  void withoutABlockFrontendAttachAndDetachAreRefused() {
    CommandResult r = executor.apply(attach("a1", 4)).result();
    assertThat(r.getOk()).isFalse();
    assertThat(r.getMessage()).contains("no block frontend");
    assertThat(executor.apply(detach("d1", 4)).result().getOk()).isFalse();
  }

  @Test
  void attachFollowAndDetachByGeneration() {
    executor.frontend(attached);
    CommandResult r = executor.apply(attach("a1", 4)).result();
    assertThat(r.getOk()).as(r.getMessage()).isTrue();
    assertThat(attached.frontend(VOLUME).primary()).isEqualTo("n1");

    // No replica here, but attached: the frontend follows the new primary.
    r = executor.apply(assign("s1", assignment(5, "n2"))).result();
    assertThat(r.getOk()).as(r.getMessage()).isTrue();
    assertThat(r.getMessage()).contains("follows epoch 5");
    assertThat(attached.frontend(VOLUME).epoch()).isEqualTo(5);
    assertThat(attached.frontend(VOLUME).primary()).isEqualTo("n2");

    // An older generation's detach is ignored; the current one ends the attachment.
    assertThat(executor.apply(detach("d1", 3)).result().getMessage()).contains("ignored");
    assertThat(attached.frontend(VOLUME)).isNotNull();
    r = executor.apply(detach("d2", 4)).result();
    assertThat(r.getOk()).isTrue();
    assertThat(attached.frontend(VOLUME)).isNull();
    // The same command again is answered with its first result, not applied twice.
    assertThat(executor.apply(detach("d2", 4)).fresh()).isFalse();
  }

  @Test
  void anAssignmentForAVolumeNeitherHeldNorAttachedIsKeptForItsReplica() {
    executor.frontend(attached);
    CommandResult r = executor.apply(assign("s1", assignment(5, "n2"))).result();
    assertThat(r.getMessage()).contains("no replica of app.data here yet");
    assertThat(attached.frontend(VOLUME)).isNull();
  }
}
