package io.mycnet.storage.operator.reconciler;

import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.store.StoreWatch;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One etcd watch on the allocations, fanned out to the reconcilers' event sources: a volume that
 * changes state (a rebuild starts or completes, a node is lost, it is released) makes its claim and
 * its service namespace reconcile again, so their status follows etcd without polling.
 */
public final class AllocationEvents implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AllocationEvents.class);

  /** Told of every allocation write or release. */
  public interface Listener {
    /**
     * @param volumeId the volume
     * @param namespace its service namespace's store id, or null when it is not known (a release of
     *     a volume this process never saw)
     */
    void changed(String volumeId, String namespace);
  }

  private final TrustAwareStorageManager manager;
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private final Map<String, String> namespaceOfVolume = new ConcurrentHashMap<>();
  private StoreWatch watcher;

  public AllocationEvents(TrustAwareStorageManager manager) {
    this.manager = manager;
  }

  public void addListener(Listener l) {
    listeners.add(l);
  }

  /** Starts watching (from now on). */
  public synchronized void start() {
    if (watcher == null) {
      watcher =
          manager.watch(
              e -> {
                String ns;
                if (e.allocation() != null) {
                  ns = e.allocation().getNamespace();
                  namespaceOfVolume.put(e.volumeId(), ns);
                } else {
                  ns = namespaceOfVolume.remove(e.volumeId());
                }
                for (Listener l : listeners) {
                  try {
                    l.changed(e.volumeId(), ns);
                  } catch (RuntimeException ex) {
                    LOG.warn(
                        "allocation listener failed for {}: {}", e.volumeId(), ex.getMessage());
                  }
                }
              });
    }
  }

  @Override
  public synchronized void close() {
    if (watcher != null) {
      watcher.close();
      watcher = null;
    }
  }
}
