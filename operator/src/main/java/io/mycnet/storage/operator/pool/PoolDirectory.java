package io.mycnet.storage.operator.pool;

import io.mycnet.storage.api.v1.NodeRecord;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The storage pools in force, by name: written by the {@code StoragePool} reconciler, read by
 * placement ({@link PoolScopedPlacer}), by the overcommit function of the allocation manager and by
 * the {@code StorageClaim} reconciler. Thread-safe.
 */
public final class PoolDirectory {
  private final Map<String, PoolDefinition> pools = new ConcurrentHashMap<>();

  /** Puts a pool; returns the definition it replaced. */
  public Optional<PoolDefinition> put(PoolDefinition pool) {
    return Optional.ofNullable(pools.put(pool.name(), pool));
  }

  public Optional<PoolDefinition> get(String name) {
    return Optional.ofNullable(name == null ? null : pools.get(name));
  }

  public Optional<PoolDefinition> remove(String name) {
    return Optional.ofNullable(pools.remove(name));
  }

  public Set<String> names() {
    return new TreeSet<>(pools.keySet());
  }

  /** The pools whose node selector matches the node (placement's pool membership). */
  public Set<String> poolsOf(NodeRecord node) {
    Set<String> out = new TreeSet<>();
    for (PoolDefinition p : pools.values()) {
      if (p.contains(node)) {
        out.add(p.name());
      }
    }
    return out;
  }

  /** The pool's overcommit ratio; 1.0 (no overcommit) for a pool that is not known. */
  public double overcommit(String pool) {
    PoolDefinition p = pools.get(pool);
    return p == null ? 1.0 : p.overcommitRatio();
  }
}
