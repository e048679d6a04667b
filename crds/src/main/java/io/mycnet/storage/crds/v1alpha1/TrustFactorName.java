package io.mycnet.storage.crds.v1alpha1;

/** The eight trust factors as they are spelled in custom resources. */
public enum TrustFactorName {
  UPTIME,
  DATA_INTEGRITY,
  IO_PERFORMANCE,
  RESPONSE_TIME,
  ENCRYPTION_COMPLIANCE,
  ACCESS_CONTROL,
  CONSENSUS_PARTICIPATION,
  NETWORK_CONTRIBUTION
}
