package io.mycnet.storage.agent.replica;

/**
 * Whole blocks of an encrypted replica, decrypted: {@code bytes} the plaintext (a block that failed
 * verification keeps its raw bytes from disk), {@code entries} the plaintext's checksum entries as
 * a plain replica would hold them ({@link BlockChecksums#BAD} for a failed block), {@code problems}
 * null or why a block failed.
 */
record OpenedBlocks(byte[] bytes, long[] entries, String[] problems) {
  /** Throws for the first block that failed. */
  void throwIfCorrupt(String volumeId, long first) throws VolumeReplica.CorruptBlockException {
    for (int i = 0; i < problems.length; i++) {
      if (problems[i] != null) {
        throw new VolumeReplica.CorruptBlockException(volumeId, first + i, problems[i]);
      }
    }
  }
}
