package io.mycnet.storage.operator.placement;

import io.mycnet.storage.operator.model.ReplicationStrategy;
import java.util.List;

/**
 * The outcome of one placement: the replica set, or why there is none.
 *
 * @param volumeId the volume placed
 * @param strategy the strategy used
 * @param replicas node ids holding the replicas: kept replicas first, then new ones in the order
 *     chosen (empty when placement failed)
 * @param added the new replicas only (those not in {@code keepReplicas})
 * @param spreadLevel the level at which the replicas are guaranteed to be in distinct domains (e.g.
 *     {@code zone}; {@code node} means distinct nodes only)
 * @param fellBack true when {@code spreadLevel} is below the requested anti-affinity level because
 *     too few domains at that level have eligible nodes
 * @param minTrustScore the lowest trust score among the replicas (NaN when failed)
 * @param notes human-readable remarks (fallbacks, relaxed rules, locality)
 * @param failure null on success; otherwise what went wrong and what would fix it
 */
public record PlacementResult(
    String volumeId,
    ReplicationStrategy strategy,
    List<String> replicas,
    List<String> added,
    String spreadLevel,
    boolean fellBack,
    double minTrustScore,
    List<String> notes,
    PlacementFailure failure) {

  public PlacementResult {
    replicas = List.copyOf(replicas);
    added = List.copyOf(added);
    notes = List.copyOf(notes);
  }

  static PlacementResult failed(
      String volumeId, ReplicationStrategy strategy, PlacementFailure failure) {
    return new PlacementResult(
        volumeId, strategy, List.of(), List.of(), null, false, Double.NaN, List.of(), failure);
  }

  /** True when every replica found a node. */
  public boolean placed() {
    return failure == null;
  }

  /** The failure message, or a one-line summary of the placement. */
  public String message() {
    if (failure != null) {
      return failure.message();
    }
    String s =
        "placed "
            + replicas.size()
            + (replicas.size() == 1 ? " replica of " : " replicas of ")
            + volumeId
            + " on "
            + String.join(", ", replicas)
            + " (distinct "
            + spreadLevel
            + "s)";
    return notes.isEmpty() ? s : s + "; " + String.join("; ", notes);
  }
}
