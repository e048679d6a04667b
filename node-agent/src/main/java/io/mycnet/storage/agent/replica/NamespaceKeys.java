package io.mycnet.storage.agent.replica;

import io.mycnet.storage.common.settings.SettingException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.Base64;
import java.util.Set;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The at-rest encryption keys of this agent in local mode: one 32-byte master key from the file
 * named by {@code encryption-key-file} (base64, readable by its owner only), and from it one key
 * per service namespace and, under that, one AES-256 key per volume.
 *
 * <p>Derivation is HKDF-SHA256 (RFC 5869): {@code PRK = HMAC-SHA256(salt, master)} with the fixed
 * salt {@code "mycnet-storage/at-rest/v1"}; the namespace key is {@code HKDF-Expand(PRK,
 * "namespace-key\0" + namespace, 32)}; a volume's data key is {@code HKDF-Expand(namespace key,
 * "volume-key\0" + volume id, 32)}, so random 96-bit GCM nonces are drawn per volume rather than
 * across everything a namespace ever writes. A short key check value, {@code HKDF-Expand(PRK,
 * "namespace-key-check\0" + namespace, 16)}, is stored with each encrypted replica so that a
 * replaced key file is named as such instead of every block looking corrupt; it reveals nothing
 * about the keys.
 */
public final class NamespaceKeys {
  static final String SETTING = "encryption-key-file";
  static final int KEY_BYTES = 32;
  private static final byte[] SALT = "mycnet-storage/at-rest/v1".getBytes(StandardCharsets.UTF_8);

  private final byte[] prk;

  private NamespaceKeys(byte[] master) {
    this.prk = hmac(SALT, master);
  }

  /** Keys from a raw 32-byte master key (tests). */
  static NamespaceKeys of(byte[] master) {
    if (master.length != KEY_BYTES) {
      throw new IllegalArgumentException("a master key is " + KEY_BYTES + " bytes");
    }
    return new NamespaceKeys(master);
  }

  /**
   * Reads the master key file.
   *
   * @throws SettingException naming {@code encryption-key-file} when the file is missing,
   *     unreadable, readable or writable by group or others, not base64, or not 32 bytes
   */
  public static NamespaceKeys load(Path file) {
    if (!Files.isRegularFile(file)) {
      throw bad(SETTING, file + " does not exist or is not a regular file");
    }
    Set<PosixFilePermission> perms;
    try {
      perms = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
    } catch (UnsupportedOperationException e) {
      perms = null; // not a POSIX file system: nothing to check
    } catch (IOException e) {
      throw bad(SETTING, "cannot read the permissions of " + file + ": " + e);
    }
    if (perms != null
        && perms.stream()
            .anyMatch(p -> p.name().startsWith("GROUP") || p.name().startsWith("OTHERS"))) {
      throw bad(
          SETTING,
          file
              + " is accessible to group or others ("
              + PosixFilePermissions.toString(perms)
              + "); a master key must be readable by its owner only: chmod 600 "
              + file);
    }
    byte[] text;
    try {
      text = Files.readAllBytes(file);
    } catch (IOException e) {
      throw bad(SETTING, "cannot read " + file + ": " + e.getMessage());
    }
    String b64 = new String(text, StandardCharsets.US_ASCII).replaceAll("\\s+", "");
    Arrays.fill(text, (byte) 0);
    byte[] master;
    try {
      master = Base64.getDecoder().decode(b64);
    } catch (IllegalArgumentException e) {
      throw bad(
          SETTING,
          file + " does not hold base64 (create one with: head -c 32 /dev/urandom | base64)");
    }
    try {
      if (master.length != KEY_BYTES) {
        throw bad(
            SETTING,
            file
                + " decodes to "
                + master.length
                + " bytes; a master key is "
                + KEY_BYTES
                + " bytes (create one with: head -c 32 /dev/urandom | base64)");
      }
      return new NamespaceKeys(master);
    } finally {
      Arrays.fill(master, (byte) 0);
    }
  }

  /** The AES-256 key for the blocks of {@code volumeId}, owned by {@code namespace}. */
  SecretKeySpec volumeKey(String namespace, String volumeId) {
    byte[] ns = expand(prk, "namespace-key\0" + namespace, KEY_BYTES);
    byte[] k = expand(ns, "volume-key\0" + volumeId, KEY_BYTES);
    Arrays.fill(ns, (byte) 0);
    SecretKeySpec spec = new SecretKeySpec(k, "AES");
    Arrays.fill(k, (byte) 0);
    return spec;
  }

  /** The key check value of {@code namespace}'s key (stored with replicas, not secret). */
  byte[] keyCheck(String namespace) {
    return expand(prk, "namespace-key-check\0" + namespace, 16);
  }

  private static byte[] expand(byte[] prk, String info, int length) {
    byte[] in = (info + "\u0001").getBytes(StandardCharsets.UTF_8);
    // One HMAC block (32 bytes) covers every length used here.
    return Arrays.copyOf(hmac(prk, in), length);
  }

  private static byte[] hmac(byte[] key, byte[] data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }

  private static SettingException bad(String setting, String problem) {
    return new SettingException(setting, setting, problem);
  }
}
