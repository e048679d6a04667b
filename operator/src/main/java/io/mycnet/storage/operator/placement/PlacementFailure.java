package io.mycnet.storage.operator.placement;

import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Why a placement failed, for people (the {@link #message}, written to a claim's status) and for
 * programs (the counts).
 *
 * @param kind which rule could not be met
 * @param message a complete sentence naming the real reasons with their counts and what would make
 *     the placement succeed
 * @param nodesConsidered nodes in the view
 * @param eligibleNodes nodes that passed every per-node rule (plus kept replicas)
 * @param requiredNodes replicas requested
 * @param rejections rejected nodes per reason; each node is counted under the first rule it fails
 * @param level for {@link Kind#NOT_ENOUGH_DOMAINS}, the level that lacked domains, else null
 * @param domainsAvailable for {@link Kind#NOT_ENOUGH_DOMAINS} the domains with eligible nodes; for
 *     {@link Kind#NOT_ENOUGH_OWNERS} the distinct owners; else -1
 * @param suggestions what would make it succeed, one change per entry
 */
public record PlacementFailure(
    Kind kind,
    String message,
    int nodesConsidered,
    int eligibleNodes,
    int requiredNodes,
    Map<RejectionReason, Integer> rejections,
    String level,
    int domainsAvailable,
    List<String> suggestions) {

  /** Which rule could not be met. */
  public enum Kind {
    /** Fewer nodes pass the per-node rules (pool, state, selector, trust, space) than replicas. */
    NOT_ENOUGH_ELIGIBLE_NODES,
    /** HARD anti-affinity: fewer domains at the required level have eligible nodes. */
    NOT_ENOUGH_DOMAINS,
    /** TRUST_DIVERSIFICATION: fewer distinct owners have eligible nodes than replicas. */
    NOT_ENOUGH_OWNERS,
    /** Enough nodes, domains and owners, but no combination satisfies every rule at once. */
    CONSTRAINTS_UNSATISFIABLE
  }

  public PlacementFailure {
    EnumMap<RejectionReason, Integer> copy = new EnumMap<>(RejectionReason.class);
    copy.putAll(rejections);
    rejections = Collections.unmodifiableMap(copy);
    suggestions = List.copyOf(suggestions);
  }

  /** Nodes rejected for {@code reason} (0 when none). */
  public int rejected(RejectionReason reason) {
    return rejections.getOrDefault(reason, 0);
  }
}
