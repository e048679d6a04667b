package io.mycnet.storage.agent.replica;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.agent.command.AppliedCommands;
import io.mycnet.storage.agent.command.CommandExecutor;
import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.api.v1.CreateReplica;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.RebuildReplica;
import io.mycnet.storage.api.v1.ReplicaInventory;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplicaStoreTest {
  static final long GIB = 1L << 30;
  @TempDir Path dir;

  @Test
  void createIsIdempotentAndReportedInTheInventory() {
    ReplicaStore s = ReplicaStore.open(dir);
    assertThat(s.create("vol-1", 3, 1 << 20, GIB).ok()).isTrue();
    assertThat(s.create("vol-1", 3, 1 << 20, GIB).ok()).isTrue();
    ReplicaInventory inv = s.inventory(0);
    assertThat(inv.getReplicasList()).hasSize(1);
    assertThat(inv.getReplicas(0).getEpoch()).isEqualTo(3);
    assertThat(inv.getReplicas(0).getChecksumSummary()).hasSize(64);
    assertThat(s.usedBytes()).isEqualTo(1 << 20);
  }

  @Test
  void aGrownVolumeGrowsItsReplicaOnlineAndAfterReopening() throws Exception {
    ReplicaStore s = ReplicaStore.open(dir);
    assertThat(s.create("vol-1", 2, 1 << 20, GIB).ok()).isTrue();
    VolumeReplica r = s.volume("vol-1").replica();
    byte[] last = new byte[4096];
    java.util.Arrays.fill(last, (byte) 7);
    r.awaitDurable(r.writeAsync((1 << 20) - 4096, last));
    assertThat(s.grow("vol-1", 1 << 20)).isNull(); // nothing to grow
    assertThat(s.grow("vol-1", 2 << 20).message()).contains("grew from 1048576 to 2097152");
    assertThat(r.sizeBytes()).isEqualTo(2 << 20);
    assertThat(r.rangeProblem((2 << 20) - 4096, 4096)).isNull();
    assertThat(r.read((2 << 20) - 8192, 8192)).containsOnly(0);
    byte[] tail = new byte[4096];
    java.util.Arrays.fill(tail, (byte) 9);
    r.awaitDurable(r.writeAsync((2 << 20) - 4096, tail));
    assertThat(r.read((1 << 20) - 4096, 4096)).isEqualTo(last);
    // A replica never shrinks, and a restart opens it at the grown size with its data.
    assertThat(s.grow("vol-1", 1 << 20)).isNull();
    VolumeReplica again = ReplicaStore.open(dir).volume("vol-1").replica();
    assertThat(again.sizeBytes()).isEqualTo(2 << 20);
    assertThat(again.read((2 << 20) - 4096, 4096)).isEqualTo(tail);
    assertThat(again.read((1 << 20) - 4096, 4096)).isEqualTo(last);
    assertThat(ReplicaStore.open(dir).inventory(0).getReplicas(0).getEpoch()).isEqualTo(2);
  }

  @Test
  void staleEpochsAndMissingCapacityAreRefused() {
    ReplicaStore s = ReplicaStore.open(dir);
    assertThat(s.create("vol-1", 5, 1 << 20, GIB).ok()).isTrue();
    assertThat(s.create("vol-1", 4, 1 << 20, GIB).message()).contains("stale command");
    assertThat(s.delete("vol-1", 4).message()).contains("stale command");
    assertThat(s.create("vol-2", 1, GIB, GIB).message()).contains("insufficient capacity");
    assertThat(s.create("../etc", 1, 1, GIB).ok()).isFalse();
  }

  @Test
  void aRebuildUnderWaySurvivesAReopeningUntilItEnds() throws Exception {
    ReplicaStore s = ReplicaStore.open(dir);
    RebuildReplica cmd =
        RebuildReplica.newBuilder()
            .setVolumeId("vol-1")
            .setEpoch(4)
            .setSizeBytes(1 << 20)
            .setSourceNodeId("n2")
            .setSourceAddress("127.0.0.1:7000")
            .build();
    // No replica, nothing to rebuild: refused, nothing recorded.
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> s.recordRebuild(cmd))
        .hasMessageContaining("no replica of vol-1");
    s.create("vol-1", 4, 1 << 20, GIB);
    s.create("vol-2", 4, 1 << 20, GIB);
    s.recordRebuild(cmd);
    assertThat(ReplicaStore.open(dir).unfinishedRebuilds()).containsExactly(cmd);
    // A rebuild at an older epoch ending does not forget a newer one.
    s.clearRebuild("vol-1", 3);
    assertThat(ReplicaStore.open(dir).unfinishedRebuilds()).containsExactly(cmd);
    s.clearRebuild("vol-1", 4);
    assertThat(ReplicaStore.open(dir).unfinishedRebuilds()).isEmpty();
    // Deleting the replica deletes its record with it.
    s.recordRebuild(cmd);
    assertThat(s.delete("vol-1", 4).ok()).isTrue();
    assertThat(ReplicaStore.open(dir).unfinishedRebuilds()).isEmpty();
    // A damaged record does not keep the others from resuming; it stays for inspection.
    s.create("vol-1", 5, 1 << 20, GIB);
    RebuildReplica other = cmd.toBuilder().setVolumeId("vol-2").build();
    s.recordRebuild(other);
    Path damaged = dir.resolve("replicas/vol-1/rebuild.cmd");
    Files.write(damaged, new byte[] {(byte) 0xff, 1, 2});
    assertThat(ReplicaStore.open(dir).unfinishedRebuilds()).containsExactly(other);
    assertThat(damaged).exists();
  }

  @Test
  void deleteIsIdempotentAndALostReplicaIsReportedMissingAfterReopening() throws Exception {
    ReplicaStore s = ReplicaStore.open(dir);
    s.create("vol-1", 1, 1 << 20, GIB);
    s.create("vol-2", 1, 1 << 20, GIB);
    assertThat(s.delete("vol-1", 1).ok()).isTrue();
    assertThat(s.delete("vol-1", 1).message()).contains("already deleted");
    Path meta = dir.resolve("replicas/vol-2/replica.meta");
    Files.delete(meta);
    ReplicaInventory inv = ReplicaStore.open(dir).inventory(0);
    assertThat(inv.getReplicasList()).isEmpty();
    assertThat(inv.getMissingList()).extracting(m -> m.getVolumeId()).containsExactly("vol-2");
  }

  @Test
  void commandsAreAppliedOnceAndTheResultSurvivesARestart() {
    ReplicaStore s = ReplicaStore.open(dir);
    NodeCommand create =
        NodeCommand.newBuilder()
            .setCommandId("c1")
            .setCreateReplica(
                CreateReplica.newBuilder().setVolumeId("vol-1").setEpoch(1).setSizeBytes(10))
            .build();
    CommandResult first;
    try (AppliedCommands a = AppliedCommands.open(dir)) {
      CommandExecutor ex = new CommandExecutor(s, a, GIB);
      CommandExecutor.Applied r = ex.apply(create);
      assertThat(r.fresh()).isTrue();
      first = r.result();
      s.delete("vol-1", 1); // if c1 were applied again, vol-1 would come back
    }
    try (AppliedCommands a = AppliedCommands.open(dir)) {
      CommandExecutor ex = new CommandExecutor(s, a, GIB);
      CommandExecutor.Applied again = ex.apply(create);
      assertThat(again.fresh()).isFalse();
      assertThat(again.result()).isEqualTo(first);
      assertThat(s.count()).isZero();
      CommandResult rebuild =
          ex.apply(
                  NodeCommand.newBuilder()
                      .setCommandId("c2")
                      .setRebuildReplica(RebuildReplica.newBuilder().setVolumeId("vol-1"))
                      .build())
              .result();
      assertThat(rebuild.getOk()).isFalse();
      assertThat(rebuild.getMessage()).contains("not supported by this agent version yet");
    }
  }

  @Test
  void aTornLastLogLineIsIgnored() throws Exception {
    try (AppliedCommands a = AppliedCommands.open(dir)) {
      a.record(CommandResult.newBuilder().setCommandId("c1").setOk(true).setMessage("m").build());
    }
    Files.writeString(
        dir.resolve("state/applied-commands.log"),
        "c2\t1",
        java.nio.file.StandardOpenOption.APPEND);
    try (AppliedCommands a = AppliedCommands.open(dir)) {
      assertThat(a.get("c1")).isPresent();
      assertThat(a.get("c2")).isEmpty();
      a.record(CommandResult.newBuilder().setCommandId("c3").setOk(true).build());
    }
    try (AppliedCommands a = AppliedCommands.open(dir)) {
      assertThat(a.get("c3")).isPresent();
      assertThat(a.size()).isEqualTo(2);
    }
  }

  @Test
  void theAgentAcceptsWhatThePlacementCountedUnderOvercommitAndNoMore() {
    ReplicaStore s = ReplicaStore.open(dir);
    try (AppliedCommands a = AppliedCommands.open(dir)) {
      CommandExecutor ex = new CommandExecutor(s, a, GIB);
      // 1.5 GiB on 1 GiB raw: refused without the placement's limit, accepted with ratio 2's.
      assertThat(ex.apply(create("o1", "big", 3 * GIB / 2, 0)).result().getMessage())
          .contains("insufficient capacity");
      assertThat(ex.apply(create("o2", "big", 3 * GIB / 2, 2 * GIB)).result().getOk()).isTrue();
      // The limit counts every replica on the disk: 0.5 GiB more fits, 1 byte beyond does not.
      assertThat(ex.apply(create("o3", "half", GIB / 2, 2 * GIB)).result().getOk()).isTrue();
      assertThat(ex.apply(create("o4", "one", 1, 2 * GIB)).result().getMessage())
          .contains("insufficient capacity");
      // A limit below the agent's own capacity does not shrink it; one above 10x is capped.
      assertThat(ex.acceptedCapacity(GIB / 4)).isEqualTo(GIB);
      assertThat(ex.acceptedCapacity(100 * GIB)).isEqualTo(10 * GIB);
    }
  }

  private static NodeCommand create(String id, String volume, long size, long limit) {
    return NodeCommand.newBuilder()
        .setCommandId(id)
        .setCreateReplica(
            CreateReplica.newBuilder()
                .setVolumeId(volume)
                .setEpoch(1)
                .setSizeBytes(size)
                .setCapacityLimitBytes(limit))
        .build();
  }
}
