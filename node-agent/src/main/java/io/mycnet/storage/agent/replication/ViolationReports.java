package io.mycnet.storage.agent.replication;

import io.mycnet.storage.api.v1.ReplicaReport;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code PEER_PROTOCOL_VIOLATION} reports of one replica: a write whose epoch claim the
 * assignments contradict is reported against its sender, at most once per {@link
 * ReplicatedVolume#VIOLATION_REPORT_INTERVAL_MS} per sender and kind of claim (older, current,
 * newer epoch), the ones held back counted in the next. A flood of forged writes is not a flood of
 * log lines or reports.
 */
final class ViolationReports {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicatedVolume.class);
  private final String volumeId;
  private final Consumer<ReplicaReport> report;
  // Per "sender/kind": [0] sent at least once, [1] when (nanoTime), [2] held back since.
  private final Map<String, long[]> slots = new ConcurrentHashMap<>();

  ViolationReports(String volumeId, Consumer<ReplicaReport> report) {
    this.volumeId = volumeId;
    this.report = report;
  }

  /**
   * A write from {@code sender} claiming epoch {@code claimed} ({@code kind}: older, current or
   * newer than this replica's assignment) was refused because of {@code why}; this replica is at
   * {@code epoch}.
   */
  void refused(String sender, String kind, long claimed, long epoch, String why) {
    long now = System.nanoTime();
    long heldBack = -1;
    long[] slot = slots.computeIfAbsent(sender + "/" + kind, k -> new long[] {0, 0, 0});
    synchronized (slot) {
      if (slot[0] == 0
          || now - slot[1]
              >= TimeUnit.MILLISECONDS.toNanos(ReplicatedVolume.VIOLATION_REPORT_INTERVAL_MS)) {
        heldBack = slot[2];
        slot[0] = 1;
        slot[1] = now;
        slot[2] = 0;
      } else {
        slot[2]++;
      }
    }
    if (heldBack < 0) {
      LOG.debug(
          "refused a write to {} from {} claiming epoch {}: {}", volumeId, sender, claimed, why);
      return;
    }
    LOG.warn(
        "refused a write to {} from {} claiming epoch {}: {} (reported to the control plane)",
        volumeId,
        sender,
        claimed,
        why);
    report.accept(
        ReplicaReport.newBuilder()
            .setVolumeId(volumeId)
            .setEpoch(claimed)
            .setKind(ReplicaReport.Kind.PEER_PROTOCOL_VIOLATION)
            .setNodeId(sender)
            .setMessage(
                sender
                    + " sent a write claiming epoch "
                    + claimed
                    + " ("
                    + kind
                    + " epoch; this replica is at "
                    + epoch
                    + "): "
                    + why
                    + (heldBack > 0
                        ? "; " + heldBack + " more such writes since the last report"
                        : ""))
            .build());
  }
}
