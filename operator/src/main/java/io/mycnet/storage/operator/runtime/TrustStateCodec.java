package io.mycnet.storage.operator.runtime;

import io.mycnet.storage.api.v1.NodeTrustState;
import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.trust.NodeTrustRecord;
import io.mycnet.storage.operator.trust.TierLimit;
import io.mycnet.storage.operator.wire.ProtoMapping;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A node's trust record in its stored form, {@code NodeTrustState} (trust.proto), and back. The
 * mapping is exact: {@code fromProto(toProto(s)).equals(s)}. Factors without any event are left
 * out, so a node's record is a few hundred bytes.
 */
public final class TrustStateCodec {
  /** The schema this build writes and reads. */
  public static final int SCHEMA_VERSION = 1;

  private static final int N = TrustFactor.values().length;

  private TrustStateCodec() {}

  public static NodeTrustState toProto(NodeTrustRecord.State s) {
    NodeTrustState.Builder b =
        NodeTrustState.newBuilder().setSchemaVersion(SCHEMA_VERSION).setNodeId(s.nodeId());
    double[] alpha = s.alpha();
    double[] beta = s.beta();
    long[] events = s.events();
    double[] latest = s.latest();
    for (TrustFactor f : TrustFactor.values()) {
      int i = f.ordinal();
      if (events[i] == 0 && alpha[i] == 0 && beta[i] == 0 && Double.isNaN(latest[i])) {
        continue;
      }
      b.addFactors(
          NodeTrustState.Factor.newBuilder()
              .setFactor(ProtoMapping.toProto(f))
              .setAlpha(alpha[i])
              .setBeta(beta[i])
              .setEvents(events[i])
              .setLatest(latest[i]));
    }
    if (s.firstSeen() != null) {
      b.setFirstSeen(time(s.firstSeen()));
    }
    if (s.lastEvidenceAt() != null) {
      b.setLastEvidenceAt(time(s.lastEvidenceAt()));
    }
    if (s.releasedAt() != null) {
      b.setReleasedAt(time(s.releasedAt()));
    }
    b.setAuditsPassedSinceVetting(s.auditsPassedSinceVetting())
        .setVetted(s.vetted())
        .setHasScoreTier(s.scoreTier() != null)
        .setTier(tier(s.tier()))
        .setScore(s.score())
        .setGateKnown(s.gateKnown())
        .setGatePassed(s.gatePassed())
        .setQuarantined(s.quarantined())
        .setAssessed(s.assessed());
    if (s.scoreTier() != null) {
      b.setScoreTier(tier(s.scoreTier()));
    }
    for (TierLimit l : s.limits()) {
      b.addLimits(
          NodeTrustState.Limit.newBuilder()
              .setKind(NodeTrustState.Limit.Kind.valueOf("KIND_" + l.kind().name()))
              .setCap(tier(l.cap()))
              .setField(l.field()));
    }
    return b.build();
  }

  /**
   * The record a stored state describes.
   *
   * @throws IllegalArgumentException when the state is of an unknown schema, names an unknown
   *     factor, tier or rule, or holds values no record can have; the message names the field
   */
  public static NodeTrustRecord.State fromProto(NodeTrustState p) {
    String node = p.getNodeId();
    if (p.getSchemaVersion() != SCHEMA_VERSION) {
      throw new IllegalArgumentException(
          "trust state of '"
              + node
              + "' has schema_version "
              + p.getSchemaVersion()
              + "; this build reads "
              + SCHEMA_VERSION);
    }
    double[] alpha = new double[N];
    double[] beta = new double[N];
    long[] events = new long[N];
    double[] latest = new double[N];
    Arrays.fill(latest, Double.NaN);
    boolean[] seen = new boolean[N];
    for (NodeTrustState.Factor f : p.getFactorsList()) {
      TrustFactor factor;
      try {
        factor = ProtoMapping.fromProto(f.getFactor());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "trust state of '" + node + "': factors: " + e.getMessage(), e);
      }
      int i = factor.ordinal();
      if (seen[i]) {
        throw new IllegalArgumentException(
            "trust state of '" + node + "': factor " + factor + " appears twice");
      }
      seen[i] = true;
      alpha[i] = f.getAlpha();
      beta[i] = f.getBeta();
      events[i] = f.getEvents();
      latest[i] = f.getLatest();
    }
    List<TierLimit> limits = new ArrayList<>(p.getLimitsCount());
    for (NodeTrustState.Limit l : p.getLimitsList()) {
      if (l.getKind() == NodeTrustState.Limit.Kind.KIND_UNSPECIFIED
          || l.getKind() == NodeTrustState.Limit.Kind.UNRECOGNIZED) {
        throw new IllegalArgumentException(
            "trust state of '" + node + "': limits.kind " + l.getKind() + " is not a rule");
      }
      limits.add(
          new TierLimit(
              TierLimit.Kind.valueOf(l.getKind().name().substring("KIND_".length())),
              tier(node, "limits.cap", l.getCap()),
              l.getField()));
    }
    return new NodeTrustRecord.State(
        node,
        alpha,
        beta,
        events,
        latest,
        p.hasFirstSeen() ? instant(p.getFirstSeen()) : null,
        p.hasLastEvidenceAt() ? instant(p.getLastEvidenceAt()) : null,
        p.hasReleasedAt() ? instant(p.getReleasedAt()) : null,
        p.getAuditsPassedSinceVetting(),
        p.getVetted(),
        p.getHasScoreTier() ? tier(node, "score_tier", p.getScoreTier()) : null,
        tier(node, "tier", p.getTier()),
        p.getScore(),
        p.getGateKnown(),
        p.getGatePassed(),
        p.getQuarantined(),
        p.getAssessed(),
        limits);
  }

  private static NodeTrustState.Time time(Instant t) {
    return NodeTrustState.Time.newBuilder()
        .setSeconds(t.getEpochSecond())
        .setNanos(t.getNano())
        .build();
  }

  private static Instant instant(NodeTrustState.Time t) {
    return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
  }

  private static NodeTrustState.Tier tier(TrustTier t) {
    return NodeTrustState.Tier.valueOf("TIER_" + t.name());
  }

  private static TrustTier tier(String node, String field, NodeTrustState.Tier t) {
    if (t == NodeTrustState.Tier.TIER_UNSPECIFIED || t == NodeTrustState.Tier.UNRECOGNIZED) {
      throw new IllegalArgumentException(
          "trust state of '" + node + "': " + field + " " + t + " is not a tier");
    }
    return TrustTier.valueOf(t.name().substring("TIER_".length()));
  }
}
