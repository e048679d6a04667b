package io.mycnet.storage.agent.replica;

import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.api.v1.ReplicaReport;
import java.io.IOException;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One pass of the scrub: verifies every block of every replica held here (not those being rebuilt)
 * and reports each block that fails its checksum as an {@code INTEGRITY_FAULT}.
 */
public final class Scrubber {
  private static final Logger LOG = LoggerFactory.getLogger(Scrubber.class);

  private final ReplicaStore store;
  private final Consumer<ReplicaReport> reports;
  private final BooleanSupplier stopped;

  /**
   * @param reports where the faults go
   * @param stopped true once the agent stops (the pass ends at the next replica)
   */
  public Scrubber(ReplicaStore store, Consumer<ReplicaReport> reports, BooleanSupplier stopped) {
    this.store = store;
    this.reports = reports;
    this.stopped = stopped;
  }

  public void scrub() {
    for (ReplicatedVolume v : store.volumes()) {
      if (stopped.getAsBoolean()) {
        return;
      }
      if (v.rebuild != null) {
        continue;
      }
      try {
        for (long off : v.replica().scrub()) {
          LOG.warn(
              "scrub: block at {} of the replica of {} is corrupt", off, v.replica().volumeId());
          reports.accept(
              ReplicaReport.newBuilder()
                  .setVolumeId(v.replica().volumeId())
                  .setEpoch(v.epoch())
                  .setKind(ReplicaReport.Kind.INTEGRITY_FAULT)
                  .setOffset(off)
                  .setMessage("scrub: block at " + off + " failed its checksum")
                  .build());
        }
      } catch (IOException | RuntimeException e) {
        LOG.warn("scrub of {} failed: {}", v.replica().volumeId(), e.toString());
      }
    }
  }
}
