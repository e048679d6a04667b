package io.mycnet.storage.operator.store;

/**
 * The etcd key layout of the control plane, under a configurable prefix (default {@code /mycnet}).
 * See {@code package-info.java} for the whole table. Ids are validated before they become part of a
 * key so that no id can reach into another id's keys.
 */
public final class EtcdKeys {
  public static final String DEFAULT_PREFIX = "/mycnet";

  private final String prefix;

  public EtcdKeys(String prefix) {
    if (prefix == null || !prefix.startsWith("/") || prefix.endsWith("/") || prefix.length() < 2) {
      throw new IllegalArgumentException(
          "etcd key prefix must start with '/' and not end with '/', e.g. /mycnet; was " + prefix);
    }
    this.prefix = prefix;
  }

  public static EtcdKeys defaults() {
    return new EtcdKeys(DEFAULT_PREFIX);
  }

  public String prefix() {
    return prefix;
  }

  public String allocations() {
    return prefix + "/allocations/";
  }

  public String allocation(String volumeId) {
    return allocations() + id("volume id", volumeId);
  }

  public String nodes() {
    return prefix + "/nodes/";
  }

  public String node(String nodeId) {
    return nodes() + id("node id", nodeId);
  }

  public String livenessAll() {
    return prefix + "/liveness/";
  }

  public String liveness(String nodeId) {
    return livenessAll() + id("node id", nodeId);
  }

  public String nodeUsages() {
    return prefix + "/usage/nodes/";
  }

  public String nodeUsage(String nodeId) {
    return nodeUsages() + id("node id", nodeId);
  }

  public String namespaceUsages() {
    return prefix + "/usage/namespaces/";
  }

  /** Quota usage is kept in this many counters per namespace, so allocations rarely collide. */
  public static final int NAMESPACE_USAGE_SHARDS = 16;

  /** The prefix of one namespace's usage counters. */
  public String namespaceUsage(String namespace) {
    return namespaceUsages() + id("namespace", namespace) + "/";
  }

  /** One of the namespace's usage counters; a volume always counts in the same one. */
  public String namespaceUsageShard(String namespace, String volumeId) {
    int shard = Math.floorMod(volumeId.hashCode(), NAMESPACE_USAGE_SHARDS);
    return namespaceUsage(namespace) + String.format("%02d", shard);
  }

  public String namespaces() {
    return prefix + "/namespaces/";
  }

  public String namespace(String namespace) {
    return namespaces() + id("namespace", namespace);
  }

  public String commandsAll() {
    return prefix + "/commands/";
  }

  public String commands(String nodeId) {
    return commandsAll() + id("node id", nodeId) + "/";
  }

  /** One queued command; its queue position is the key's create revision. */
  public String command(String nodeId, String commandId) {
    return commands(nodeId) + id("command id", commandId);
  }

  public String trustAll() {
    return prefix + "/trust/";
  }

  /** A node's persisted trust evidence ({@code NodeTrustState}). */
  public String trust(String nodeId) {
    return trustAll() + id("node id", nodeId);
  }

  public String slots() {
    return prefix + "/slots/";
  }

  public String slot(int slot) {
    return slots() + String.format("%06d", slot);
  }

  public String leader() {
    return prefix + "/leader";
  }

  /** The replication manager's status record ({@code ReplicationStatus}). */
  public String replicationStatus() {
    return prefix + "/replication/status";
  }

  /**
   * Checks that an id is usable as one key segment: 1 to 253 characters of letters, digits and
   * {@code - _ . :} (Kubernetes names, UUIDs and {@code ns/name} pairs written as {@code ns.name}
   * fit). Command ids may also contain {@code @} and {@code +}.
   */
  public static String id(String what, String value) {
    if (value == null || value.isEmpty() || value.length() > 253) {
      throw new IllegalArgumentException(
          what + " must be 1 to 253 characters, was " + (value == null ? "null" : value.length()));
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '-'
              || c == '_'
              || c == '.'
              || c == ':'
              || c == '@'
              || c == '+';
      if (!ok) {
        throw new IllegalArgumentException(
            what + " '" + value + "' has '" + c + "'; allowed: letters, digits, - _ . : @ +");
      }
    }
    return value;
  }
}
