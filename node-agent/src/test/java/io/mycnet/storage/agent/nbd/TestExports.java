package io.mycnet.storage.agent.nbd;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A test export directory: each volume belongs to a namespace; the node itself (Unix socket) opens
 * everything, a TLS client {@code client:<ns>} opens its namespace's volumes read-write and the
 * ones shared with it read-only. A volume marked read-only is read-only for everyone.
 */
final class TestExports implements ExportDirectory {
  private record Entry(
      SparseVolume volume, String namespace, List<String> sharedWith, boolean readOnly) {}

  private final Map<String, Entry> entries = new LinkedHashMap<>();

  synchronized TestExports add(
      SparseVolume v, String namespace, boolean readOnly, String... sharedWith) {
    entries.put(v.name, new Entry(v, namespace, List.of(sharedWith), readOnly));
    return this;
  }

  /** null: may not open; true: read-only; false: read-write. */
  private static Boolean access(Entry e, Caller caller) {
    if (caller.local()) {
      return e.readOnly();
    }
    String cn = caller.commonName();
    if (cn == null || !cn.startsWith("client:")) {
      return null;
    }
    String ns = cn.substring("client:".length());
    if (ns.equals(e.namespace())) {
      return e.readOnly();
    }
    return e.sharedWith().contains(ns) ? Boolean.TRUE : null;
  }

  @Override
  public synchronized List<Export> list(Caller caller) {
    List<Export> out = new ArrayList<>();
    for (Entry e : entries.values()) {
      if (access(e, caller) != null) {
        out.add(new Export(e.volume().name, e.namespace() + "/claim-" + e.volume().name));
      }
    }
    return out;
  }

  @Override
  public synchronized BlockDevice open(String name, Caller caller) throws ExportRefusedException {
    Entry e = entries.get(name);
    if (e == null) {
      throw new ExportRefusedException(true, "no export " + name + " on this node");
    }
    Boolean ro = access(e, caller);
    if (ro == null) {
      throw new ExportRefusedException(
          false, caller.commonName() + " may not open " + name + " of namespace " + e.namespace());
    }
    return e.volume().open(ro);
  }
}
