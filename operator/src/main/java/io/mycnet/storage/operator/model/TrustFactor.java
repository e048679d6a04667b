package io.mycnet.storage.operator.model;

/**
 * The eight inputs of a node's trust score. {@link Source#VERIFIED} factors are measured by the
 * control plane itself; {@link Source#REPORTED} factors are claimed by the agent and count for less
 * (trust is earned, not claimed).
 */
public enum TrustFactor {
  UPTIME(Source.VERIFIED),
  DATA_INTEGRITY(Source.VERIFIED),
  IO_PERFORMANCE(Source.REPORTED),
  RESPONSE_TIME(Source.VERIFIED),
  ENCRYPTION_COMPLIANCE(Source.REPORTED),
  ACCESS_CONTROL(Source.REPORTED),
  CONSENSUS_PARTICIPATION(Source.VERIFIED),
  NETWORK_CONTRIBUTION(Source.VERIFIED);

  /** Who vouches for a factor's evidence. */
  public enum Source {
    VERIFIED,
    REPORTED
  }

  private final Source source;

  TrustFactor(Source source) {
    this.source = source;
  }

  public Source source() {
    return source;
  }

  public boolean isReported() {
    return source == Source.REPORTED;
  }
}
