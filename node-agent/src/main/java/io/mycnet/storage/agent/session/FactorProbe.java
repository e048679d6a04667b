package io.mycnet.storage.agent.session;

import io.mycnet.storage.agent.replica.VolumeReplica;
import io.mycnet.storage.api.v1.MeasuredFactors;
import io.mycnet.storage.api.v1.TrustFactor;
import io.mycnet.storage.api.v1.TrustFactorSample;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Measures the factors an agent can measure about itself (REPORTED factors; the control plane
 * trusts its own measurements more):
 *
 * <ul>
 *   <li>IO performance: a real probe on the data directory — a sequential write of {@code
 *       probeBytes} (64 KiB blocks of random data) followed by fsync, giving MiB/s; then 16 small
 *       (4 KiB) writes each followed by fdatasync, giving the median and worst latency. The probe
 *       file is deleted afterwards. Normalised: {@code 0.5 * min(1, MiB/s / 100) + 0.5 *
 *       latencyScore}, latencyScore 1 at a median of 1 ms or less, 0 at 100 ms or more, log-linear
 *       in between.
 *   <li>Encryption compliance: 1 when encryption at rest is on and its key loaded (new replicas are
 *       then encrypted, {@link VolumeReplica}), else 0.
 *   <li>Access control: the data directory's permissions: 1 for owner-only, 0.5 when only the group
 *       has access, 0 when others have access.
 * </ul>
 */
public final class FactorProbe {
  private static final int BLOCK = 64 * 1024;
  private static final int SMALL = 4 * 1024;
  private static final int SMALL_WRITES = 16;

  private final Path dataDir;
  private final long probeBytes;
  private final boolean encryptionAtRest;

  /**
   * @param encryptionAtRest true only when encryption at rest is on and its master key loaded
   */
  public FactorProbe(Path dataDir, long probeBytes, boolean encryptionAtRest) {
    this.dataDir = dataDir;
    this.probeBytes = probeBytes;
    this.encryptionAtRest = encryptionAtRest;
  }

  public MeasuredFactors measure(long nowMs) {
    Path f = dataDir.resolve(".io-probe-" + ProcessHandle.current().pid());
    double mibPerSecond;
    long[] lat = new long[SMALL_WRITES];
    try {
      byte[] block = new byte[BLOCK];
      ThreadLocalRandom.current().nextBytes(block);
      try (FileChannel ch =
          FileChannel.open(
              f,
              StandardOpenOption.CREATE,
              StandardOpenOption.TRUNCATE_EXISTING,
              StandardOpenOption.WRITE)) {
        long t0 = System.nanoTime();
        long written = 0;
        while (written < probeBytes) {
          ByteBuffer b = ByteBuffer.wrap(block, 0, (int) Math.min(BLOCK, probeBytes - written));
          while (b.hasRemaining()) {
            written += ch.write(b);
          }
        }
        ch.force(true);
        long elapsed = Math.max(1, System.nanoTime() - t0);
        mibPerSecond = (probeBytes / (1024.0 * 1024.0)) / (elapsed / 1e9);
        for (int i = 0; i < SMALL_WRITES; i++) {
          ByteBuffer b = ByteBuffer.wrap(block, 0, SMALL);
          long s = System.nanoTime();
          ch.write(b, (long) i * SMALL);
          ch.force(false);
          lat[i] = (System.nanoTime() - s) / 1000;
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("disk probe on " + dataDir + " failed", e);
    } finally {
      try {
        Files.deleteIfExists(f);
      } catch (IOException e) {
        // left behind; overwritten by the next probe
      }
    }
    Arrays.sort(lat);
    long p50 = lat[SMALL_WRITES / 2];
    long max = lat[SMALL_WRITES - 1];
    double throughputScore = Math.min(1.0, mibPerSecond / 100.0);
    double latencyScore = clamp(1.0 - Math.log10(Math.max(1.0, p50 / 1000.0)) / 2.0);
    double io = clamp(0.5 * throughputScore + 0.5 * latencyScore);

    Set<PosixFilePermission> perms;
    try {
      perms = Files.getPosixFilePermissions(dataDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the permissions of " + dataDir, e);
    }
    boolean others = perms.stream().anyMatch(p -> p.name().startsWith("OTHERS"));
    boolean group = perms.stream().anyMatch(p -> p.name().startsWith("GROUP"));
    double access = others ? 0.0 : group ? 0.5 : 1.0;

    return MeasuredFactors.newBuilder()
        .setWriteMibPerSecond(mibPerSecond)
        .setFsyncLatencyP50Micros(p50)
        .setFsyncLatencyMaxMicros(max)
        .setProbeBytes(probeBytes)
        .setEncryptionAtRest(encryptionAtRest)
        .setDataDirPermissions(PosixFilePermissions.toString(perms))
        .setDataDirOwnerOnly(!others && !group)
        .addSamples(sample(TrustFactor.TRUST_FACTOR_IO_PERFORMANCE, io, nowMs))
        .addSamples(
            sample(TrustFactor.TRUST_FACTOR_ENCRYPTION_COMPLIANCE, encryptionAtRest ? 1 : 0, nowMs))
        .addSamples(sample(TrustFactor.TRUST_FACTOR_ACCESS_CONTROL, access, nowMs))
        .setMeasuredAtUnixMs(nowMs)
        .build();
  }

  private static TrustFactorSample sample(TrustFactor f, double v, long nowMs) {
    return TrustFactorSample.newBuilder()
        .setFactor(f)
        .setValue(v)
        .setObservedAtUnixMs(nowMs)
        .build();
  }

  private static double clamp(double v) {
    return Math.max(0.0, Math.min(1.0, v));
  }
}
