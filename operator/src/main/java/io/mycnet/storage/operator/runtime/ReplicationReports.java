package io.mycnet.storage.operator.runtime;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.ReplicationStatus;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.operator.attachment.AttachmentService;
import io.mycnet.storage.operator.pool.PoolDirectory;
import io.mycnet.storage.operator.reconciler.KubeEvents;
import io.mycnet.storage.operator.reconciler.node.NodeReason;
import io.mycnet.storage.operator.reconciler.storageclaim.VolumeIds;
import io.mycnet.storage.operator.replication.ReplicationManager;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What the replication manager tells a person, as Kubernetes events and {@code /metrics}: a volume
 * lost (Warning {@code VolumeLost} on its claim, {@code mycnet_volumes_lost_total}), a volume
 * recovered from a replica that was current ({@code VolumeRecovered}, {@code
 * mycnet_volumes_recovered_total}), and node DOWN decisions held because too many nodes went silent
 * at once (Warning {@code ReplicationHeld} on every StoragePool, gauge {@code
 * mycnet_replication_held}), and an attachment fenced because its node is DOWN or no longer trusted
 * (Warning {@code NodeFenced} on the Kubernetes Node).
 */
final class ReplicationReports implements ReplicationManager.Observer {
  private final PoolDirectory pools;
  private final KubeEvents events;
  private final Counter lost;
  private final Counter recovered;
  private final AtomicInteger held = new AtomicInteger();

  ReplicationReports(PoolDirectory pools, KubeEvents events, MeterRegistry metrics) {
    this.pools = pools;
    this.events = events;
    this.lost =
        Counter.builder("mycnet_volumes_lost")
            .description("Volumes that lost every replica that could serve them")
            .register(metrics);
    this.recovered =
        Counter.builder("mycnet_volumes_recovered")
            .description("Volumes without a HEALTHY replica recovered from a current one")
            .register(metrics);
    metrics.gauge("mycnet_replication_held", held);
  }

  @Override
  public void volumeLost(Allocation a) {
    lost.increment();
    claimOf(a)
        .ifPresent(
            c ->
                events.warning(
                    c,
                    "VolumeLost",
                    "volume "
                        + a.getVolumeId()
                        + " has no HEALTHY replica and no current replica on a live node to"
                        + " recover it from; it comes back if a node holding a current replica"
                        + " returns"));
  }

  @Override
  public void volumeRecovered(Allocation a, String how) {
    recovered.increment();
    claimOf(a).ifPresent(c -> events.normal(c, "VolumeRecovered", how));
  }

  @Override
  public void attachmentFenced(AttachmentService.Fenced f) {
    Node n = new Node();
    n.setMetadata(new ObjectMetaBuilder().withName(f.nodeId()).build());
    events.warning(n, NodeReason.NODE_FENCED, "fenced off " + f);
  }

  @Override
  public void holdChanged(ReplicationStatus status) {
    boolean on = !status.getHoldReason().isEmpty();
    held.set(on ? 1 : 0);
    for (String name : pools.names()) {
      StoragePool p = new StoragePool();
      p.setMetadata(new ObjectMetaBuilder().withName(name).build());
      if (on) {
        events.warning(
            p,
            "ReplicationHeld",
            "nodes " + status.getHeldNodesList() + " not marked DOWN: " + status.getHoldReason());
      } else {
        events.normal(p, "ReplicationResumed", "node DOWN decisions are no longer held");
      }
    }
  }

  private static java.util.Optional<StorageClaim> claimOf(Allocation a) {
    return VolumeIds.claimOf(a.getVolumeId())
        .map(
            id -> {
              StorageClaim c = new StorageClaim();
              c.setMetadata(
                  new ObjectMetaBuilder()
                      .withName(id.getName())
                      .withNamespace(id.getNamespace().orElse(null))
                      .build());
              return c;
            });
  }
}
