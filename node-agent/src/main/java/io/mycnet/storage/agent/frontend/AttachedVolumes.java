package io.mycnet.storage.agent.frontend;

import io.mycnet.storage.agent.data.CallerIdentity;
import io.mycnet.storage.agent.data.VolumeIoCalls;
import io.mycnet.storage.agent.identity.Revocations;
import io.mycnet.storage.agent.nbd.BlockDevice;
import io.mycnet.storage.agent.nbd.BlockIoException;
import io.mycnet.storage.agent.nbd.ExportDirectory;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.agent.replication.PeerChannels;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.agent.support.DurableFiles;
import io.mycnet.storage.api.v1.AccessGrant;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.AttachVolume;
import io.mycnet.storage.api.v1.DetachVolume;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The volumes attached to this node, as the NBD server may serve them (docs/block-export.md): one
 * {@link VolumeFrontend} per attachment, made by the control plane's AttachVolume, ended by its
 * DetachVolume (an older generation than the one served is ignored), kept on the primary by its
 * AssignReplica. Each attachment is recorded in {@code <data dir>/attachments/<volume>.pb} (the
 * command with the newest assignment), so that it survives a restart of the agent: commands are
 * applied once and not sent again.
 *
 * <p>Who may list and open what: on the node's own Unix socket, every attached volume in its
 * attachment's mode; on TCP, the verified client certificate {@code client:<namespace>} (not
 * revoked): the volume's owning namespace in the attachment's mode, a namespace with an access
 * grant read-only or read-write as granted (never more than the attachment); anyone else is not
 * shown the volume and is refused (NBD_REP_ERR_POLICY).
 */
public final class AttachedVolumes implements ExportDirectory, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AttachedVolumes.class);
  static final String DIR = "attachments";

  private final Path dir;
  private final String nodeId;
  private final ReplicaStore store;
  private final VolumeIoCalls local;
  private final PeerChannels peers;
  private final Revocations revocations;
  private final Duration retryWindow;
  private final Map<String, Attached> attached = new TreeMap<>();
  // The last detach of each volume no longer attached here ("fenced: <reason>"), for the CSI node
  // plugin's refusals and volume condition; cleared by the next attach.
  private final Map<String, String> lastDetach = new TreeMap<>();

  private record Attached(AttachVolume command, VolumeFrontend frontend) {}

  private AttachedVolumes(
      Path dataDir,
      String nodeId,
      ReplicaStore store,
      VolumeIoCalls local,
      PeerChannels peers,
      Revocations revocations,
      Duration retryWindow) {
    this.dir = dataDir.resolve(DIR);
    this.nodeId = nodeId;
    this.store = store;
    this.local = local;
    this.peers = peers;
    this.revocations = revocations;
    this.retryWindow = retryWindow;
  }

  /** The attachments recorded in {@code dataDir}, served again. */
  public static AttachedVolumes open(
      Path dataDir,
      String nodeId,
      ReplicaStore store,
      VolumeIoCalls local,
      PeerChannels peers,
      Revocations revocations,
      Duration retryWindow)
      throws IOException {
    AttachedVolumes a =
        new AttachedVolumes(dataDir, nodeId, store, local, peers, revocations, retryWindow);
    if (Files.isDirectory(a.dir)) {
      try (Stream<Path> files = Files.list(a.dir)) {
        for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".pb")).toList()) {
          AttachVolume c = AttachVolume.parseFrom(Files.readAllBytes(f));
          String p = a.problem(c);
          if (p != null) {
            LOG.warn("ignoring the recorded attachment {}: {}", f, p);
            continue;
          }
          a.attached.put(c.getVolumeId(), new Attached(c, a.frontend(c)));
          LOG.info(
              "attachment of {} (generation {}) served again",
              c.getVolumeId(),
              c.getAttachment().getGeneration());
        }
      }
    }
    return a;
  }

  private VolumeFrontend frontend(AttachVolume c) {
    return new VolumeFrontend(
        nodeId,
        c.getVolumeId(),
        c.getAttachment(),
        c.getAssignment(),
        store,
        local,
        peers,
        retryWindow);
  }

  /** Null when the command can be served, else why not. */
  private String problem(AttachVolume c) {
    String id = ReplicaStore.volumeIdProblem(c.getVolumeId());
    if (id != null) {
      return "volume_id: " + id;
    }
    if (!c.hasAttachment() || !c.getAttachment().getNodeId().equals(nodeId)) {
      return "the attachment names node '"
          + c.getAttachment().getNodeId()
          + "', not this node ("
          + nodeId
          + ")";
    }
    if (!c.hasAssignment() || !c.getAssignment().getVolumeId().equals(c.getVolumeId())) {
      return "the command carries no assignment of " + c.getVolumeId();
    }
    if (c.getAssignment().getSizeBytes() <= 0) {
      return "the assignment of " + c.getVolumeId() + " has no size";
    }
    return null;
  }

  /** Applies an AttachVolume (idempotent; an older generation than the one served is ignored). */
  public synchronized Outcome attach(AttachVolume c) {
    String p = problem(c);
    if (p != null) {
      return new Outcome(false, "attach refused: " + p);
    }
    Attached cur = attached.get(c.getVolumeId());
    long gen = c.getAttachment().getGeneration();
    if (cur != null && cur.command().getAttachment().getGeneration() > gen) {
      return new Outcome(
          true,
          "attachment generation "
              + gen
              + " of "
              + c.getVolumeId()
              + " is older than the one served ("
              + cur.command().getAttachment().getGeneration()
              + "): ignored");
    }
    AttachVolume record = c;
    VolumeFrontend f;
    if (cur != null) {
      f = cur.frontend();
      f.reattach(c.getAttachment());
      f.assign(c.getAssignment());
      record = c.toBuilder().setAssignment(f.assignment()).build();
    } else {
      f = frontend(c);
    }
    try {
      DurableFiles.write(dir.resolve(c.getVolumeId() + ".pb"), record.toByteArray(), true);
    } catch (IOException e) {
      if (cur == null) {
        f.close();
      }
      return new Outcome(false, "cannot record the attachment of " + c.getVolumeId() + ": " + e);
    }
    attached.put(c.getVolumeId(), new Attached(record, f));
    lastDetach.remove(c.getVolumeId());
    return new Outcome(
        true,
        c.getVolumeId()
            + " attached"
            + (c.getAttachment().getReadOnly() ? " read-only" : " read-write")
            + " (generation "
            + gen
            + "), served as "
            + c.getClaim());
  }

  /** Applies a DetachVolume (idempotent; an older generation than the one served is ignored). */
  public Outcome detach(DetachVolume d) {
    Attached cur;
    synchronized (this) {
      cur = attached.get(d.getVolumeId());
      if (cur == null) {
        return new Outcome(true, d.getVolumeId() + " is not attached here");
      }
      long served = cur.command().getAttachment().getGeneration();
      if (d.getGeneration() < served) {
        return new Outcome(
            true,
            "detach of generation "
                + d.getGeneration()
                + " of "
                + d.getVolumeId()
                + " is older than the attachment served ("
                + served
                + "): ignored");
      }
      attached.remove(d.getVolumeId());
      lastDetach.put(d.getVolumeId(), (d.getFenced() ? "fenced: " : "detached: ") + d.getReason());
    }
    // Outside the lock: a clean detach flushes, which may wait for the primary.
    cur.frontend().detach(d.getFenced(), d.getReason());
    try {
      Files.deleteIfExists(dir.resolve(d.getVolumeId() + ".pb"));
      DurableFiles.syncDirectory(dir);
    } catch (IOException e) {
      return new Outcome(false, "detached, but the record stays: " + e.getMessage());
    }
    return new Outcome(
        true, d.getVolumeId() + (d.getFenced() ? " fenced: " : " detached: ") + d.getReason());
  }

  /**
   * Gives an assignment to the frontend of an attached volume.
   *
   * @return null when the volume is not attached here
   */
  public synchronized Outcome assign(AssignReplica a) {
    Attached cur = attached.get(a.getVolumeId());
    if (cur == null) {
      return null;
    }
    if (!cur.frontend().assign(a)) {
      return new Outcome(
          true,
          "the frontend of " + a.getVolumeId() + " holds a newer assignment than " + a.getEpoch());
    }
    AttachVolume record = cur.command().toBuilder().setAssignment(a).build();
    try {
      DurableFiles.write(dir.resolve(a.getVolumeId() + ".pb"), record.toByteArray(), true);
    } catch (IOException e) {
      LOG.warn("cannot record the assignment of attached {}: {}", a.getVolumeId(), e.toString());
    }
    attached.put(a.getVolumeId(), new Attached(record, cur.frontend()));
    return new Outcome(
        true,
        "frontend of "
            + a.getVolumeId()
            + " follows epoch "
            + a.getEpoch()
            + " (primary "
            + a.getPrimaryNodeId()
            + ")");
  }

  /** The frontend of an attached volume, or null. */
  public synchronized VolumeFrontend frontend(String volumeId) {
    Attached a = attached.get(volumeId);
    return a == null ? null : a.frontend();
  }

  /** The attachment served for {@code volumeId} (with its newest assignment), or null. */
  public synchronized AttachVolume attachment(String volumeId) {
    Attached a = attached.get(volumeId);
    return a == null ? null : a.command();
  }

  /**
   * How the volume's last attachment here ended ({@code fenced: <reason>} or {@code detached:
   * <reason>}) while it is not attached, else null (also after an agent restart).
   */
  public synchronized String lastDetach(String volumeId) {
    return attached.containsKey(volumeId) ? null : lastDetach.get(volumeId);
  }

  /** What a command did: applied (possibly as a no-op) or refused, and a message. */
  public record Outcome(boolean ok, String message) {}

  // ---- ExportDirectory ----

  /** Read-only ({@code TRUE}), read-write ({@code FALSE}) or refused (null with {@code why}). */
  private Boolean mode(Attached a, Caller caller, StringBuilder why) {
    boolean attachmentRo = a.command().getAttachment().getReadOnly();
    if (caller.local()) {
      return attachmentRo;
    }
    if (caller.certificate() == null) {
      why.append("no client certificate");
      return null;
    }
    String cn =
        caller.commonName() != null
            ? caller.commonName()
            : CallerIdentity.commonName(caller.certificate());
    if (cn == null
        || !cn.startsWith(CallerIdentity.CLIENT_PREFIX)
        || cn.length() == CallerIdentity.CLIENT_PREFIX.length()) {
      why.append("the certificate '").append(cn).append("' is not a client:<namespace> identity");
      return null;
    }
    String revoked = revocations.problem(caller.certificate(), cn);
    if (revoked != null) {
      why.append(revoked).append(": revoked by the control plane");
      return null;
    }
    String ns = cn.substring(CallerIdentity.CLIENT_PREFIX.length());
    AssignReplica as = a.frontend().assignment();
    if (ReplicatedVolume.accessProblem(as, ns, false) != null) {
      why.append(ReplicatedVolume.accessProblem(as, ns, false));
      return null;
    }
    boolean grantRo = false;
    if (!as.getNamespace().equals(ns)) {
      for (AccessGrant g : as.getGrantsList()) {
        if (g.getNamespace().equals(ns)) {
          grantRo = g.getReadOnly();
        }
      }
    }
    return attachmentRo || grantRo;
  }

  @Override
  public synchronized List<Export> list(Caller caller) {
    List<Export> out = new ArrayList<>();
    for (Attached a : attached.values()) {
      if (mode(a, caller, new StringBuilder()) != null) {
        out.add(new Export(a.command().getVolumeId(), a.command().getClaim()));
      }
    }
    return out;
  }

  @Override
  public BlockDevice open(String name, Caller caller) throws ExportRefusedException {
    Attached a;
    Boolean ro;
    StringBuilder why = new StringBuilder();
    synchronized (this) {
      a = attached.get(name);
      if (a == null) {
        throw new ExportRefusedException(
            true, "no volume '" + name + "' is attached to node " + nodeId);
      }
      ro = mode(a, caller, why);
    }
    if (ro == null) {
      throw new ExportRefusedException(false, "access to " + name + " refused: " + why);
    }
    try {
      return a.frontend().open(ro);
    } catch (BlockIoException e) {
      throw new ExportRefusedException(true, e.getMessage());
    }
  }

  /** Stops every frontend (the agent stops); the attachments stay recorded. */
  @Override
  public synchronized void close() {
    attached.values().forEach(a -> a.frontend().close());
  }
}
