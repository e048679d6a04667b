package io.mycnet.storage.operator.security;

import java.util.regex.Pattern;

/**
 * Node ids: DNS-1123 subdomains, like Kubernetes node names, so they fit a certificate's CN/SAN.
 */
public final class NodeIds {
  private static final Pattern DNS1123_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  private NodeIds() {}

  /** Null when valid, else a sentence saying what is wrong. */
  public static String problem(String nodeId) {
    if (nodeId == null || nodeId.isEmpty()) {
      return "node id is empty";
    }
    if (nodeId.length() > 253) {
      return "node id is " + nodeId.length() + " characters long; at most 253 are allowed";
    }
    if (!DNS1123_SUBDOMAIN.matcher(nodeId).matches()) {
      return "node id '"
          + nodeId
          + "' is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', starting and"
          + " ending with a letter or digit), e.g. n17 or edge-3.rack-1";
    }
    return null;
  }

  /**
   * @throws IllegalArgumentException naming the problem
   */
  public static String require(String nodeId) {
    String p = problem(nodeId);
    if (p != null) {
      throw new IllegalArgumentException(p);
    }
    return nodeId;
  }
}
