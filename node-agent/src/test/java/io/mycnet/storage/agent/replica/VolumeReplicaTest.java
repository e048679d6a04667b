package io.mycnet.storage.agent.replica;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VolumeReplicaTest {
  @TempDir Path dir;

  @Test
  void unalignedWritesReadBackAndSurviveReopen() throws Exception {
    byte[] pattern = new byte[10_000];
    new Random(7).nextBytes(pattern);
    try (VolumeReplica r = VolumeReplica.open("v1", dir, 1 << 20)) {
      r.write(1234, pattern);
      assertArrayEquals(pattern, r.read(1234, pattern.length));
      assertArrayEquals(new byte[100], r.read(0, 100));
    }
    try (VolumeReplica r = VolumeReplica.open("v1", dir, 1 << 20)) {
      assertArrayEquals(pattern, r.read(1234, pattern.length));
      r.zero(2000, 3000);
      assertArrayEquals(new byte[3000], r.read(2000, 3000));
      assertEquals(List.of(), r.scrub());
    }
  }

  @Test
  void corruptionIsCaughtByReadScrubAndAudit() throws Exception {
    byte[] pattern = new byte[8192];
    new Random(1).nextBytes(pattern);
    byte[] nonce = new byte[32];
    byte[] before;
    try (VolumeReplica r = VolumeReplica.open("v1", dir, 1 << 20)) {
      r.write(4096, pattern);
      before = r.auditDigest(nonce, 0, 1 << 20);
    }
    try (RandomAccessFile f = new RandomAccessFile(dir.resolve("data").toFile(), "rw")) {
      f.seek(4096 + 100);
      f.write(pattern[100] ^ 0xFF);
    }
    try (VolumeReplica r = VolumeReplica.open("v1", dir, 1 << 20)) {
      var e = assertThrows(VolumeReplica.CorruptBlockException.class, () -> r.read(4096, 10));
      assertEquals(4096, e.offset());
      assertEquals(List.of(4096L), r.scrub());
      assertFalse(java.util.Arrays.equals(before, r.auditDigest(nonce, 0, 1 << 20)));
      // the other block is fine
      assertArrayEquals(java.util.Arrays.copyOfRange(pattern, 4096, 8192), r.read(8192, 4096));
    }
  }

  @Test
  void tornWriteWithoutChecksumIsDetected() throws Exception {
    try (VolumeReplica r = VolumeReplica.open("v1", dir, 1 << 20)) {
      assertEquals(List.of(), r.scrub());
    }
    try (RandomAccessFile f = new RandomAccessFile(dir.resolve("data").toFile(), "rw")) {
      f.seek(65536);
      f.write(42); // data landed, its checksum did not
    }
    try (VolumeReplica r = VolumeReplica.open("v1", dir, 1 << 20)) {
      assertEquals(List.of(65536L), r.scrub());
    }
  }

  @Test
  void badRangesAreNamed() throws Exception {
    try (VolumeReplica r = VolumeReplica.open("v1", dir, 1 << 20)) {
      assertNull(r.rangeProblem(0, 1 << 20));
      assertNotNull(r.rangeProblem(-1, 1));
      assertNotNull(r.rangeProblem(0, -1));
      assertNotNull(r.rangeProblem(1 << 20, 1));
      assertNotNull(r.rangeProblem((1 << 20) - 1, 2));
    }
  }
}
