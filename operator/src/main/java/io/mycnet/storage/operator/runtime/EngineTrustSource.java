package io.mycnet.storage.operator.runtime;

import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.trust.NodeTrustRecord;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvaluator;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.util.Optional;

/**
 * The trust engine as the allocation code's {@link NodeTrustSource}: the tier the engine last
 * committed for the node and its score under the policy in force, computed from a snapshot of the
 * node's evidence without committing anything.
 */
public final class EngineTrustSource implements NodeTrustSource {
  private final TrustEngine engine;
  private volatile TrustEvaluator evaluator;

  public EngineTrustSource(TrustEngine engine) {
    this.engine = engine;
  }

  @Override
  public NodeTrust trustOf(String nodeId) {
    Optional<NodeTrustRecord> r = engine.snapshot(nodeId);
    if (r.isEmpty()) {
      return NodeTrust.UNKNOWN;
    }
    return new NodeTrust(engine.tier(nodeId), evaluator().score(r.get()));
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
