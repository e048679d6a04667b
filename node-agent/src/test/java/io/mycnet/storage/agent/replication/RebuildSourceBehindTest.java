package io.mycnet.storage.agent.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.agent.frontend.FrontendAgents;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.ConsistencyLevel;
import io.mycnet.storage.api.v1.RebuildReplica;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaReport;
import io.mycnet.storage.api.v1.ReplicaState;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rebuild whose source cannot deliver copies from the primary instead of asking that source
 * forever: a source counted healthy that never reaches the write the primary had numbered at the
 * attach point (an EVENTUAL follower that missed the last writes of a primary that died, with no
 * write since to find the gap), and a source whose agent is gone. Real agents: replica stores on
 * disk, data ports with mutual TLS on loopback.
 */
class RebuildSourceBehindTest {
  @TempDir Path dir;
  FrontendAgents agents;

  @BeforeEach
  void start() throws Exception {
    agents = new FrontendAgents(dir, "n1", "n2", "n3");
  }

  @AfterEach
  void stop() {
    agents.close();
  }

  private AssignReplica eventual(AssignReplica a) {
    return a.toBuilder().setConsistency(ConsistencyLevel.CONSISTENCY_LEVEL_EVENTUAL).build();
  }

  @Test
  void aSourceBehindTheAttachPointIsLeftForThePrimary() throws Exception {
    // n1 alone takes writes 1..5: n1's write order is at 5.
    ReplicatedVolume primary =
        agents.agent("n1").replica(eventual(agents.assignment(1, "n1", List.of("n1"))));
    byte[] data = new byte[(int) FrontendAgents.SIZE];
    new Random(17).nextBytes(data);
    for (int i = 0; i < 5; i++) {
      int off = i * 200_704;
      byte[] part = java.util.Arrays.copyOfRange(data, off, off + 65_536);
      assertThat(primary.primaryWrite(off, part, 0).sequence()).isEqualTo(i + 1);
    }
    // Epoch 2: n2 is a healthy member that applied none of them, n3 is being rebuilt from n2.
    AssignReplica.Builder b = eventual(agents.assignment(2, "n1", List.of("n1", "n2"))).toBuilder();
    b.addPeers(
        ReplicaMember.newBuilder()
            .setNodeId("n3")
            .setAddress(agents.agent("n3").address())
            .setState(ReplicaState.REPLICA_STATE_REBUILDING));
    AssignReplica two = b.build();
    primary.assign(two);
    agents.agent("n2").replica(two);
    ReplicatedVolume target = agents.agent("n3").replica(two);

    List<ReplicaReport> reports = agents.reports;
    Rebuilder rebuilder =
        new Rebuilder(
            target,
            RebuildReplica.newBuilder()
                .setVolumeId(FrontendAgents.VOLUME)
                .setEpoch(2)
                .setSizeBytes(FrontendAgents.SIZE)
                .setSourceNodeId("n2")
                .setSourceAddress(agents.agent("n2").address())
                .build(),
            agents.agent("n3").peers,
            new Rebuilder.RateLimiter(0),
            agents.agent("n3").context);
    target.rebuild = rebuilder;
    Thread t = new Thread(rebuilder, "rebuild");
    t.start();
    try {
      // n2 waits 10 s for write 5, answers that it has not applied it; the copy goes on from n1.
      await()
          .atMost(Duration.ofSeconds(40))
          .until(
              () ->
                  reports.stream()
                      .anyMatch(r -> r.getKind() == ReplicaReport.Kind.REBUILD_COMPLETE));
    } finally {
      rebuilder.cancel();
      t.join(10_000);
    }
    assertThat(rebuilder.source()).isEqualTo("n1");
    assertThat(reports)
        .anySatisfy(
            r -> {
              assertThat(r.getKind()).isEqualTo(ReplicaReport.Kind.REBUILD_FAILED);
              assertThat(r.getNodeId()).isEmpty(); // n2 is not named missing: it exists
              assertThat(r.getMessage()).contains(ReplicatedVolume.NOT_APPLIED + " 5");
            });
    assertThat(target.replica().read(0, (int) FrontendAgents.SIZE))
        .isEqualTo(primary.replica().read(0, (int) FrontendAgents.SIZE));
  }

  @Test
  void aSourceThatCannotBeReachedIsLeftForThePrimary() throws Exception {
    // n1 and n2 hold writes 1..5 (STRONG: both applied every one).
    AssignReplica one = agents.assignment(1, "n1", List.of("n1", "n2"));
    ReplicatedVolume primary = agents.agent("n1").replica(one);
    ReplicatedVolume follower = agents.agent("n2").replica(one);
    byte[] data = new byte[(int) FrontendAgents.SIZE];
    new Random(23).nextBytes(data);
    for (int i = 0; i < 5; i++) {
      int off = i * 200_704;
      primary.primaryWrite(off, java.util.Arrays.copyOfRange(data, off, off + 65_536), 0);
    }
    assertThat(follower.replica().read(0, (int) FrontendAgents.SIZE))
        .isEqualTo(primary.replica().read(0, (int) FrontendAgents.SIZE));
    // Epoch 2: n3 is being rebuilt from n2, whose agent is gone (its data port closed).
    AssignReplica.Builder b = agents.assignment(2, "n1", List.of("n1", "n2")).toBuilder();
    b.addPeers(
        ReplicaMember.newBuilder()
            .setNodeId("n3")
            .setAddress(agents.agent("n3").address())
            .setState(ReplicaState.REPLICA_STATE_REBUILDING));
    AssignReplica two = b.build();
    primary.assign(two);
    follower.assign(two);
    ReplicatedVolume target = agents.agent("n3").replica(two);
    String gone = agents.agent("n2").address();
    agents.agent("n2").stopPort();

    List<ReplicaReport> reports = agents.reports;
    Rebuilder rebuilder =
        new Rebuilder(
            target,
            RebuildReplica.newBuilder()
                .setVolumeId(FrontendAgents.VOLUME)
                .setEpoch(2)
                .setSizeBytes(FrontendAgents.SIZE)
                .setSourceNodeId("n2")
                .setSourceAddress(gone)
                .build(),
            agents.agent("n3").peers,
            new Rebuilder.RateLimiter(0),
            agents.agent("n3").context);
    target.rebuild = rebuilder;
    Thread t = new Thread(rebuilder, "rebuild");
    t.start();
    try {
      await()
          .atMost(Duration.ofSeconds(40))
          .until(
              () ->
                  reports.stream()
                      .anyMatch(r -> r.getKind() == ReplicaReport.Kind.REBUILD_COMPLETE));
    } finally {
      rebuilder.cancel();
      t.join(10_000);
    }
    assertThat(rebuilder.source()).isEqualTo("n1");
    assertThat(rebuilder.ended()).isTrue();
    // Each attempt that could not reach n2 was reported, without naming n2 missing: it may be back.
    assertThat(
            reports.stream().filter(r -> r.getKind() == ReplicaReport.Kind.REBUILD_FAILED).toList())
        .hasSizeGreaterThanOrEqualTo(Rebuilder.MAX_SOURCE_FAILURES)
        .allSatisfy(r -> assertThat(r.getNodeId()).isEmpty());
    assertThat(target.replica().read(0, (int) FrontendAgents.SIZE))
        .isEqualTo(primary.replica().read(0, (int) FrontendAgents.SIZE));
  }
}
