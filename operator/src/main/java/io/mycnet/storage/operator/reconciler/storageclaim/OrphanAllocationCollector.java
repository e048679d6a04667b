package io.mycnet.storage.operator.reconciler.storageclaim;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.reconciler.KubeEvents;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Releases volumes whose {@code StorageClaim} no longer exists. A claim's finalizer normally
 * releases its volume ({@link StorageClaimReconciler#cleanup}); this catches what the finalizer
 * cannot: a claim deleted while no operator ran and its finalizer removed by hand, or local mode's
 * in-memory API coming back without a claim that was removed while the control plane was down.
 *
 * <p>A pass runs only while {@code ready} holds (this control plane leads and the claims' informer
 * has completed its first full sync) and only when both listings succeed: every allocation from
 * etcd, then every claim from the API (in the watched namespaces). An allocation whose volume id
 * names a claim ({@link VolumeIds}) that the listing lacks is <em>suspected</em> from that moment
 * (a log line and an {@code OrphanSuspected} event); it is released only when a later pass, at
 * least {@code delay} after the suspicion, still finds the claim absent, asked for by name, and the
 * allocation is still the same incarnation. The release is the one a claim's deletion does (quota,
 * node reservations and the agents' {@code DeleteReplica} commands in one etcd transaction), logged
 * at WARN and recorded as an {@code OrphanReleased} warning event about the claim. Suspicions live
 * in memory: a new leader starts every delay afresh. Allocations whose id has no claim shape or
 * whose namespace is not watched are never touched.
 */
public final class OrphanAllocationCollector implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(OrphanAllocationCollector.class);

  /** A volume without a claim since {@code since}, in the incarnation then seen. */
  public record Suspect(String volumeId, String incarnation, Instant since) {}

  /**
   * What one pass did: {@code skipped} says why it did nothing (null when it ran); {@code
   * suspected} the volumes newly suspected; {@code released} the volumes released.
   */
  public record Pass(String skipped, List<String> suspected, List<String> released) {}

  private final KubernetesClient client;
  private final TrustAwareStorageManager manager;
  private final KubeEvents events;
  private final Set<String> watchNamespaces;
  private final BooleanSupplier ready;
  private final Clock clock;
  private final Duration delay;
  private final Map<String, Suspect> suspects = new LinkedHashMap<>();
  private final AtomicLong passes = new AtomicLong();
  private final AtomicLong releasedTotal = new AtomicLong();
  private ScheduledExecutorService timer;

  /**
   * @param watchNamespaces the namespaces whose claims this operator reconciles (empty: all)
   * @param ready whether a pass may run: leader, claims' informer synced
   * @param delay how long a volume must be seen without its claim before it is released
   */
  public OrphanAllocationCollector(
      KubernetesClient client,
      TrustAwareStorageManager manager,
      KubeEvents events,
      Set<String> watchNamespaces,
      BooleanSupplier ready,
      Clock clock,
      Duration delay) {
    if (delay.isNegative() || delay.isZero()) {
      throw new IllegalArgumentException("the orphan delay must be positive, was " + delay);
    }
    this.client = client;
    this.manager = manager;
    this.events = events;
    this.watchNamespaces = Set.copyOf(watchNamespaces);
    this.ready = ready;
    this.clock = clock;
    this.delay = delay;
  }

  /** The time between two passes for a delay: a fifth of it, between 200 ms and 30 s. */
  public static Duration passInterval(Duration delay) {
    long ms = Math.max(200, Math.min(30_000, delay.toMillis() / 5));
    return Duration.ofMillis(ms);
  }

  /** Runs a pass every {@link #passInterval}. */
  public synchronized OrphanAllocationCollector start() {
    if (timer != null) {
      return this;
    }
    timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "orphan-volumes");
              t.setDaemon(true);
              return t;
            });
    long every = passInterval(delay).toMillis();
    timer.scheduleWithFixedDelay(
        () -> {
          try {
            collect();
          } catch (RuntimeException e) {
            LOG.warn("orphan volume pass failed: {}", e.toString());
          }
        },
        every,
        every,
        TimeUnit.MILLISECONDS);
    return this;
  }

  /** One pass (also run by the timer). */
  public synchronized Pass collect() {
    passes.incrementAndGet();
    if (!ready.getAsBoolean()) {
      suspects.clear();
      return new Pass("not leading, or the claims are not synced yet", List.of(), List.of());
    }
    List<Allocation> allocations;
    try {
      allocations = manager.list();
    } catch (RuntimeException e) {
      return skipped("cannot list the allocations: " + e.getMessage());
    }
    Set<ResourceID> claims;
    try {
      claims = listClaims();
    } catch (RuntimeException e) {
      return skipped("cannot list the StorageClaims: " + firstLine(e));
    }
    Instant now = clock.instant();
    List<String> suspected = new ArrayList<>();
    List<String> released = new ArrayList<>();
    Set<String> stillOrphan = new HashSet<>();
    for (Allocation a : allocations) {
      String id = a.getVolumeId();
      Optional<ResourceID> claim = VolumeIds.claimOf(id);
      if (claim.isEmpty() || !watched(claim.get()) || claims.contains(claim.get())) {
        continue;
      }
      stillOrphan.add(id);
      Suspect s = suspects.get(id);
      if (s == null || !s.incarnation().equals(a.getIncarnation())) {
        suspects.put(id, new Suspect(id, a.getIncarnation(), now));
        suspected.add(id);
        LOG.warn(
            "volume {} has no StorageClaim {}: released at {} unless the claim reappears",
            id,
            describe(claim.get()),
            now.plus(delay));
        events.normal(
            claimReference(claim.get()),
            StorageClaimReason.ORPHAN_SUSPECTED,
            "volume "
                + id
                + " has no claim; it is released after "
                + delay.toSeconds()
                + "s unless the claim reappears");
        continue;
      }
      if (Duration.between(s.since(), now).compareTo(delay) < 0) {
        continue;
      }
      // Ask for the claim by name once more, right before acting.
      try {
        if (client
                .resources(StorageClaim.class)
                .inNamespace(claim.get().getNamespace().orElseThrow())
                .withName(claim.get().getName())
                .get()
            != null) {
          suspects.remove(id);
          stillOrphan.remove(id);
          continue;
        }
      } catch (RuntimeException e) {
        LOG.warn("cannot read StorageClaim {}: {}", describe(claim.get()), firstLine(e));
        continue;
      }
      Optional<Allocation> gone =
          manager.releaseIf(id, current -> current.getIncarnation().equals(s.incarnation()));
      suspects.remove(id);
      stillOrphan.remove(id);
      if (gone.isPresent()) {
        released.add(id);
        releasedTotal.incrementAndGet();
        Allocation r = gone.get();
        String message =
            "volume "
                + id
                + " released: its claim has been absent since "
                + s.since()
                + " ("
                + r.getSizeBytes()
                + " bytes on "
                + r.getReplicasCount()
                + " replicas returned)";
        LOG.warn("{}", message);
        events.warning(claimReference(claim.get()), StorageClaimReason.ORPHAN_RELEASED, message);
      }
    }
    suspects.keySet().retainAll(stillOrphan);
    return new Pass(null, suspected, released);
  }

  private Pass skipped(String why) {
    LOG.warn("orphan volume pass skipped: {}", why);
    return new Pass(why, List.of(), List.of());
  }

  private Set<ResourceID> listClaims() {
    Set<ResourceID> out = new HashSet<>();
    if (watchNamespaces.isEmpty()) {
      for (StorageClaim c :
          client.resources(StorageClaim.class).inAnyNamespace().list().getItems()) {
        out.add(ResourceID.fromResource(c));
      }
    } else {
      for (String ns : watchNamespaces) {
        for (StorageClaim c :
            client.resources(StorageClaim.class).inNamespace(ns).list().getItems()) {
          out.add(ResourceID.fromResource(c));
        }
      }
    }
    return out;
  }

  private boolean watched(ResourceID claim) {
    return watchNamespaces.isEmpty()
        || claim.getNamespace().map(watchNamespaces::contains).orElse(false);
  }

  /** The volumes suspected now, by id. */
  public synchronized Map<String, Suspect> suspects() {
    return Map.copyOf(suspects);
  }

  /** Passes run so far (also those skipped). */
  public long passes() {
    return passes.get();
  }

  /** Volumes released so far. */
  public long releasedTotal() {
    return releasedTotal.get();
  }

  public Duration delay() {
    return delay;
  }

  private static StorageClaim claimReference(ResourceID id) {
    StorageClaim c = new StorageClaim();
    c.setMetadata(
        new ObjectMetaBuilder()
            .withName(id.getName())
            .withNamespace(id.getNamespace().orElse(null))
            .build());
    return c;
  }

  private static String describe(ResourceID id) {
    return id.getNamespace().orElse("") + "/" + id.getName();
  }

  private static String firstLine(Exception e) {
    String m = e.getMessage() == null ? e.toString() : e.getMessage();
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }

  @Override
  public synchronized void close() {
    if (timer != null) {
      timer.shutdownNow();
    }
  }
}
