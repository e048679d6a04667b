package io.mycnet.storage.operator.placement;

import java.util.List;
import java.util.Map;

/**
 * A dry run's answer: what a new view or policy would move, with nothing moved.
 *
 * @param volumes allocations examined
 * @param volumesChanged allocations whose replica set would change
 * @param replicasAdded new replicas to copy
 * @param replicasRemoved replicas to drop once the copies are in
 * @param bytesMoved bytes to copy ({@code replicasAdded} times each volume's size)
 * @param bytesInByNode bytes each node would receive
 * @param bytesOutByNode bytes each node would give up
 * @param moves per changed volume: replicas leaving and arriving
 * @param unplaceable volumes that could not be placed at all under the new view, with why
 */
public record MovementReport(
    int volumes,
    int volumesChanged,
    long replicasAdded,
    long replicasRemoved,
    long bytesMoved,
    Map<String, Long> bytesInByNode,
    Map<String, Long> bytesOutByNode,
    List<VolumeMove> moves,
    Map<String, String> unplaceable) {

  public MovementReport {
    bytesInByNode = Map.copyOf(bytesInByNode);
    bytesOutByNode = Map.copyOf(bytesOutByNode);
    moves = List.copyOf(moves);
    unplaceable = Map.copyOf(unplaceable);
  }

  /** One volume's change. */
  public record VolumeMove(String volumeId, List<String> from, List<String> to, long bytes) {
    public VolumeMove {
      from = List.copyOf(from);
      to = List.copyOf(to);
    }
  }

  public String summary() {
    return replicasAdded
        + " replica(s) of "
        + volumesChanged
        + " of "
        + volumes
        + " volume(s) would move ("
        + PlacementExplainer.bytes(bytesMoved)
        + "), "
        + replicasRemoved
        + " dropped after copy"
        + (unplaceable.isEmpty() ? "" : ", " + unplaceable.size() + " volume(s) unplaceable");
  }
}
