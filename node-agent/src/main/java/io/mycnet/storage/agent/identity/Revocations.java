package io.mycnet.storage.agent.identity;

import com.google.protobuf.InvalidProtocolBufferException;
import io.mycnet.storage.agent.data.DataServer;
import io.mycnet.storage.agent.support.DurableFiles;
import io.mycnet.storage.api.v1.RevocationList;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The revoked certificate serials and node ids this agent refuses, as the control plane last sent
 * them over the session ({@code ControlMessage.revocations}). Kept in {@code
 * <data-dir>/state/revocations} (written with fsync before it takes effect), so that an agent
 * restarted without a session still refuses what was revoked. Thread-safe: one immutable snapshot,
 * replaced as a whole.
 */
public final class Revocations {
  private static final Logger LOG = LoggerFactory.getLogger(Revocations.class);
  public static final String FILE = "revocations";

  private record Snapshot(Set<String> serials, Set<String> nodeIds, long revision) {}

  private final Path file;
  private volatile Snapshot current;
  private boolean stored = true;

  private Revocations(Path file, Snapshot s) {
    this.file = file;
    this.current = s;
  }

  /** The list stored in {@code dataDir}, or an empty one. A corrupt file is an error. */
  public static Revocations open(Path dataDir) {
    Path f = dataDir.resolve("state").resolve(FILE);
    if (!Files.exists(f)) {
      return new Revocations(f, new Snapshot(Set.of(), Set.of(), 0));
    }
    try {
      Revocations r = new Revocations(f, snapshot(RevocationList.parseFrom(Files.readAllBytes(f))));
      LOG.info(
          "revocations loaded: {} certificate(s), {} node(s) (etcd revision {})",
          r.current.serials().size(),
          r.current.nodeIds().size(),
          r.current.revision());
      return r;
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(
          f + " is corrupt (" + e.getMessage() + "); delete it to wait for the next list", e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + f, e);
    }
  }

  /** An in-memory list (tests, and the decision without a data directory). */
  public static Revocations of(RevocationList l) {
    return new Revocations(null, snapshot(l));
  }

  private static Snapshot snapshot(RevocationList l) {
    return new Snapshot(
        Set.copyOf(l.getSerialsList()), Set.copyOf(l.getNodeIdsList()), l.getRevision());
  }

  /**
   * Takes a list from the control plane: stored durably (fsync), and in effect at once. A list
   * equal to the current one changes nothing.
   *
   * @throws IOException when the list is in effect but could not be stored
   * @return true when the list changed
   */
  public synchronized boolean update(RevocationList l) throws IOException {
    Snapshot next = snapshot(l);
    Snapshot now = current;
    if (stored && next.serials().equals(now.serials()) && next.nodeIds().equals(now.nodeIds())) {
      return false;
    }
    IOException notStored = null;
    if (file != null) {
      try {
        DurableFiles.write(file, l.toByteArray(), true);
      } catch (IOException e) {
        notStored = e;
      }
    }
    // In effect even when it could not be stored: refusing is the safe side.
    current = next;
    stored = notStored == null;
    LOG.info(
        "revocations now: {} certificate(s), {} node(s) (etcd revision {})",
        next.serials().size(),
        next.nodeIds().size(),
        next.revision());
    if (notStored != null) {
      throw notStored;
    }
    return true;
  }

  public boolean nodeRevoked(String nodeId) {
    return current.nodeIds().contains(nodeId);
  }

  /**
   * Why a peer presenting {@code cert} (CN {@code cn}) is refused, or null when it is not revoked:
   * its serial is revoked, or (a node certificate) its node id is.
   */
  public String problem(X509Certificate cert, String cn) {
    Snapshot s = current;
    String serial = cert.getSerialNumber().toString(16);
    if (s.serials().contains(serial)) {
      return "certificate " + serial + " of " + cn + " is revoked";
    }
    if (cn != null && !cn.startsWith(DataServer.CLIENT_PREFIX) && s.nodeIds().contains(cn)) {
      return "node " + cn + " is revoked (certificate " + serial + ")";
    }
    return null;
  }

  int size() {
    Snapshot s = current;
    return s.serials().size() + s.nodeIds().size();
  }
}
