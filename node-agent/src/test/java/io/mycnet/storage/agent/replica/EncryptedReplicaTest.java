package io.mycnet.storage.agent.replica;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.agent.replication.PeerChannels;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.agent.replication.ReplicatedVolumeTest;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** At-rest encryption of {@link VolumeReplica}: real files, real AES-GCM, seeded data. */
class EncryptedReplicaTest {
  static final int SIZE = 3 << 20;
  static final String NS = "app";

  @TempDir Path dir;
  final Random random = new Random(42);
  final NamespaceKeys keys = NamespaceKeys.of(bytes(32));

  byte[] bytes(int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  /** A recognisable plaintext: must never appear in the data file. */
  static byte[] secret(int n) {
    byte[] unit = "SECRET-PAYLOAD-0123456789-".getBytes(StandardCharsets.US_ASCII);
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = unit[i % unit.length];
    }
    return b;
  }

  VolumeReplica encrypted(String volume, Path where, NamespaceKeys k) throws IOException {
    VolumeReplica r = VolumeReplica.open(volume, where, SIZE, k);
    r.bindNamespace(NS);
    return r;
  }

  VolumeReplica encrypted(Path where) throws IOException {
    return encrypted("v1", where, keys);
  }

  static void flipByte(Path file, long at) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(at);
      int b = f.read();
      f.seek(at);
      f.write(b ^ 0x01);
    }
  }

  static boolean contains(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  @Test
  void encryptionSwitchedOffWithTheKeyKeptReadsOldReplicasAndWritesNewOnesPlain() throws Exception {
    byte[] a = secret(20_000);
    try (VolumeReplica r = encrypted(dir)) {
      r.write(0, a);
    }
    try (VolumeReplica r = VolumeReplica.open("v1", dir, SIZE, keys, false)) {
      r.bindNamespace(NS);
      assertThat(r.encrypted()).isTrue();
      assertThat(r.read(0, a.length)).isEqualTo(a);
    }
    Path fresh = dir.resolveSibling("fresh");
    try (VolumeReplica r = VolumeReplica.open("v2", fresh, SIZE, keys, false)) {
      r.bindNamespace(NS);
      assertThat(r.encrypted()).isFalse();
      r.write(0, a);
      assertThat(r.read(0, a.length)).isEqualTo(a);
    }
    assertThat(Files.exists(fresh.resolve("blocks.crc"))).isTrue();
  }

  @Test
  void writesReadBackNeverWrittenBlocksAreZerosAndEverythingSurvivesReopen() throws Exception {
    byte[] a = bytes(10_000);
    byte[] b = secret(SIZE - (2 << 20) - 300); // to 300 bytes before the end
    try (VolumeReplica r = encrypted(dir)) {
      assertThat(r.encrypted()).isTrue();
      r.write(1234, a); // unaligned, spans three blocks
      r.write(2 << 20, b);
      r.write(1234 + 5000, new byte[] {1, 2, 3}); // inside a written block
      a[5000] = 1;
      a[5001] = 2;
      a[5002] = 3;
      assertThat(r.read(1234, a.length)).isEqualTo(a);
      assertThat(r.read(2 << 20, b.length)).isEqualTo(b);
      assertThat(r.read(0, 1234)).isEqualTo(new byte[1234]);
      assertThat(r.read(1 << 20, 4096 * 3)).isEqualTo(new byte[4096 * 3]); // never written
      assertThat(r.read(SIZE - 300, 300)).isEqualTo(new byte[300]);
    }
    assertThat(Files.exists(dir.resolve("blocks.gcm"))).isTrue();
    assertThat(Files.exists(dir.resolve("blocks.crc"))).isFalse();
    try (VolumeReplica r = encrypted(dir)) {
      assertThat(r.read(1234, a.length)).isEqualTo(a);
      assertThat(r.read(2 << 20, b.length)).isEqualTo(b);
      r.zero(2000, 3000);
      byte[] want = Arrays.copyOf(new byte[1234], 1234 + a.length);
      System.arraycopy(a, 0, want, 1234, a.length);
      Arrays.fill(want, 2000, 5000, (byte) 0);
      assertThat(r.read(0, want.length)).isEqualTo(want);
      assertThat(r.scrub()).isEmpty();
    }
  }

  @Test
  void theDataFileNeverHoldsTheWrittenPlaintext() throws Exception {
    byte[] s = secret(256 * 1024);
    try (VolumeReplica r = encrypted(dir)) {
      r.write(4096, s);
      r.write(999_999, Arrays.copyOf(s, 7000)); // a partial-block merge path too
    }
    byte[] disk = Files.readAllBytes(dir.resolve("data"));
    assertThat(contains(disk, Arrays.copyOf(s, 16))).isFalse();
    assertThat(contains(disk, "SECRET".getBytes(StandardCharsets.US_ASCII))).isFalse();
    // ... whereas a plain replica does (the check itself works).
    Path plainDir = dir.resolve("plain");
    try (VolumeReplica p = VolumeReplica.open("v1", plainDir, SIZE)) {
      p.write(4096, s);
    }
    assertThat(contains(Files.readAllBytes(plainDir.resolve("data")), Arrays.copyOf(s, 16)))
        .isTrue();
  }

  @Test
  void aFlippedByteInDataOrMetadataIsCaughtOnReadByScrubAndByTheAudit() throws Exception {
    byte[] s = bytes(3 * 4096);
    byte[] nonce = new byte[32];
    byte[] before;
    try (VolumeReplica r = encrypted(dir)) {
      r.write(4096, s);
      before = r.auditDigest(nonce, 0, SIZE);
    }
    flipByte(dir.resolve("data"), 4096 + 100); // block 1: ciphertext
    flipByte(dir.resolve("blocks.gcm"), 2 * 32 + 5); // block 2: nonce
    flipByte(dir.resolve("blocks.gcm"), 3 * 32 + 31); // block 3: tag
    try (VolumeReplica r = encrypted(dir)) {
      for (long block : List.of(1L, 2L, 3L)) {
        assertThatThrownBy(() -> r.read(block * 4096 + 10, 10))
            .isInstanceOfSatisfying(
                VolumeReplica.CorruptBlockException.class,
                e -> assertThat(e.offset()).isEqualTo(block * 4096))
            .hasMessageContaining("GCM tag does not match");
      }
      assertThat(r.scrub()).containsExactly(4096L, 8192L, 12288L);
      assertThat(r.auditDigest(nonce, 0, SIZE)).isNotEqualTo(before);
      // Blocks around them are fine, and a whole-block rewrite heals one.
      assertThat(r.read(0, 4096)).isEqualTo(new byte[4096]);
      r.write(4096, Arrays.copyOf(s, 4096));
      assertThat(r.read(4096, 4096)).isEqualTo(Arrays.copyOf(s, 4096));
      assertThat(r.scrub()).containsExactly(8192L, 12288L);
      // A partial write cannot merge with a block that fails its tag.
      assertThatThrownBy(() -> r.write(8192 + 10, new byte[10]))
          .isInstanceOf(VolumeReplica.CorruptBlockException.class);
    }
  }

  @Test
  void dataInABlockNeverWrittenIsATornWrite() throws Exception {
    try (VolumeReplica r = encrypted(dir)) {
      assertThat(r.scrub()).isEmpty();
    }
    try (RandomAccessFile f = new RandomAccessFile(dir.resolve("data").toFile(), "rw")) {
      f.seek(65536);
      f.write(42); // data landed, its entry did not
    }
    try (VolumeReplica r = encrypted(dir)) {
      assertThat(r.scrub()).containsExactly(65536L);
      assertThatThrownBy(() -> r.read(65536, 1))
          .isInstanceOf(VolumeReplica.CorruptBlockException.class)
          .hasMessageContaining("torn write");
    }
  }

  @Test
  void aBlockMovedToAnotherOffsetOrVolumeFailsItsTag() throws Exception {
    byte[] s = bytes(2 * 4096);
    Path other = dir.resolve("other");
    try (VolumeReplica r = encrypted(dir);
        VolumeReplica o = encrypted("v2", other, keys)) {
      r.write(0, s);
      o.write(0, s);
    }
    byte[] d = Files.readAllBytes(dir.resolve("data"));
    byte[] g = Files.readAllBytes(dir.resolve("blocks.gcm"));
    try (RandomAccessFile f = new RandomAccessFile(dir.resolve("data").toFile(), "rw");
        RandomAccessFile e = new RandomAccessFile(dir.resolve("blocks.gcm").toFile(), "rw")) {
      f.seek(5 * 4096); // block 0 copied, with its entry, to block 5
      f.write(d, 0, 4096);
      e.seek(5 * 32);
      e.write(g, 0, 32);
    }
    try (RandomAccessFile f = new RandomAccessFile(other.resolve("data").toFile(), "rw");
        RandomAccessFile e = new RandomAccessFile(other.resolve("blocks.gcm").toFile(), "rw")) {
      f.seek(4096); // v1's block 1 into v2's block 1
      f.write(d, 4096, 4096);
      e.seek(32);
      e.write(g, 32, 32);
    }
    try (VolumeReplica r = encrypted(dir);
        VolumeReplica o = encrypted("v2", other, keys)) {
      assertThat(r.read(0, 8192)).isEqualTo(s);
      assertThat(r.scrub()).containsExactly(5 * 4096L);
      assertThat(o.scrub()).containsExactly(4096L);
    }
  }

  @Test
  void aWrongKeyIsNamedAsSuchNotReportedAsCorruption() throws Exception {
    try (VolumeReplica r = encrypted(dir)) {
      r.write(0, bytes(4096));
    }
    NamespaceKeys other = NamespaceKeys.of(bytes(32));
    try (VolumeReplica r = VolumeReplica.open("v1", dir, SIZE, other)) {
      assertThatThrownBy(() -> r.bindNamespace(NS))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("wrong key")
          .hasMessageContaining("namespace " + NS);
      // Unusable, and says why; nothing is reported corrupt.
      assertThatThrownBy(() -> r.read(0, 10))
          .isNotInstanceOf(VolumeReplica.CorruptBlockException.class)
          .hasMessageContaining("wrong key");
      assertThatThrownBy(r::scrub).hasMessageContaining("wrong key");
    }
    // Without the recorded key check, the tags still refuse every written block.
    Files.delete(dir.resolve("encryption.meta"));
    try (VolumeReplica r = VolumeReplica.open("v1", dir, SIZE, other)) {
      r.bindNamespace(NS);
      assertThatThrownBy(() -> r.read(0, 10))
          .isInstanceOf(VolumeReplica.CorruptBlockException.class);
    }
  }

  @Test
  void noIoBeforeTheNamespaceIsKnownAndTheNamespaceNeverChanges() throws Exception {
    try (VolumeReplica r = VolumeReplica.open("v1", dir, SIZE, keys)) {
      assertThatThrownBy(() -> r.write(0, new byte[10]))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("owning namespace is not known");
      r.bindNamespace(NS);
      r.write(0, new byte[10]);
      assertThatThrownBy(() -> r.bindNamespace("intruder"))
          .hasMessageContaining("cannot be handed to namespace intruder");
    }
    try (VolumeReplica r = VolumeReplica.open("v1", dir, SIZE, keys)) {
      assertThatThrownBy(() -> r.bindNamespace("intruder"))
          .hasMessageContaining("encrypted with the key of namespace " + NS);
    }
  }

  @Test
  void eachReplicaKeepsItsFormat() throws Exception {
    Path plain = dir.resolve("plain");
    try (VolumeReplica p = VolumeReplica.open("v1", plain, SIZE)) {
      p.write(0, secret(100));
    }
    // An agent with encryption on keeps serving a replica created without it, unencrypted.
    try (VolumeReplica p = VolumeReplica.open("v1", plain, SIZE, keys)) {
      p.bindNamespace(NS);
      assertThat(p.encrypted()).isFalse();
      assertThat(p.read(0, 100)).isEqualTo(secret(100));
    }
    assertThat(Files.exists(plain.resolve("blocks.gcm"))).isFalse();
    try (VolumeReplica r = encrypted(dir)) {
      r.write(0, bytes(100));
    }
    assertThatThrownBy(() -> VolumeReplica.open("v1", dir, SIZE))
        .hasMessageContaining("encrypted at rest but this agent runs without");
  }

  @Test
  void encryptedAndPlainReplicasAuditAlikeAndCopyIntoEachOther() throws Exception {
    Path pDir = dir.resolve("p");
    Path eDir = dir.resolve("e");
    byte[] nonce = bytes(32);
    try (VolumeReplica p = VolumeReplica.open("v1", pDir, SIZE);
        VolumeReplica e = encrypted(eDir)) {
      for (VolumeReplica r : List.of(p, e)) {
        r.write(12_345, secret(70_000));
        r.write((2 << 20) + 100, secret(5000));
        r.zero(20_000, 8192);
      }
      assertThat(e.auditDigest(nonce, 0, SIZE)).isEqualTo(p.auditDigest(nonce, 0, SIZE));
      assertThat(e.auditDigest(nonce, 777, 123_456)).isEqualTo(p.auditDigest(nonce, 777, 123_456));
      for (long off = 0; off < SIZE; off += VolumeReplica.CHUNK) {
        assertThat(e.chunkDigest(off, VolumeReplica.CHUNK))
            .isEqualTo(p.chunkDigest(off, VolumeReplica.CHUNK));
      }
      // Copy both ways, chunk by chunk, as a rebuild does.
      try (VolumeReplica p2 = VolumeReplica.open("v1", dir.resolve("p2"), SIZE);
          VolumeReplica e2 = encrypted(dir.resolve("e2"))) {
        for (long off = 0; off < SIZE; off += VolumeReplica.CHUNK) {
          int blocks = VolumeReplica.CHUNK / VolumeReplica.BLOCK;
          long[] fromE = new long[blocks];
          p2.storeCopied(off, e.readChunk(off, VolumeReplica.CHUNK, fromE), fromE);
          long[] fromP = new long[blocks];
          e2.storeCopied(off, p.readChunk(off, VolumeReplica.CHUNK, fromP), fromP);
          assertThat(fromE).isEqualTo(fromP);
        }
        p2.sync();
        e2.sync();
        for (VolumeReplica r : List.of(p2, e2)) {
          assertThat(r.read(0, SIZE)).isEqualTo(p.read(0, SIZE));
          assertThat(r.auditDigest(nonce, 0, SIZE)).isEqualTo(p.auditDigest(nonce, 0, SIZE));
          assertThat(r.chunkDigest(1 << 20, VolumeReplica.CHUNK))
              .isEqualTo(p.chunkDigest(1 << 20, VolumeReplica.CHUNK));
          assertThat(r.scrub()).isEmpty();
        }
        // Blocks never written stay never written (sparse) in the copies.
        long[] untouched = new long[4];
        e2.readChunk(1 << 20, 4 * 4096, untouched);
        assertThat(untouched).containsOnly(0L);
        assertThat(Files.readAllBytes(dir.resolve("e2").resolve("blocks.gcm")))
            .startsWith(new byte[32]); // block 0 was never written
      }
    }
    // A corrupt encrypted block makes its chunk digest differ, so a resumed rebuild recopies it.
    byte[] good;
    try (VolumeReplica e = encrypted(eDir)) {
      good = e.chunkDigest(0, VolumeReplica.CHUNK);
    }
    flipByte(eDir.resolve("data"), 12_345 + 10);
    try (VolumeReplica e = encrypted(eDir)) {
      assertThat(e.chunkDigest(0, VolumeReplica.CHUNK)).isNotEqualTo(good);
      assertThatThrownBy(() -> e.readChunk(0, VolumeReplica.CHUNK, new long[256]))
          .isInstanceOf(VolumeReplica.CorruptBlockException.class);
    }
  }

  @Test
  void anEncryptingStoreKeysAReplicaFromItsAssignmentAlsoAfterARestart() throws Exception {
    ReplicatedVolume.Context ctx =
        new ReplicatedVolume.Context() {
          @Override
          public String nodeId() {
            return "n1";
          }

          @Override
          public PeerChannels peers() {
            return null;
          }

          @Override
          public void report(io.mycnet.storage.api.v1.ReplicaReport r) {}

          @Override
          public void recordEpoch(String volumeId, long epoch) {}
        };
    ReplicaStore store = ReplicaStore.open(dir, keys);
    store.context(ctx);
    assertThat(store.create("v1", 1, SIZE, 1L << 30).ok()).isTrue();
    ReplicatedVolume v = store.volume("v1");
    assertThatThrownBy(() -> v.replica().write(0, new byte[1])).hasMessageContaining("not known");
    v.assign(ReplicatedVolumeTest.assign(1, "n1", "n1"));
    v.replica().write(0, secret(4096));
    v.close();
    Path replica = dir.resolve("replicas").resolve("v1");
    assertThat(Files.readString(replica.resolve("encryption.meta")))
        .contains("namespace=app")
        .contains("cipher=AES-256-GCM");
    assertThat(contains(Files.readAllBytes(replica.resolve("data")), secret(64))).isFalse();
    ReplicaStore restarted = ReplicaStore.open(dir, keys);
    restarted.context(ctx);
    ReplicatedVolume again = restarted.volume("v1");
    assertThat(again.replica().read(0, 4096)).isEqualTo(secret(4096));
    assertThatThrownBy(
            () ->
                again.assign(
                    ReplicatedVolumeTest.assign(2, "n1", "n1").toBuilder()
                        .setNamespace("intruder")
                        .build()))
        .hasMessageContaining("cannot be handed to namespace intruder");
    again.close();
  }

  @Test
  void namespaceKeysDependOnTheNamespaceAndVolume() {
    NamespaceKeys k = NamespaceKeys.of(new byte[32]);
    assertThat(k.volumeKey("a", "v").getEncoded()).isEqualTo(k.volumeKey("a", "v").getEncoded());
    assertThat(k.volumeKey("a", "v").getEncoded()).isNotEqualTo(k.volumeKey("b", "v").getEncoded());
    assertThat(k.volumeKey("a", "v").getEncoded()).isNotEqualTo(k.volumeKey("a", "w").getEncoded());
    assertThat(k.keyCheck("a")).hasSize(16).isNotEqualTo(k.keyCheck("b"));
    assertThat(NamespaceKeys.of(new byte[32]).keyCheck("a")).isEqualTo(k.keyCheck("a"));
  }
}
