package io.mycnet.storage.operator.placement;

import java.util.List;

/**
 * What to do about one event: rebuilds to start now (most urgent first), rebuilds held back by
 * throttling, and replicas that cannot be rebuilt.
 */
public record ReplicationPlan(
    String event,
    List<RebuildTask> scheduled,
    List<DeferredRebuild> deferred,
    List<UnplaceableRebuild> unplaceable) {

  public ReplicationPlan {
    scheduled = List.copyOf(scheduled);
    deferred = List.copyOf(deferred);
    unplaceable = List.copyOf(unplaceable);
  }

  /** Affected replicas in total. */
  public int affected() {
    return scheduled.size() + deferred.size() + unplaceable.size();
  }

  public String summary() {
    return event
        + ": "
        + affected()
        + " replica(s) affected, "
        + scheduled.size()
        + " rebuild(s) scheduled, "
        + deferred.size()
        + " deferred by throttling, "
        + unplaceable.size()
        + " cannot be rebuilt now";
  }
}
