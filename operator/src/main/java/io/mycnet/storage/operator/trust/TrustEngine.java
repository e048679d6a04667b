package io.mycnet.storage.operator.trust;

import io.mycnet.storage.operator.model.TrustTier;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The trust engine: holds one {@link NodeTrustRecord} per node, takes evidence as it happens, keeps
 * every node's tier current and reports each change of tier as a {@link TierTransition}.
 *
 * <p>Every operation that can change a tier re-assesses the affected nodes at the injected clock's
 * current instant, commits the result (the tier, and the state hysteresis, vetting and quarantine
 * remember) and returns the transitions it caused, which are also passed to every registered
 * listener, after the state is committed, in node-id order. Time comes only from the clock and
 * nodes are kept sorted by id, so the same evidence, policy and clock give the same assessments and
 * transitions.
 *
 * <p>Evidence only moves the node it is about, so {@link #record} re-assesses that node alone. Time
 * alone can change a tier too (vetting's minimum age), so the caller should also run {@link
 * #reassessAll()} periodically (e.g. every heartbeat interval). Methods are synchronized: the
 * engine can be shared by the gRPC report stream and the reconcilers.
 */
public final class TrustEngine {
  private final Clock clock;
  private final TreeMap<String, NodeTrustRecord> nodes = new TreeMap<>();
  private final List<Consumer<TierTransition>> listeners = new CopyOnWriteArrayList<>();
  private TrustPolicy policy;
  private TrustEvaluator evaluator;

  public TrustEngine(TrustPolicy policy, Clock clock) {
    this.policy = Objects.requireNonNull(policy, "policy");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.evaluator = new TrustEvaluator(policy);
  }

  /** Registers a listener for every tier transition (called synchronously, after commit). */
  public void addTransitionListener(Consumer<TierTransition> listener) {
    listeners.add(Objects.requireNonNull(listener, "listener"));
  }

  public synchronized TrustPolicy policy() {
    return policy;
  }

  /**
   * Records one piece of evidence and re-assesses its node.
   *
   * @return the transition it caused, if any (at most one)
   */
  public List<TierTransition> record(TrustEvidence evidence) {
    List<TierTransition> out;
    synchronized (this) {
      NodeTrustRecord r = nodes.computeIfAbsent(evidence.nodeId(), NodeTrustRecord::create);
      r.apply(evidence, policy);
      out = new ArrayList<>(1);
      reassess(r, clock.instant(), null, out);
    }
    return deliver(out);
  }

  /** Records evidence in order, re-assessing each affected node once at the end. */
  public List<TierTransition> recordAll(Iterable<? extends TrustEvidence> evidence) {
    List<TierTransition> out = new ArrayList<>();
    synchronized (this) {
      TreeMap<String, NodeTrustRecord> touched = new TreeMap<>();
      for (TrustEvidence e : evidence) {
        NodeTrustRecord r = nodes.computeIfAbsent(e.nodeId(), NodeTrustRecord::create);
        r.apply(e, policy);
        touched.put(r.nodeId(), r);
      }
      Instant now = clock.instant();
      for (NodeTrustRecord r : touched.values()) {
        reassess(r, now, null, out);
      }
    }
    return deliver(out);
  }

  /**
   * Assesses a node now, commits the result (a change of tier goes to the listeners) and returns
   * the assessment with its explanation.
   *
   * @throws IllegalArgumentException when no evidence was ever recorded for the node
   */
  public TrustAssessment assess(String nodeId) {
    List<TierTransition> out = new ArrayList<>(1);
    TrustAssessment a;
    synchronized (this) {
      a = reassess(require(nodeId), clock.instant(), null, out);
    }
    deliver(out);
    return a;
  }

  /** Re-assesses one node now; returns the transition, if any. */
  public List<TierTransition> reassess(String nodeId) {
    List<TierTransition> out = new ArrayList<>(1);
    synchronized (this) {
      reassess(require(nodeId), clock.instant(), null, out);
    }
    return deliver(out);
  }

  /** Re-assesses every node now, in node-id order; returns the transitions. */
  public List<TierTransition> reassessAll() {
    List<TierTransition> out = new ArrayList<>();
    synchronized (this) {
      Instant now = clock.instant();
      for (NodeTrustRecord r : nodes.values()) {
        reassess(r, now, null, out);
      }
    }
    return deliver(out);
  }

  /**
   * Replaces the policy and re-assesses every node under it. Evidence is kept (it is raw evidence,
   * not scores), and so is the hysteresis state: a node whose new score is within the hysteresis
   * band of a new threshold keeps its tier, so an unrelated policy edit does not move data. A
   * change that moves scores or thresholds further than that produces transitions, each reason
   * prefixed with "policy changed".
   */
  public List<TierTransition> applyPolicy(TrustPolicy newPolicy) {
    Objects.requireNonNull(newPolicy, "newPolicy");
    List<TierTransition> out = new ArrayList<>();
    synchronized (this) {
      if (newPolicy.equals(policy)) {
        return List.of();
      }
      policy = newPolicy;
      evaluator = new TrustEvaluator(newPolicy);
      Instant now = clock.instant();
      for (NodeTrustRecord r : nodes.values()) {
        reassess(r, now, "policy changed: ", out);
      }
    }
    return deliver(out);
  }

  /**
   * Forgets a node (it left the cluster). If it held a tier, the transition to NONE is returned so
   * that its data is evacuated.
   */
  public List<TierTransition> forget(String nodeId) {
    List<TierTransition> out = new ArrayList<>(1);
    synchronized (this) {
      NodeTrustRecord r = nodes.remove(nodeId);
      if (r != null && r.tier != TrustTier.NONE) {
        out.add(
            TierTransition.between(
                nodeId,
                r.tier,
                TrustTier.NONE,
                "node removed from the trust engine",
                clock.instant()));
      }
    }
    return deliver(out);
  }

  /** The node's tier at its last assessment; NONE for a node the engine does not know. */
  public synchronized TrustTier tier(String nodeId) {
    NodeTrustRecord r = nodes.get(nodeId);
    return r == null ? TrustTier.NONE : r.tier;
  }

  /** The node's score at its last assessment; 0 for a node the engine does not know. */
  public synchronized double score(String nodeId) {
    NodeTrustRecord r = nodes.get(nodeId);
    return r == null ? 0.0 : r.score;
  }

  /** Every known node's tier at its last assessment, by node id. */
  public synchronized Map<String, TrustTier> tiers() {
    TreeMap<String, TrustTier> out = new TreeMap<>();
    nodes.forEach((id, r) -> out.put(id, r.tier));
    return Collections.unmodifiableMap(out);
  }

  /** Whether the engine holds a record (evidence, or a restored record) for the node. */
  public synchronized boolean has(String nodeId) {
    return nodes.containsKey(nodeId);
  }

  /** The ids of every node with evidence, sorted. */
  public synchronized Set<String> nodeIds() {
    return Collections.unmodifiableSet(new java.util.TreeSet<>(nodes.keySet()));
  }

  /** A copy of a node's record, for inspection. */
  public synchronized Optional<NodeTrustRecord> snapshot(String nodeId) {
    NodeTrustRecord r = nodes.get(nodeId);
    return r == null ? Optional.empty() : Optional.of(r.copy());
  }

  /** Copies of every node's record, in node-id order, taken at one instant. */
  public synchronized List<NodeTrustRecord> snapshots() {
    List<NodeTrustRecord> out = new ArrayList<>(nodes.size());
    for (NodeTrustRecord r : nodes.values()) {
      out.add(r.copy());
    }
    return out;
  }

  /**
   * Puts records back that an earlier engine held (a restarted control plane restores what its
   * predecessor persisted): each replaces whatever this engine holds for its node, other nodes are
   * left alone. The records' committed tiers are taken as they are, so nothing is re-assessed and
   * no transition is reported; evidence recorded afterwards applies on top of them.
   */
  public void restore(Collection<NodeTrustRecord> records) {
    synchronized (this) {
      for (NodeTrustRecord r : records) {
        nodes.put(r.nodeId(), r.copy());
      }
    }
  }

  private NodeTrustRecord require(String nodeId) {
    NodeTrustRecord r = nodes.get(nodeId);
    if (r == null) {
      throw new IllegalArgumentException("no trust evidence recorded for node '" + nodeId + "'");
    }
    return r;
  }

  private TrustAssessment reassess(
      NodeTrustRecord r, Instant now, String reasonPrefix, List<TierTransition> out) {
    TrustTier before = r.tier;
    List<TierLimit> limitsBefore = r.limits;
    TrustAssessment a = evaluator.evaluate(r, now);
    r.commit(a, now);
    if (a.tier() != before) {
      String reason = a.explanation().reasonSince(limitsBefore);
      out.add(
          TierTransition.between(
              r.nodeId(),
              before,
              a.tier(),
              reasonPrefix == null ? reason : reasonPrefix + reason,
              now));
    }
    return a;
  }

  private List<TierTransition> deliver(List<TierTransition> out) {
    if (out.isEmpty()) {
      return List.of();
    }
    for (TierTransition t : out) {
      for (Consumer<TierTransition> l : listeners) {
        l.accept(t);
      }
    }
    return List.copyOf(out);
  }
}
