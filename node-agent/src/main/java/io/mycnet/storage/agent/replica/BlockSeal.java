package io.mycnet.storage.agent.replica;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM for the blocks of one encrypted replica. Every seal draws a fresh random 96-bit nonce
 * (never a counter that a restored or copied replica could replay); the associated data is {@code
 * "mycnet-block-v1" | length of the volume id (4 bytes) | volume id | block index (8 bytes)}, so a
 * block copied to another offset or into another volume's replica fails its tag. The ciphertext has
 * the plaintext's length (it goes where the plaintext would); nonce and 128-bit tag go to the
 * per-block entry ({@link #ENTRY} bytes: {@link #SEALED}, nonce, tag).
 */
final class BlockSeal {
  static final int NONCE = 12;
  static final int TAG = 16;
  static final int ENTRY = 32;
  static final int SEALED = 0x4D594531; // "MYE1"

  private final String namespace;
  private final SecretKeySpec key;
  private final byte[] aadPrefix;
  private final SecureRandom random = new SecureRandom();
  private final Cipher cipher;
  private final byte[] scratch = new byte[VolumeReplica.BLOCK + TAG];

  BlockSeal(String namespace, String volumeId, SecretKeySpec key) {
    this.namespace = namespace;
    this.key = key;
    byte[] label = "mycnet-block-v1".getBytes(StandardCharsets.US_ASCII);
    byte[] vol = volumeId.getBytes(StandardCharsets.UTF_8);
    this.aadPrefix =
        ByteBuffer.allocate(label.length + 4 + vol.length)
            .put(label)
            .putInt(vol.length)
            .put(vol)
            .array();
    try {
      this.cipher = Cipher.getInstance("AES/GCM/NoPadding");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES/GCM is not available", e);
    }
  }

  String namespace() {
    return namespace;
  }

  private byte[] aad(long block) {
    return ByteBuffer.allocate(aadPrefix.length + 8).put(aadPrefix).putLong(block).array();
  }

  /**
   * Encrypts {@code len} bytes of {@code plain} at {@code off} as block {@code block}: the
   * ciphertext to {@code out} at {@code off}, the entry (marker, nonce, tag) to {@code entry}.
   */
  synchronized void seal(long block, byte[] plain, int off, int len, byte[] out, ByteBuffer entry) {
    byte[] nonce = new byte[NONCE];
    random.nextBytes(nonce);
    try {
      cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG * 8, nonce));
      cipher.updateAAD(aad(block));
      int n = cipher.doFinal(plain, off, len, scratch, 0);
      if (n != len + TAG) {
        throw new IllegalStateException("AES/GCM gave " + n + " bytes for " + len);
      }
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot encrypt block " + block, e);
    }
    System.arraycopy(scratch, 0, out, off, len);
    entry.putInt(SEALED).put(nonce).put(scratch, len, TAG);
  }

  /**
   * Decrypts block {@code block} ({@code len} bytes of {@code ct} at {@code off}) with the nonce
   * and tag of its entry ({@code entries} at {@code entryOff}, marker already checked) into {@code
   * plain} at {@code off}; false when the tag does not match (a torn write, bit rot, tampering, a
   * block moved from elsewhere, or another key).
   */
  synchronized boolean open(
      long block, byte[] ct, int off, int len, byte[] entries, int entryOff, byte[] plain) {
    byte[] nonce = new byte[NONCE];
    System.arraycopy(entries, entryOff + 4, nonce, 0, NONCE);
    System.arraycopy(ct, off, scratch, 0, len);
    System.arraycopy(entries, entryOff + 4 + NONCE, scratch, len, TAG);
    try {
      cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG * 8, nonce));
      cipher.updateAAD(aad(block));
      cipher.doFinal(scratch, 0, len + TAG, plain, off);
      return true;
    } catch (AEADBadTagException e) {
      return false;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot decrypt block " + block, e);
    }
  }
}
