package io.mycnet.storage.cli;

import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.operator.reconciler.node.NodeActionWatcher;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What the block-export commands share: the Node annotations they request attachments and fences
 * with, the NBD URIs of an attached volume (docs/block-export.md), and the words for an attachment.
 */
final class BlockExport {
  private BlockExport() {}

  /**
   * Value {@code "<kubernetes namespace>/<claim>"} or {@code "<kubernetes namespace>/<claim>:ro"}
   * (docs/block-export.md).
   */
  static final String ATTACH = NodeActionWatcher.ATTACH;

  /** Value {@code "<kubernetes namespace>/<claim>"}. */
  static final String DETACH = NodeActionWatcher.DETACH;

  /** Value: the reason. */
  static final String FENCE = NodeActionWatcher.FENCE;

  /** The only host the TLS URI names: local mode's agents listen on loopback. */
  static final String LOOPBACK = "127.0.0.1";

  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern VOLUME_ID =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  /** The attach annotation's value. */
  static String attachValue(String kubernetesNamespace, String claim, boolean readOnly) {
    return kubernetesNamespace + "/" + claim + (readOnly ? NodeActionWatcher.READ_ONLY_SUFFIX : "");
  }

  /** Null when {@code name} is a Kubernetes object name (DNS-1123 label), else the problem. */
  static String nameProblem(String name) {
    if (name == null || name.isEmpty()) {
      return "is empty";
    }
    if (name.length() > 63 || !DNS_LABEL.matcher(name).matches()) {
      return "'"
          + name
          + "' is not a Kubernetes name (lower-case letters, digits and '-', at most 63,"
          + " starting and ending with a letter or digit)";
    }
    return null;
  }

  /**
   * {@code nbd+unix:///<volume>?socket=<path>}: the node's own Unix socket (export name = volume
   * id).
   */
  static String unixUri(String volumeId, String socket) {
    checkVolumeId(volumeId);
    if (socket == null || !socket.startsWith("/")) {
      throw new IllegalArgumentException("the NBD socket must be an absolute path, was " + socket);
    }
    return "nbd+unix:///" + volumeId + "?socket=" + escape(socket);
  }

  /**
   * {@code nbds://<host>:<port>/<volume>?tls-certificates=<dir>}: the TLS port, with the directory
   * holding {@code ca-cert.pem}, {@code client-cert.pem} and {@code client-key.pem}.
   */
  static String tlsUri(String volumeId, String host, int port, Path certificates) {
    checkVolumeId(volumeId);
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port must be 1..65535, was " + port);
    }
    if (!certificates.isAbsolute()) {
      throw new IllegalArgumentException(
          "the certificate directory must be absolute, was " + certificates);
    }
    String h = host.contains(":") ? "[" + host + "]" : host;
    return "nbds://"
        + h
        + ":"
        + port
        + "/"
        + volumeId
        + "?tls-certificates="
        + escape(certificates.toString());
  }

  private static void checkVolumeId(String volumeId) {
    if (volumeId == null || !VOLUME_ID.matcher(volumeId).matches()) {
      throw new IllegalArgumentException("'" + volumeId + "' is not a volume id");
    }
  }

  /**
   * Percent-encodes a query value: every byte but unreserved characters and '/' (libnbd decodes
   * query values), so a path with a space, '&' or '%' stays one value.
   */
  static String escape(String value) {
    StringBuilder out = new StringBuilder();
    for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || c == '-'
          || c == '.'
          || c == '_'
          || c == '~'
          || c == '/') {
        out.append((char) c);
      } else {
        out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)));
        out.append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
      }
    }
    return out.toString();
  }

  /** {@code text} as one word for a POSIX shell (single quotes). */
  static String shellQuote(String text) {
    if (!text.isEmpty() && text.matches("[A-Za-z0-9_./:=@%+-]+")) {
      return text;
    }
    return "'" + text.replace("'", "'\\''") + "'";
  }

  /** "read-write" or "read-only". */
  static String mode(Attachment a) {
    return a.getReadOnly() ? "read-only" : "read-write";
  }

  /** One attachment as {@code claim explain} and {@code volume export} show it. */
  static String describe(Attachment a) {
    return a.getNodeId()
        + "  "
        + mode(a)
        + "  generation "
        + a.getGeneration()
        + "  attached "
        + (a.getAttachedAtUnixMs() > 0
            ? Instant.ofEpochMilli(a.getAttachedAtUnixMs()).toString()
            : "-")
        + (a.getRequestedBy().isEmpty() ? "" : "  by " + a.getRequestedBy());
  }

  /** The node ids of the attachments, for the volume line of {@code mycnet status}. */
  static String shortList(List<Attachment> attachments) {
    StringBuilder b = new StringBuilder();
    for (Attachment a : attachments) {
      b.append(b.length() == 0 ? "" : ",")
          .append(a.getNodeId())
          .append(a.getReadOnly() ? "(ro)" : "(rw)");
    }
    return b.toString();
  }
}
