package io.mycnet.storage.operator.store;

/**
 * A guard every transaction of a fenced {@link KeyValueStore} carries: {@code key} must exist with
 * exactly this create revision (the leadership key of the current leader's term), so a deposed
 * leader's writes fail instead of landing.
 */
public record Fence(String key, long createRevision) {
  /** Set on a control plane that is not (or no longer) the leader: nothing it writes lands. */
  public static Fence notLeader(String key) {
    return new Fence(key, -1);
  }

  public boolean isNotLeader() {
    return createRevision < 0;
  }
}
