package io.mycnet.storage.operator.reconciler.storagepool;

import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.StoragePoolStatus;
import io.mycnet.storage.operator.allocation.NodeSnapshot;
import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.pool.PoolDefinition;
import io.mycnet.storage.operator.reconciler.CommonReason;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import io.mycnet.storage.operator.reconciler.Quantities;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Builds a {@link StoragePoolStatus} from the pool's definition and the nodes it selects. */
final class StoragePoolStatusFactory {
  static final String TOPOLOGY_CONFORMS = "TopologyConforms";
  private static final int MAX_LISTED = 5;

  private final Conditions conditions;

  StoragePoolStatusFactory(Conditions conditions) {
    this.conditions = conditions;
  }

  /** The status of a valid pool over its member nodes. */
  StoragePoolStatus valid(StoragePool pool, PoolDefinition def, List<NodeSnapshot> members) {
    StoragePoolStatus s = copyOf(pool);
    Map<String, Integer> byState = new TreeMap<>();
    Map<String, Integer> byTier = new TreeMap<>();
    long capacity = 0;
    long used = 0;
    int up = 0;
    List<String> nonConforming = new ArrayList<>();
    for (NodeSnapshot n : members) {
      String state = n.record().getState().name().replace("NODE_STATE_", "");
      byState.merge(state, 1, Integer::sum);
      byTier.merge(n.tier().name(), 1, Integer::sum);
      capacity += n.record().getCapacityBytes();
      used += n.reservedBytes();
      if ("UP".equals(state)) {
        up++;
      }
      if (!conforms(n.record().getTopologyPath(), def.hierarchyLevels())) {
        nonConforming.add(n.nodeId() + " (" + n.record().getTopologyPath() + ")");
      }
    }
    s.setNodes(members.size());
    s.setNodesByState(byState);
    s.setNodesByTier(byTier);
    s.setCapacityBytes(capacity);
    s.setUsedBytes(used);
    s.setCapacity(Quantities.format(capacity));
    s.setUsed(Quantities.format(used));
    Long gen = pool.getMetadata().getGeneration();
    s.setObservedGeneration(gen);
    s.setConditions(
        conditions.set(
            s.getConditions(),
            Conditions.READY,
            true,
            members.isEmpty() ? StoragePoolReason.NO_NODES : StoragePoolReason.ACTIVE,
            members.isEmpty()
                ? "the node selector matches no registered node yet"
                : members.size()
                    + " nodes ("
                    + up
                    + " UP), "
                    + Quantities.format(capacity)
                    + " raw, "
                    + Quantities.format(used)
                    + " reserved",
            gen));
    s.setConditions(
        conditions.set(
            s.getConditions(),
            TOPOLOGY_CONFORMS,
            nonConforming.isEmpty(),
            nonConforming.isEmpty()
                ? StoragePoolReason.ALL_NODES_CONFORM
                : StoragePoolReason.LEVELS_MISMATCH,
            nonConforming.isEmpty()
                ? "every node's topology path has the levels " + def.hierarchyLevels()
                : nonConforming.size()
                    + " nodes' topology paths do not have the levels "
                    + def.hierarchyLevels()
                    + ": "
                    + String.join(
                        ", ", nonConforming.subList(0, Math.min(MAX_LISTED, nonConforming.size())))
                    + (nonConforming.size() > MAX_LISTED ? ", ..." : ""),
            gen));
    return s;
  }

  /** The status of a pool whose spec is invalid: what was observed stays, Ready says why. */
  StoragePoolStatus invalid(StoragePool pool, InvalidFieldException e, boolean previousInForce) {
    StoragePoolStatus s = copyOf(pool);
    Long gen = pool.getMetadata().getGeneration();
    s.setObservedGeneration(gen);
    s.setConditions(
        conditions.set(
            s.getConditions(),
            Conditions.READY,
            false,
            CommonReason.INVALID_SPEC,
            e.getMessage()
                + (previousInForce
                    ? "; the last valid spec of this pool stays in force"
                    : "; the pool is not used until this is fixed"),
            gen));
    return s;
  }

  private static boolean conforms(String path, List<String> levels) {
    try {
      TopologyPath p = TopologyPath.parse(path);
      if (p.depth() != levels.size()) {
        return false;
      }
      for (int i = 0; i < levels.size(); i++) {
        if (!p.segments().get(i).level().equals(levels.get(i))) {
          return false;
        }
      }
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static StoragePoolStatus copyOf(StoragePool pool) {
    StoragePoolStatus old = pool.getStatus();
    StoragePoolStatus s = new StoragePoolStatus();
    if (old != null) {
      s.setNodes(old.getNodes());
      s.setNodesByState(old.getNodesByState());
      s.setNodesByTier(old.getNodesByTier());
      s.setCapacityBytes(old.getCapacityBytes());
      s.setUsedBytes(old.getUsedBytes());
      s.setCapacity(old.getCapacity());
      s.setUsed(old.getUsed());
      s.setConditions(old.getConditions());
    }
    return s;
  }
}
