package io.mycnet.storage.agent.replication;

import io.mycnet.storage.agent.support.DurableFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The primary's durable record of the followers it stopped forwarding to: a node is written here
 * before a write is acknowledged without it, so a restarted primary never counts it in sync again.
 * A mark is lifted only when the node attaches for a rebuild or leaves the replica set. One node id
 * a line in {@link ReplicatedVolume#OUT_OF_SYNC_FILE}.
 */
final class OutOfSyncMarks {
  private static final Logger LOG = LoggerFactory.getLogger(OutOfSyncMarks.class);
  private final Path file;
  private final String volumeId;
  private final Set<String> nodes = ConcurrentHashMap.newKeySet();

  /** Reads the marks a primary made before a restart. */
  OutOfSyncMarks(Path file, String volumeId) {
    this.file = file;
    this.volumeId = volumeId;
    try {
      if (Files.exists(file)) {
        for (String line : Files.readAllLines(file)) {
          if (!line.isBlank()) {
            nodes.add(line.strip());
          }
        }
      }
    } catch (IOException e) {
      LOG.warn("cannot read the out-of-sync marks of {}: {}", volumeId, e.toString());
    }
  }

  boolean contains(String node) {
    return nodes.contains(node);
  }

  Set<String> nodes() {
    return Set.copyOf(nodes);
  }

  /** Marks {@code node} durably; false when it was marked already. */
  boolean mark(String node) {
    if (!nodes.add(node)) {
      return false;
    }
    save();
    return true;
  }

  /** Lifts the mark of {@code node} (it attaches for a rebuild). */
  void lift(String node) {
    if (nodes.remove(node)) {
      save();
    }
  }

  /** Lifts the marks of the nodes {@code gone} says left the replica set. */
  void liftIf(Predicate<String> gone) {
    if (nodes.removeIf(gone)) {
      save();
    }
  }

  private void save() {
    StringBuilder sb = new StringBuilder();
    for (String n : new TreeSet<>(nodes)) {
      sb.append(n).append('\n');
    }
    try {
      DurableFiles.write(file, sb.toString(), true);
    } catch (IOException e) {
      LOG.warn("cannot record the out-of-sync marks of {}: {}", volumeId, e.toString());
    }
  }
}
