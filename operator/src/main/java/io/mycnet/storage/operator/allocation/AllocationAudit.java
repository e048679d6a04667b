package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceUsage;
import io.mycnet.storage.api.v1.NodeUsage;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.Versioned;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Checks the accounting invariants of etcd's state at one revision: for every node, the reserved
 * bytes and replica count equal the sums over the allocations with a replica on it; for every
 * namespace, the used bytes and volume count equal the sums over its allocations; no allocation
 * lists a node twice. An empty result means the books balance exactly. Run it while no control
 * plane is writing (it reads the three key ranges one after another).
 */
public final class AllocationAudit {
  private AllocationAudit() {}

  /** The discrepancies, one line each. */
  public static List<String> check(EtcdStore store, EtcdKeys keys) {
    // Three reads at three revisions: meaningful while no decision is being written.
    List<Versioned<Allocation>> allocations = store.list(keys.allocations(), Allocation.parser());
    List<Versioned<NodeUsage>> nodeUsages = store.list(keys.nodeUsages(), NodeUsage.parser());
    List<Versioned<NamespaceUsage>> nsUsages =
        store.list(keys.namespaceUsages(), NamespaceUsage.parser());

    Map<String, long[]> expectNode = new TreeMap<>();
    Map<String, long[]> expectNs = new TreeMap<>();
    List<String> problems = new ArrayList<>();
    for (Versioned<Allocation> v : allocations) {
      Allocation a = v.value();
      Set<String> seen = new HashSet<>();
      for (Replica r : a.getReplicasList()) {
        if (!seen.add(r.getNodeId())) {
          problems.add("volume " + a.getVolumeId() + " lists node " + r.getNodeId() + " twice");
          continue;
        }
        long[] e = expectNode.computeIfAbsent(r.getNodeId(), k -> new long[2]);
        e[0] += a.getSizeBytes();
        e[1] += 1;
      }
      long[] n = expectNs.computeIfAbsent(a.getNamespace(), k -> new long[2]);
      n[0] += a.getSizeBytes();
      n[1] += 1;
    }
    Map<String, long[]> actualNode = new TreeMap<>();
    for (Versioned<NodeUsage> v : nodeUsages) {
      actualNode.put(
          v.value().getNodeId(),
          new long[] {v.value().getReservedBytes(), v.value().getReplicaCount()});
    }
    Map<String, long[]> actualNs = new TreeMap<>();
    for (Versioned<NamespaceUsage> v : nsUsages) {
      long[] sum = actualNs.computeIfAbsent(v.value().getNamespace(), k -> new long[2]);
      sum[0] += v.value().getUsedBytes();
      sum[1] += v.value().getVolumeCount();
    }
    compare("node", expectNode, actualNode, problems);
    compare("namespace", expectNs, actualNs, problems);
    return problems;
  }

  private static void compare(
      String what, Map<String, long[]> expected, Map<String, long[]> actual, List<String> out) {
    Set<String> all = new HashSet<>(expected.keySet());
    all.addAll(actual.keySet());
    for (String id : new java.util.TreeSet<>(all)) {
      long[] e = expected.getOrDefault(id, new long[2]);
      long[] a = actual.getOrDefault(id, new long[2]);
      if (e[0] != a[0] || e[1] != a[1]) {
        out.add(
            what
                + " "
                + id
                + ": recorded "
                + a[0]
                + " bytes / "
                + a[1]
                + ", allocations sum to "
                + e[0]
                + " bytes / "
                + e[1]);
      }
    }
  }
}
