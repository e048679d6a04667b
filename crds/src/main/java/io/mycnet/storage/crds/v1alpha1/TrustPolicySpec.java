package io.mycnet.storage.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.List;

/**
 * The intent of a {@link TrustPolicy}: the trust engine's parameters. Every field is optional and
 * an unset one keeps the engine's default (given in each description; the reasons for them are in
 * the trust package documentation).
 */
public class TrustPolicySpec {
  /** A Go-style duration: 500ms, 15s, 10m, 24h, 1h30m. */
  public static final String DURATION_PATTERN = "^([0-9]+(ms|s|m|h))+$";

  @JsonProperty("default")
  @JsonPropertyDescription(
      "Marks the policy the control plane applies. With several defaults the oldest wins and the"
          + " others report Ready=False.")
  private Boolean defaultPolicy;

  @JsonPropertyDescription(
      "Raw weight of each factor (any numbers >= 0, normalised to sum 1). A factor left out keeps"
          + " its default weight.")
  private FactorWeights weights;

  @JsonPropertyDescription(
      "Score threshold of each tier; must decrease CRITICAL > SENSITIVE > STANDARD > PUBLIC."
          + " Defaults: 0.9, 0.7, 0.5, 0.1.")
  private TierThresholds thresholds;

  @JsonPropertyDescription(
      "Band around each threshold: a node moves up at threshold + hysteresis and down below"
          + " threshold - hysteresis. Less than half the smallest gap between thresholds."
          + " Default: 0.02.")
  @Min(0)
  @Max(0.5)
  private Double hysteresis;

  @JsonPropertyDescription(
      "Factor minimums per tier (a gate at a tier also holds at every tier above it). When set,"
          + " replaces the default gates (ENCRYPTION_COMPLIANCE >= 0.9 for CRITICAL and"
          + " SENSITIVE); an empty list removes every gate.")
  @Size(max = 32)
  private List<TrustGate> gates;

  @JsonPropertyDescription(
      "Uptime below which a node holds no data at all (tier NONE); 0 disables. Default: 0.8.")
  @Min(0)
  @Max(1)
  private Double minUptime;

  @JsonPropertyDescription("How new nodes are vetted before they may rise above STANDARD.")
  private Vetting vetting;

  @JsonPropertyDescription(
      "Per-event forgetting factor λ of every factor's evidence, in (0,1]. Default: 0.999.")
  @Min(value = 0, inclusive = false)
  @Max(1)
  private Double decay;

  @JsonPropertyDescription(
      "Largest share of the score the REPORTED factors may hold together. Default: 0.30.")
  @Min(0)
  @Max(1)
  private Double reportedFactorCap;

  @JsonPropertyDescription(
      "Integrity reputation below which a node is quarantined, in [0,1); 0 disables quarantine."
          + " Default: 0.975.")
  @Min(0)
  @Max(value = 1, inclusive = false)
  private Double quarantineThreshold;

  @JsonPropertyDescription(
      "Integrity reputation at which a quarantined node is released; above quarantineThreshold."
          + " Default: 0.9875.")
  @Min(0)
  @Max(1)
  private Double quarantineReleaseThreshold;

  @JsonPropertyDescription(
      "One-sided confidence level of the factors' lower confidence bound, in [0.5,1)."
          + " Default: 0.95.")
  @Min(0.5)
  @Max(value = 1, inclusive = false)
  private Double confidence;

  @JsonPropertyDescription("Round trip counted as fully good (e.g. 100ms). Default: 100ms.")
  @Pattern(DURATION_PATTERN)
  private String responseTimeGood;

  @JsonPropertyDescription(
      "Round trip counted as a failure; longer than responseTimeGood. Default: 1s.")
  @Pattern(DURATION_PATTERN)
  private String responseTimeBad;

  @JsonPropertyDescription(
      "Bytes served to peers in one accounting period that earn full network-contribution"
          + " credit, as a quantity (e.g. 256Mi). Default: 256Mi.")
  private Quantity networkTarget;

  @JsonPropertyDescription(
      "Which VERIFIED factors observe what a REPORTED factor claims. When set, replaces the"
          + " default (IO_PERFORMANCE corroborated by RESPONSE_TIME and CONSENSUS_PARTICIPATION).")
  @Size(max = 3)
  private List<Corroboration> corroboration;

  @JsonPropertyDescription(
      "How far a claim may exceed what corroborating factors observe. Default: 0.2.")
  @Min(0)
  @Max(1)
  private Double contradictionTolerance;

  @JsonPropertyDescription(
      "Observations a corroborating factor needs before it can contradict a claim. Default: 20.")
  @Min(0)
  private Integer contradictionMinEvidence;

  public Boolean getDefaultPolicy() {
    return defaultPolicy;
  }

  public void setDefaultPolicy(Boolean defaultPolicy) {
    this.defaultPolicy = defaultPolicy;
  }

  public FactorWeights getWeights() {
    return weights;
  }

  public void setWeights(FactorWeights weights) {
    this.weights = weights;
  }

  public TierThresholds getThresholds() {
    return thresholds;
  }

  public void setThresholds(TierThresholds thresholds) {
    this.thresholds = thresholds;
  }

  public Double getHysteresis() {
    return hysteresis;
  }

  public void setHysteresis(Double hysteresis) {
    this.hysteresis = hysteresis;
  }

  public List<TrustGate> getGates() {
    return gates;
  }

  public void setGates(List<TrustGate> gates) {
    this.gates = gates;
  }

  public Double getMinUptime() {
    return minUptime;
  }

  public void setMinUptime(Double minUptime) {
    this.minUptime = minUptime;
  }

  public Vetting getVetting() {
    return vetting;
  }

  public void setVetting(Vetting vetting) {
    this.vetting = vetting;
  }

  public Double getDecay() {
    return decay;
  }

  public void setDecay(Double decay) {
    this.decay = decay;
  }

  public Double getReportedFactorCap() {
    return reportedFactorCap;
  }

  public void setReportedFactorCap(Double reportedFactorCap) {
    this.reportedFactorCap = reportedFactorCap;
  }

  public Double getQuarantineThreshold() {
    return quarantineThreshold;
  }

  public void setQuarantineThreshold(Double quarantineThreshold) {
    this.quarantineThreshold = quarantineThreshold;
  }

  public Double getQuarantineReleaseThreshold() {
    return quarantineReleaseThreshold;
  }

  public void setQuarantineReleaseThreshold(Double quarantineReleaseThreshold) {
    this.quarantineReleaseThreshold = quarantineReleaseThreshold;
  }

  public Double getConfidence() {
    return confidence;
  }

  public void setConfidence(Double confidence) {
    this.confidence = confidence;
  }

  public String getResponseTimeGood() {
    return responseTimeGood;
  }

  public void setResponseTimeGood(String responseTimeGood) {
    this.responseTimeGood = responseTimeGood;
  }

  public String getResponseTimeBad() {
    return responseTimeBad;
  }

  public void setResponseTimeBad(String responseTimeBad) {
    this.responseTimeBad = responseTimeBad;
  }

  public Quantity getNetworkTarget() {
    return networkTarget;
  }

  public void setNetworkTarget(Quantity networkTarget) {
    this.networkTarget = networkTarget;
  }

  public List<Corroboration> getCorroboration() {
    return corroboration;
  }

  public void setCorroboration(List<Corroboration> corroboration) {
    this.corroboration = corroboration;
  }

  public Double getContradictionTolerance() {
    return contradictionTolerance;
  }

  public void setContradictionTolerance(Double contradictionTolerance) {
    this.contradictionTolerance = contradictionTolerance;
  }

  public Integer getContradictionMinEvidence() {
    return contradictionMinEvidence;
  }

  public void setContradictionMinEvidence(Integer contradictionMinEvidence) {
    this.contradictionMinEvidence = contradictionMinEvidence;
  }

  /** Raw factor weights. */
  public static class FactorWeights {
    @Min(0)
    private Double uptime;

    @Min(0)
    private Double dataIntegrity;

    @Min(0)
    private Double ioPerformance;

    @Min(0)
    private Double responseTime;

    @Min(0)
    private Double encryptionCompliance;

    @Min(0)
    private Double accessControl;

    @Min(0)
    private Double consensusParticipation;

    @Min(0)
    private Double networkContribution;

    public Double getUptime() {
      return uptime;
    }

    public void setUptime(Double uptime) {
      this.uptime = uptime;
    }

    public Double getDataIntegrity() {
      return dataIntegrity;
    }

    public void setDataIntegrity(Double dataIntegrity) {
      this.dataIntegrity = dataIntegrity;
    }

    public Double getIoPerformance() {
      return ioPerformance;
    }

    public void setIoPerformance(Double ioPerformance) {
      this.ioPerformance = ioPerformance;
    }

    public Double getResponseTime() {
      return responseTime;
    }

    public void setResponseTime(Double responseTime) {
      this.responseTime = responseTime;
    }

    public Double getEncryptionCompliance() {
      return encryptionCompliance;
    }

    public void setEncryptionCompliance(Double encryptionCompliance) {
      this.encryptionCompliance = encryptionCompliance;
    }

    public Double getAccessControl() {
      return accessControl;
    }

    public void setAccessControl(Double accessControl) {
      this.accessControl = accessControl;
    }

    public Double getConsensusParticipation() {
      return consensusParticipation;
    }

    public void setConsensusParticipation(Double consensusParticipation) {
      this.consensusParticipation = consensusParticipation;
    }

    public Double getNetworkContribution() {
      return networkContribution;
    }

    public void setNetworkContribution(Double networkContribution) {
      this.networkContribution = networkContribution;
    }
  }

  /** Score thresholds per tier. */
  public static class TierThresholds {
    @Min(0)
    @Max(1)
    private Double critical;

    @Min(0)
    @Max(1)
    private Double sensitive;

    @Min(0)
    @Max(1)
    private Double standard;

    @JsonProperty("public")
    @Min(0)
    @Max(1)
    private Double publicTier;

    public Double getCritical() {
      return critical;
    }

    public void setCritical(Double critical) {
      this.critical = critical;
    }

    public Double getSensitive() {
      return sensitive;
    }

    public void setSensitive(Double sensitive) {
      this.sensitive = sensitive;
    }

    public Double getStandard() {
      return standard;
    }

    public void setStandard(Double standard) {
      this.standard = standard;
    }

    public Double getPublicTier() {
      return publicTier;
    }

    public void setPublicTier(Double publicTier) {
      this.publicTier = publicTier;
    }
  }

  /** To hold {@code tier} (or any tier above it) {@code factor} must reach {@code minimum}. */
  public static class TrustGate {
    @io.fabric8.generator.annotation.Required
    @JsonPropertyDescription("The tier the gate guards: CRITICAL, SENSITIVE, STANDARD or PUBLIC.")
    private ClassificationName tier;

    @io.fabric8.generator.annotation.Required private TrustFactorName factor;

    @io.fabric8.generator.annotation.Required
    @Min(0)
    @Max(1)
    private Double minimum;

    public ClassificationName getTier() {
      return tier;
    }

    public void setTier(ClassificationName tier) {
      this.tier = tier;
    }

    public TrustFactorName getFactor() {
      return factor;
    }

    public void setFactor(TrustFactorName factor) {
      this.factor = factor;
    }

    public Double getMinimum() {
      return minimum;
    }

    public void setMinimum(Double minimum) {
      this.minimum = minimum;
    }
  }

  /** Vetting of new nodes. */
  public static class Vetting {
    @JsonPropertyDescription("Integrity audits a node must pass. Default: 100.")
    @Min(0)
    private Integer auditsRequired;

    @JsonPropertyDescription("Age a node must reach (e.g. 24h). Default: 24h.")
    @Pattern(DURATION_PATTERN)
    private String minAge;

    public Integer getAuditsRequired() {
      return auditsRequired;
    }

    public void setAuditsRequired(Integer auditsRequired) {
      this.auditsRequired = auditsRequired;
    }

    public String getMinAge() {
      return minAge;
    }

    public void setMinAge(String minAge) {
      this.minAge = minAge;
    }
  }

  /** The VERIFIED factors that corroborate one REPORTED factor. */
  public static class Corroboration {
    @io.fabric8.generator.annotation.Required
    @JsonPropertyDescription(
        "A REPORTED factor: IO_PERFORMANCE, ENCRYPTION_COMPLIANCE or ACCESS_CONTROL.")
    private TrustFactorName reported;

    @JsonPropertyDescription("VERIFIED factors observing the same property; empty removes it.")
    private List<TrustFactorName> verifiedBy;

    public TrustFactorName getReported() {
      return reported;
    }

    public void setReported(TrustFactorName reported) {
      this.reported = reported;
    }

    public List<TrustFactorName> getVerifiedBy() {
      return verifiedBy;
    }

    public void setVerifiedBy(List<TrustFactorName> verifiedBy) {
      this.verifiedBy = verifiedBy;
    }
  }
}
