package io.mycnet.storage.agent.command;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.agent.identity.Revocations;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.api.v1.AgentMessage;
import io.mycnet.storage.api.v1.CreateReplica;
import io.mycnet.storage.api.v1.DeleteReplica;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.RevocationList;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the session sends back for a command: its result, and the new inventory after a fresh
 * create, rebuild or delete (not after a repeat, an assignment or an audit); the revocation list is
 * stored before anything relies on it.
 */
class CommandDispatchTest {
  @TempDir Path dir;
  AppliedCommands applied;
  ReplicaStore store;
  CommandDispatch dispatch;

  @BeforeEach
  void open() {
    applied = AppliedCommands.open(dir);
    store = ReplicaStore.open(dir);
    dispatch =
        new CommandDispatch(
            new CommandExecutor(store, applied, 1L << 30),
            store,
            Revocations.open(dir),
            Clock.systemUTC());
  }

  @AfterEach
  void close() {
    applied.close();
  }

  static NodeCommand create(String id, String volume) {
    return NodeCommand.newBuilder()
        .setCommandId(id)
        .setCreateReplica(
            CreateReplica.newBuilder().setVolumeId(volume).setEpoch(1).setSizeBytes(1 << 20))
        .build();
  }

  @Test
  void aFreshCreateIsAnsweredWithItsResultThenTheInventory() {
    List<AgentMessage> out = dispatch.command(create("c1", "app.a"));
    assertThat(out).hasSize(2);
    assertThat(out.get(0).getCommandResult().getCommandId()).isEqualTo("c1");
    assertThat(out.get(0).getCommandResult().getOk()).isTrue();
    assertThat(out.get(1).getInventory().getReplicasList())
        .singleElement()
        .satisfies(r -> assertThat(r.getVolumeId()).isEqualTo("app.a"));

    // A redelivered command: the remembered result, no inventory (nothing changed).
    List<AgentMessage> again = dispatch.command(create("c1", "app.a"));
    assertThat(again).singleElement().isEqualTo(out.get(0));

    List<AgentMessage> deleted =
        dispatch.command(
            NodeCommand.newBuilder()
                .setCommandId("d1")
                .setDeleteReplica(DeleteReplica.newBuilder().setVolumeId("app.a").setEpoch(1))
                .build());
    assertThat(deleted).hasSize(2);
    assertThat(deleted.get(1).getInventory().getReplicasList()).isEmpty();
  }

  @Test
  void aCommandWithoutKindIsAnsweredFailedAlone() {
    List<AgentMessage> out = dispatch.command(NodeCommand.newBuilder().setCommandId("x").build());
    assertThat(out).singleElement();
    assertThat(out.get(0).getCommandResult().getOk()).isFalse();
    assertThat(out.get(0).getCommandResult().getMessage()).contains("no kind");
  }

  @Test
  void theRevocationListIsStoredAndInEffect() {
    dispatch.revocations(RevocationList.newBuilder().addNodeIds("gone").setRevision(3).build());
    assertThat(Revocations.open(dir).nodeRevoked("gone")).isTrue();
  }
}
