package io.mycnet.storage.agent.replica;

import io.mycnet.storage.agent.support.DurableFiles;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Properties;

/**
 * The sealed (encrypted at rest) format of a replica: {@code blocks.gcm} holds one {@link
 * BlockSeal#ENTRY}-byte entry per block ({@link BlockSeal#SEALED}, 12-byte nonce, 16-byte GCM tag;
 * all zero for a block never written), {@code data} the AES-256-GCM ciphertext at the block's
 * offset, and {@code encryption.meta} the owning namespace and its key check value. The GCM tag
 * takes the CRC's place: a torn or corrupt block fails it. The key is bound once the owning
 * namespace is known ({@link #bindNamespace}); until then every read and write fails with the
 * reason. Callers serialise access ({@link VolumeReplica} holds the lock).
 */
final class SealedBlocks {
  static final String ENTRY_FILE = "blocks.gcm";
  static final String META = "encryption.meta";
  static final int BLOCK = VolumeReplica.BLOCK;

  private final String volumeId;
  private final Path dir;
  private final NamespaceKeys keys;
  private final BlockFile file;
  private volatile BlockSeal seal;
  private volatile String sealProblem;

  SealedBlocks(String volumeId, Path dir, NamespaceKeys keys, BlockFile file) {
    this.volumeId = volumeId;
    this.dir = dir;
    this.keys = keys;
    this.file = file;
    this.sealProblem =
        "the encrypted replica of "
            + volumeId
            + " has no key yet: its owning namespace is not known (no assignment)";
  }

  /**
   * Binds the replica to its owning namespace's key (a no-op for an unknown namespace). The first
   * binding records the namespace and its key check value in {@code encryption.meta}; later ones
   * must name the same namespace and derive the same key.
   *
   * @throws IOException when the namespace differs from the recorded one or the key does not match
   *     the one the replica was written with
   */
  void bindNamespace(String namespace) throws IOException {
    if (namespace == null || namespace.isEmpty()) {
      return;
    }
    BlockSeal s = seal;
    if (s != null) {
      if (!s.namespace().equals(namespace)) {
        throw new IOException(
            "the replica of "
                + volumeId
                + " is encrypted with the key of namespace "
                + s.namespace()
                + "; it cannot be handed to namespace "
                + namespace);
      }
      return;
    }
    String check = HexFormat.of().formatHex(keys.keyCheck(namespace));
    Path f = dir.resolve(META);
    try {
      if (Files.exists(f)) {
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(f)));
        String had = p.getProperty("namespace", "");
        if (!had.equals(namespace)) {
          throw new IOException(
              "the replica of "
                  + volumeId
                  + " is encrypted with the key of namespace "
                  + had
                  + "; it cannot be handed to namespace "
                  + namespace);
        }
        if (!check.equals(p.getProperty("key-check", ""))) {
          throw new IOException(
              "wrong key: the key that encryption-key-file gives namespace "
                  + namespace
                  + " is not the one the replica of "
                  + volumeId
                  + " was encrypted with (key check "
                  + check
                  + ", recorded "
                  + p.getProperty("key-check", "none")
                  + "); was the key file replaced?");
        }
      } else {
        DurableFiles.write(
            f,
            "cipher=AES-256-GCM\nkdf=HKDF-SHA256\nnamespace="
                + namespace
                + "\nkey-check="
                + check
                + "\n",
            true);
      }
    } catch (IOException e) {
      sealProblem = e.getMessage();
      throw e;
    }
    seal = new BlockSeal(namespace, volumeId, keys.volumeKey(namespace, volumeId));
    sealProblem = null;
  }

  private BlockSeal requireSeal() throws IOException {
    BlockSeal s = seal;
    if (s == null) {
      throw new IOException(sealProblem);
    }
    return s;
  }

  /** Whole blocks [first, first+count), decrypted and verified block by block. */
  OpenedBlocks open(long first, int count) throws IOException {
    BlockSeal s = requireSeal();
    byte[] raw = file.readBlocks(first, count);
    byte[] meta = file.readEntries(first, count);
    byte[] plain = new byte[raw.length];
    long[] entries = new long[count];
    String[] problems = new String[count];
    for (int i = 0; i < count; i++) {
      int off = i * BLOCK;
      int len = Math.min(BLOCK, raw.length - off);
      if (len <= 0) {
        break;
      }
      int e = i * BlockSeal.ENTRY;
      String problem = null;
      if (ByteBuffer.wrap(meta, e, 4).getInt() == BlockSeal.SEALED) {
        if (s.open(first + i, raw, off, len, meta, e, plain)) {
          entries[i] = BlockChecksums.entryFor(plain, off, len);
        } else {
          problem =
              "its GCM tag does not match (torn write, corruption, tampering, or a block moved"
                  + " from another offset or volume)";
        }
      } else if (!BlockChecksums.allZero(meta, e, BlockSeal.ENTRY)) {
        problem = "its encryption entry is malformed";
      } else if (!BlockChecksums.allZero(raw, off, len)) {
        problem = "data present in a block never written (torn write)";
      }
      if (problem != null) {
        problems[i] = problem;
        entries[i] = BlockChecksums.BAD;
        System.arraycopy(raw, off, plain, off, len);
      }
    }
    return new OpenedBlocks(plain, entries, problems);
  }

  /** Whole blocks, verified: the plaintext, or the first failed block's exception. */
  byte[] read(long first, int count) throws IOException {
    OpenedBlocks o = open(first, count);
    o.throwIfCorrupt(volumeId, first);
    return o.bytes();
  }

  /**
   * Encrypts whole blocks from {@code first} and writes ciphertext and entries (not synced). A
   * block whose {@code logical} entry is 0 (never written, in a copied chunk) stays never written.
   */
  void write(long first, byte[] plain, long[] logical) throws IOException {
    BlockSeal s = requireSeal();
    int count = (plain.length + BLOCK - 1) / BLOCK;
    byte[] ct = new byte[plain.length];
    ByteBuffer e = ByteBuffer.allocate(count * BlockSeal.ENTRY);
    for (int i = 0; i < count; i++) {
      int off = i * BLOCK;
      if (logical != null && logical[i] == 0) {
        e.position(e.position() + BlockSeal.ENTRY); // zeros in both files
      } else {
        s.seal(first + i, plain, off, Math.min(BLOCK, plain.length - off), ct, e);
      }
    }
    e.flip();
    file.writeBlocks(first, ct);
    file.writeEntries(first, e);
  }
}
