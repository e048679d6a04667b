package io.mycnet.storage.agent.replica;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Holes of a replica, plain and encrypted: never-written blocks and blocks trimmed whole are holes
 * ({@link VolumeReplica#map}), read back as zeros, pass a scrub, and stay holes when a rebuild
 * copies the chunk to another replica.
 */
class ReplicaHolesTest {
  static final int SIZE = (1 << 20) + 1000; // the last block is short
  static final int B = VolumeReplica.BLOCK;
  @TempDir Path dir;

  VolumeReplica open(String name, boolean encrypted) throws IOException {
    NamespaceKeys keys = encrypted ? NamespaceKeys.of(new byte[32]) : null;
    VolumeReplica r = VolumeReplica.open("v1", dir.resolve(name), SIZE, keys);
    r.bindNamespace("app");
    return r;
  }

  static byte[] random(int n) {
    byte[] b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  static List<VolumeReplica.Extent> extents(Object... lengthHole) {
    List<VolumeReplica.Extent> out = new java.util.ArrayList<>();
    for (int i = 0; i < lengthHole.length; i += 2) {
      out.add(
          new VolumeReplica.Extent(
              ((Number) lengthHole[i]).longValue(), (Boolean) lengthHole[i + 1]));
    }
    return out;
  }

  @ParameterizedTest(name = "encrypted={0}")
  @ValueSource(booleans = {false, true})
  void trimmedWholeBlocksBecomeHolesAndStayHolesInACopy(boolean encrypted) throws Exception {
    try (VolumeReplica r = open("a", encrypted);
        VolumeReplica copy = open("b", encrypted)) {
      assertThat(r.map(0, SIZE)).isEqualTo(extents(SIZE, true));
      r.write(0, random(8 * B));
      r.punch(B + 10, 4 * B); // block 1 in part, blocks 2..4 whole, block 5 in part
      assertThat(r.map(0, 9 * B))
          .isEqualTo(extents(2 * B, false, 3 * B, true, 3 * B, false, B, true));
      byte[] back = r.read(0, 8 * B);
      byte[] expected = random(8 * B);
      java.util.Arrays.fill(expected, B + 10, 5 * B + 10, (byte) 0);
      assertThat(back).isEqualTo(expected);
      assertThat(r.scrub()).isEmpty();
      // A map from an unaligned offset starts there.
      assertThat(r.map(3 * B + 5, 3 * B)).isEqualTo(extents(2 * B - 5, true, B + 5, false));

      // The volume's short last block, punched to the end, is a hole too.
      r.write(SIZE - 1500, random(1500));
      r.punch(SIZE - 1000, 1000);
      assertThat(r.map(SIZE - 1000, 1000)).isEqualTo(extents(1000, true));
      assertThat(r.read(SIZE - 1500, 1500)).startsWith(random(1500)[0]).endsWith(0, 0);

      // A rebuild copies chunks with their entries: holes stay holes.
      for (long off = 0; off < SIZE; off += VolumeReplica.CHUNK) {
        int len = (int) Math.min(VolumeReplica.CHUNK, SIZE - off);
        long[] entries = new long[(len + B - 1) / B];
        byte[] chunk = r.readChunk(off, len, entries);
        copy.storeCopied(off, chunk, entries);
      }
      copy.sync();
      assertThat(copy.map(0, SIZE)).isEqualTo(r.map(0, SIZE));
      assertThat(copy.read(0, 8 * B)).isEqualTo(expected);
      assertThat(copy.scrub()).isEmpty();
    }
  }

  @ParameterizedTest(name = "encrypted={0}")
  @ValueSource(booleans = {false, true})
  void aPunchInsideOneBlockZeroesItInPlace(boolean encrypted) throws Exception {
    try (VolumeReplica r = open("a", encrypted)) {
      r.write(0, random(B));
      r.punch(100, 200);
      assertThat(r.map(0, B)).isEqualTo(extents(B, false));
      byte[] expected = random(B);
      java.util.Arrays.fill(expected, 100, 300, (byte) 0);
      assertThat(r.read(0, B)).isEqualTo(expected);
    }
  }
}
