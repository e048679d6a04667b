package io.mycnet.storage.operator.model;

/**
 * What a volume is for. The four network storage types and {@code SERVICE} (application storage)
 * each carry defaults (classification, replicas, consistency) that a claim may tighten, never
 * loosen. {@code DISCOVERY} data (service endpoints, announcements) is meant to be read widely, so
 * it is the one type whose default is {@code PUBLIC}; a claim that needs it kept closer tightens
 * it.
 */
public enum StorageType {
  INFRASTRUCTURE(Classification.SENSITIVE, 3, ConsistencyLevel.STRONG),
  CONSENSUS(Classification.CRITICAL, 3, ConsistencyLevel.STRONG),
  DISCOVERY(Classification.PUBLIC, 3, ConsistencyLevel.EVENTUAL),
  CONFIGURATION(Classification.SENSITIVE, 3, ConsistencyLevel.STRONG),
  SERVICE(Classification.STANDARD, 2, ConsistencyLevel.EVENTUAL);

  private final Classification defaultClassification;
  private final int defaultReplicas;
  private final ConsistencyLevel defaultConsistency;

  StorageType(Classification c, int replicas, ConsistencyLevel consistency) {
    this.defaultClassification = c;
    this.defaultReplicas = replicas;
    this.defaultConsistency = consistency;
  }

  public Classification defaultClassification() {
    return defaultClassification;
  }

  public int defaultReplicas() {
    return defaultReplicas;
  }

  public ConsistencyLevel defaultConsistency() {
    return defaultConsistency;
  }
}
