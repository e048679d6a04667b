package io.mycnet.storage.operator.csi;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A CreateVolume name to the name of the StorageClaim that is the volume: the name itself when it
 * is a DNS-1123 label (the external-provisioner's {@code pvc-<uuid>}), else {@code csi-} and the
 * first 24 hex digits of the name's SHA-256. The same name always gives the same claim, which makes
 * CreateVolume idempotent; the claim keeps the original name in an annotation.
 */
public final class VolumeNames {
  static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  static final int MAX_LABEL = 63;

  private VolumeNames() {}

  /** The StorageClaim name for CreateVolume name {@code name} (not empty). */
  public static String claimName(String name) {
    if (name.length() <= MAX_LABEL && DNS_LABEL.matcher(name).matches()) {
      return name;
    }
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(name.getBytes(StandardCharsets.UTF_8));
      return "csi-" + HexFormat.of().formatHex(d).substring(0, 24);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
    }
  }
}
