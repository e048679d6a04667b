package io.mycnet.storage.operator.runtime;

import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.trust.NodeTrustRecord;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvaluator;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * The trust engine as the allocation code's {@link NodeTrustSource}: the tier the engine last
 * committed for the node and its score under the policy in force, computed from a snapshot of the
 * node's evidence without committing anything.
 *
 * <p>Until the engine holds what the previous leader persisted ({@code restored}), every node is
 * unknown: {@link #known} is false and {@link #trustOf} is {@link NodeTrust#UNKNOWN}, so no
 * decision is taken on trust that was not restored.
 */
public final class EngineTrustSource implements NodeTrustSource {
  private final TrustEngine engine;
  private final BooleanSupplier restored;
  private volatile TrustEvaluator evaluator;

  /** A source over an engine that needs no restoring (its evidence is all in memory). */
  public EngineTrustSource(TrustEngine engine) {
    this(engine, () -> true);
  }

  /**
   * @param restored whether the engine has been restored from the persisted evidence
   */
  public EngineTrustSource(TrustEngine engine, BooleanSupplier restored) {
    this.engine = engine;
    this.restored = restored;
  }

  @Override
  public NodeTrust trustOf(String nodeId) {
    if (!restored.getAsBoolean()) {
      return NodeTrust.UNKNOWN;
    }
    Optional<NodeTrustRecord> r = engine.snapshot(nodeId);
    if (r.isEmpty()) {
      return NodeTrust.UNKNOWN;
    }
    return new NodeTrust(r.get().tier(), evaluator().score(r.get()));
  }

  @Override
  public boolean known(String nodeId) {
    return restored.getAsBoolean() && engine.has(nodeId);
  }

  /** What {@code mycnet node explain} shows: the engine's assessment of the node now. */
  @Override
  public String explain(String nodeId) {
    if (!known(nodeId)) {
      return NodeTrustSource.super.explain(nodeId);
    }
    try {
      return engine.assess(nodeId).render();
    } catch (IllegalArgumentException e) {
      return NodeTrustSource.super.explain(nodeId);
    }
  }

  private TrustEvaluator evaluator() {
    TrustPolicy p = engine.policy();
    TrustEvaluator e = evaluator;
    if (e == null || e.policy() != p) {
      e = new TrustEvaluator(p);
      evaluator = e;
    }
    return e;
  }
}
