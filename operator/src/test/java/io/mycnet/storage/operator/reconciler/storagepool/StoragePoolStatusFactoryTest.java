package io.mycnet.storage.operator.reconciler.storagepool;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.StoragePoolSpec;
import io.mycnet.storage.crds.v1alpha1.StoragePoolStatus;
import io.mycnet.storage.operator.allocation.NodeSnapshot;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.pool.PoolDefinition;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import io.mycnet.storage.operator.reconciler.TestClock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StoragePoolStatusFactoryTest {
  private final TestClock clock = new TestClock();
  private final StoragePoolStatusFactory factory =
      new StoragePoolStatusFactory(new Conditions(clock));

  private static StoragePool pool(long generation) {
    StoragePool p = new StoragePool();
    p.setMetadata(new ObjectMetaBuilder().withName("edge").withGeneration(generation).build());
    p.setSpec(new StoragePoolSpec());
    return p;
  }

  private static NodeSnapshot node(String id, NodeState state, String path, long cap, long used) {
    NodeRecord r =
        NodeRecord.newBuilder()
            .setNodeId(id)
            .setState(state)
            .setTopologyPath(path)
            .setCapacityBytes(cap)
            .build();
    return new NodeSnapshot(r, used, 0, 0, TrustTier.STANDARD, 0.7);
  }

  private static Condition condition(StoragePoolStatus s, String type) {
    return Conditions.find(s.getConditions(), type).orElseThrow();
  }

  @Test
  void aPoolWithConformingMembersIsActiveAndSumsTheirCapacity() {
    StoragePool p = pool(3);
    PoolDefinition def = StoragePoolMapper.toDefinition(p);
    StoragePoolStatus s =
        factory.valid(
            p,
            def,
            List.of(
                node(
                    "n1", NodeState.NODE_STATE_UP, "region=eu/zone=a/rack=r1/node=n1", 1L << 30, 0),
                node(
                    "n2",
                    NodeState.NODE_STATE_DOWN,
                    "region=eu/zone=b/rack=r1/node=n2",
                    1L << 30,
                    1L << 29)));

    assertThat(s.getNodes()).isEqualTo(2);
    assertThat(s.getNodesByState()).isEqualTo(Map.of("UP", 1, "DOWN", 1));
    assertThat(s.getNodesByTier()).isEqualTo(Map.of("STANDARD", 2));
    assertThat(s.getCapacityBytes()).isEqualTo(2L << 30);
    assertThat(s.getUsedBytes()).isEqualTo(1L << 29);
    assertThat(s.getCapacity()).isEqualTo("2Gi");
    assertThat(s.getObservedGeneration()).isEqualTo(3L);
    Condition ready = condition(s, Conditions.READY);
    assertThat(ready.getStatus()).isEqualTo("True");
    assertThat(ready.getReason()).isEqualTo("Active");
    assertThat(ready.getMessage()).isEqualTo("2 nodes (1 UP), 2Gi raw, 512Mi reserved");
    assertThat(ready.getObservedGeneration()).isEqualTo(3L);
    Condition topo = condition(s, StoragePoolStatusFactory.TOPOLOGY_CONFORMS);
    assertThat(topo.getStatus()).isEqualTo("True");
    assertThat(topo.getReason()).isEqualTo("AllNodesConform");
  }

  @Test
  void aPoolWithoutMembersIsReadyWithNoNodes() {
    StoragePool p = pool(1);
    StoragePoolStatus s = factory.valid(p, StoragePoolMapper.toDefinition(p), List.of());

    assertThat(s.getNodes()).isZero();
    Condition ready = condition(s, Conditions.READY);
    assertThat(ready.getStatus()).isEqualTo("True");
    assertThat(ready.getReason()).isEqualTo("NoNodes");
  }

  @Test
  void membersWhosePathsLackThePoolsLevelsAreListed() {
    StoragePool p = pool(1);
    StoragePoolStatus s =
        factory.valid(
            p,
            StoragePoolMapper.toDefinition(p),
            List.of(
                node("n1", NodeState.NODE_STATE_UP, "region=eu/zone=a/node=n1", 1L << 30, 0),
                node("n2", NodeState.NODE_STATE_UP, "not a path", 1L << 30, 0),
                node("n3", NodeState.NODE_STATE_UP, "region=eu/zone=a/rack=r/node=n3", 1, 0)));

    Condition topo = condition(s, StoragePoolStatusFactory.TOPOLOGY_CONFORMS);
    assertThat(topo.getStatus()).isEqualTo("False");
    assertThat(topo.getReason()).isEqualTo("LevelsMismatch");
    assertThat(topo.getMessage())
        .startsWith("2 nodes' topology paths do not have the levels [region, zone, rack, node]")
        .contains("n1 (region=eu/zone=a/node=n1)", "n2 (not a path)")
        .doesNotContain("n3");
  }

  @Test
  void anInvalidSpecKeepsWhatWasObservedAndSaysWhetherTheLastValidSpecStays() {
    StoragePool p = pool(1);
    p.setStatus(
        factory.valid(
            p,
            StoragePoolMapper.toDefinition(p),
            List.of(node("n1", NodeState.NODE_STATE_UP, "region=eu/zone=a/rack=r/node=n1", 5, 0))));
    String since = condition(p.getStatus(), Conditions.READY).getLastTransitionTime();
    clock.advance(Duration.ofMinutes(5));
    p.getMetadata().setGeneration(2L);
    InvalidFieldException e =
        new InvalidFieldException("spec.hierarchyLevels", "must not be empty");

    StoragePoolStatus kept = factory.invalid(p, e, true);
    StoragePoolStatus unused = factory.invalid(p, e, false);

    assertThat(kept.getNodes()).isEqualTo(1);
    assertThat(kept.getCapacityBytes()).isEqualTo(5L);
    assertThat(kept.getObservedGeneration()).isEqualTo(2L);
    Condition ready = condition(kept, Conditions.READY);
    assertThat(ready.getStatus()).isEqualTo("False");
    assertThat(ready.getReason()).isEqualTo("InvalidSpec");
    assertThat(ready.getMessage())
        .isEqualTo(
            "spec.hierarchyLevels: must not be empty; the last valid spec of this pool stays in"
                + " force");
    assertThat(ready.getLastTransitionTime()).isNotEqualTo(since).isEqualTo("2026-01-01T00:05:00Z");
    assertThat(condition(unused, Conditions.READY).getMessage())
        .endsWith("; the pool is not used until this is fixed");
    // The condition that did not change keeps its transition time.
    assertThat(condition(kept, StoragePoolStatusFactory.TOPOLOGY_CONFORMS).getLastTransitionTime())
        .isEqualTo(since);
  }
}
