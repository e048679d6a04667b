package io.mycnet.storage.agent.csi;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.agent.csi.Exec.CommandException;
import io.mycnet.storage.agent.csi.NodeRecords.Published;
import io.mycnet.storage.agent.csi.NodeRecords.Staged;
import io.mycnet.storage.agent.frontend.AttachedVolumes;
import io.mycnet.storage.api.v1.AttachVolume;
import io.mycnet.storage.csi.CsiNames;
import io.mycnet.storage.csi.v1.NodeExpandVolumeRequest;
import io.mycnet.storage.csi.v1.NodeExpandVolumeResponse;
import io.mycnet.storage.csi.v1.NodeGetCapabilitiesRequest;
import io.mycnet.storage.csi.v1.NodeGetCapabilitiesResponse;
import io.mycnet.storage.csi.v1.NodeGetInfoRequest;
import io.mycnet.storage.csi.v1.NodeGetInfoResponse;
import io.mycnet.storage.csi.v1.NodeGetVolumeStatsRequest;
import io.mycnet.storage.csi.v1.NodeGetVolumeStatsResponse;
import io.mycnet.storage.csi.v1.NodeGrpc;
import io.mycnet.storage.csi.v1.NodePublishVolumeRequest;
import io.mycnet.storage.csi.v1.NodePublishVolumeResponse;
import io.mycnet.storage.csi.v1.NodeServiceCapability;
import io.mycnet.storage.csi.v1.NodeStageVolumeRequest;
import io.mycnet.storage.csi.v1.NodeStageVolumeResponse;
import io.mycnet.storage.csi.v1.NodeUnpublishVolumeRequest;
import io.mycnet.storage.csi.v1.NodeUnpublishVolumeResponse;
import io.mycnet.storage.csi.v1.NodeUnstageVolumeRequest;
import io.mycnet.storage.csi.v1.NodeUnstageVolumeResponse;
import io.mycnet.storage.csi.v1.Topology;
import io.mycnet.storage.csi.v1.VolumeCapability;
import io.mycnet.storage.csi.v1.VolumeCapability.AccessMode.Mode;
import io.mycnet.storage.csi.v1.VolumeCondition;
import io.mycnet.storage.csi.v1.VolumeUsage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CSI Node service (spec v1.9.0) of the agent: stage = the volume's NBD export on this node as a
 * block device, formatted when blank and mounted on the staging path (mount access) or kept as the
 * device (block access); publish = a bind mount of it on the target path; both recorded under
 * {@code <data dir>/csi/} and undone exactly by unpublish and unstage.
 *
 * <p>Arguments are checked before anything else. Operations on one volume are serialized: a second
 * one while the first runs is {@code ABORTED} (the caller retries). Every command is a child
 * process with a bounded wait whose error output goes into the error message.
 */
final class CsiNodeService extends NodeGrpc.NodeImplBase {
  private static final Logger LOG = LoggerFactory.getLogger(CsiNodeService.class);
  static final Set<String> FS_TYPES = Set.of("ext4", "xfs");
  static final String DEFAULT_FS = "ext4";
  private static final Duration MKFS_TIMEOUT = Duration.ofMinutes(5);
  private static final Duration STAT_TIMEOUT = Duration.ofSeconds(15);

  private final String nodeId;
  private final String topology;
  private final int maxVolumes;
  private final AttachedVolumes attached;
  private final NodeRecords records;
  private final DeviceStacks stacks;
  private final Set<String> busy = ConcurrentHashMap.newKeySet();
  private final Map<String, Staged> staged = new ConcurrentHashMap<>();
  private final Map<Path, Published> published = new ConcurrentHashMap<>();

  CsiNodeService(
      String nodeId,
      String topology,
      int maxVolumes,
      AttachedVolumes attached,
      NodeRecords records,
      DeviceStacks stacks) {
    this.nodeId = nodeId;
    this.topology = topology;
    this.maxVolumes = maxVolumes;
    this.attached = attached;
    this.records = records;
    this.stacks = stacks;
  }

  // ---- NodeGetInfo, NodeGetCapabilities ----

  @Override
  public void nodeGetInfo(NodeGetInfoRequest request, StreamObserver<NodeGetInfoResponse> out) {
    call(
        out,
        () ->
            NodeGetInfoResponse.newBuilder()
                .setNodeId(nodeId)
                .setMaxVolumesPerNode(maxVolumes)
                .setAccessibleTopology(Topology.newBuilder().putAllSegments(segments()))
                .build());
  }

  /** {@code topology.storage.mycnet.io/<level>} for every level of the node's topology path. */
  Map<String, String> segments() {
    Map<String, String> s = new java.util.TreeMap<>();
    for (String seg : topology.split("/")) {
      int eq = seg.indexOf('=');
      if (eq > 0) {
        s.put(CsiNames.TOPOLOGY_PREFIX + seg.substring(0, eq), seg.substring(eq + 1));
      }
    }
    s.putIfAbsent(CsiNames.TOPOLOGY_NODE, nodeId);
    return s;
  }

  @Override
  public void nodeGetCapabilities(
      NodeGetCapabilitiesRequest request, StreamObserver<NodeGetCapabilitiesResponse> out) {
    NodeGetCapabilitiesResponse.Builder b = NodeGetCapabilitiesResponse.newBuilder();
    for (NodeServiceCapability.RPC.Type t :
        List.of(
            NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME,
            NodeServiceCapability.RPC.Type.GET_VOLUME_STATS,
            NodeServiceCapability.RPC.Type.EXPAND_VOLUME,
            NodeServiceCapability.RPC.Type.VOLUME_CONDITION)) {
      b.addCapabilities(
          NodeServiceCapability.newBuilder()
              .setRpc(NodeServiceCapability.RPC.newBuilder().setType(t)));
    }
    out.onNext(b.build());
    out.onCompleted();
  }

  // ---- NodeStageVolume, NodeUnstageVolume ----

  @Override
  public void nodeStageVolume(
      NodeStageVolumeRequest req, StreamObserver<NodeStageVolumeResponse> out) {
    call(
        out,
        () -> {
          String volumeId = required("volume_id", req.getVolumeId());
          Path staging = path("staging_target_path", req.getStagingTargetPath());
          if (!req.hasVolumeCapability()) {
            throw invalid("volume_capability is required");
          }
          VolumeCapability cap = req.getVolumeCapability();
          String fs = checkCapability(cap);
          return withVolume(
              volumeId,
              () -> {
                stage(volumeId, staging, cap, fs, req.getPublishContextMap());
                return NodeStageVolumeResponse.getDefaultInstance();
              });
        });
  }

  /** How long a stage waits for the attachment its ControllerPublish announced to arrive. */
  static final Duration ATTACH_ARRIVAL = Duration.ofSeconds(20);

  /**
   * The volume's attachment to this node. ControllerPublishVolume returns once the control plane
   * recorded the attachment; the {@code AttachVolume} command reaches this node a moment later. So
   * when the publish context names the attachment's generation, the stage waits (bounded) for that
   * generation or a later one to arrive; without one it takes what is there now.
   */
  private AttachVolume awaitAttachment(String volumeId, Map<String, String> pub) {
    String g = pub.get(CsiNames.PUBLISH_GENERATION);
    long generation;
    try {
      generation = g == null ? -1 : Long.parseLong(g);
    } catch (NumberFormatException e) {
      throw invalid(
          "publish_context " + CsiNames.PUBLISH_GENERATION + " must be a number, got '" + g + "'");
    }
    long deadline = System.nanoTime() + ATTACH_ARRIVAL.toNanos();
    while (true) {
      AttachVolume att = attached.attachment(volumeId);
      boolean current = att != null && att.getAttachment().getGeneration() >= generation;
      if (current || generation < 0 || System.nanoTime() > deadline) {
        return current || generation < 0 ? att : null;
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw Status.ABORTED.withDescription("interrupted").asRuntimeException();
      }
    }
  }

  private void stage(
      String volumeId, Path staging, VolumeCapability cap, String fs, Map<String, String> pub)
      throws CommandException, IOException {
    AttachVolume att = awaitAttachment(volumeId, pub);
    if (att == null) {
      String last = attached.lastDetach(volumeId);
      throw Status.FAILED_PRECONDITION
          .withDescription(
              last != null
                  ? "volume " + volumeId + " cannot be staged on node " + nodeId + ": " + last
                  : "volume "
                      + volumeId
                      + " is not published to node "
                      + nodeId
                      + " (ControllerPublishVolume first)")
          .asRuntimeException();
    }
    boolean readOnly = att.getAttachment().getReadOnly() || readerOnly(cap);
    Staged cur = staged.get(volumeId);
    if (cur != null) {
      if (cur.stagingPath().equals(staging) && cur.capability().equals(cap)) {
        if (alive(cur) != null) {
          LOG.warn("staged volume {} is broken ({}): staging it again", volumeId, alive(cur));
          revive(cur);
        }
        return;
      }
      throw Status.ALREADY_EXISTS
          .withDescription(
              "volume "
                  + volumeId
                  + " is staged at "
                  + cur.stagingPath()
                  + (cur.stagingPath().equals(staging)
                      ? " with another volume capability"
                      : ", not at " + staging)
                  + ": NodeUnstageVolume it first")
          .asRuntimeException();
    }
    for (Staged other : staged.values()) {
      if (other.stagingPath().equals(staging)) {
        throw Status.ALREADY_EXISTS
            .withDescription(
                "staging path " + staging + " holds volume " + other.volumeId() + " already")
            .asRuntimeException();
      }
    }
    if (staged.size() >= maxVolumes) {
      throw Status.RESOURCE_EXHAUSTED
          .withDescription(
              "node "
                  + nodeId
                  + " has "
                  + staged.size()
                  + " volumes staged, its limit (csi-max-volumes)")
          .asRuntimeException();
    }
    Staged s = makeStage(volumeId, staging, cap, fs, readOnly);
    try {
      records.write(s);
    } catch (IOException e) {
      teardown(s);
      throw e;
    }
    staged.put(volumeId, s);
    LOG.info(
        "staged {} at {} ({}, {}{})",
        volumeId,
        staging,
        s.describeStack(),
        cap.hasBlock() ? "block" : fs,
        readOnly ? ", read-only" : "");
  }

  /** Makes the device, the file system and the mount; on failure nothing is left behind. */
  private Staged makeStage(
      String volumeId, Path staging, VolumeCapability cap, String fs, boolean readOnly)
      throws CommandException, IOException {
    DeviceStacks.Device d = stacks.create(volumeId, readOnly);
    Staged s =
        new Staged(
            volumeId,
            staging,
            cap,
            readOnly,
            d.stack(),
            d.device(),
            d.fuseDir(),
            d.helperPid(),
            cap.hasBlock() ? "" : fs);
    try {
      if (cap.hasMount()) {
        mountFileSystem(s, cap.getMount().getMountFlagsList());
      }
      return s;
    } catch (CommandException | IOException | RuntimeException e) {
      teardown(s);
      throw e;
    }
  }

  private void mountFileSystem(Staged s, List<String> flags) throws CommandException, IOException {
    String found = fileSystemOn(s.device());
    if (found.isEmpty()) {
      if (s.readOnly()) {
        throw Status.FAILED_PRECONDITION
            .withDescription(
                "volume "
                    + s.volumeId()
                    + " holds no file system and is read-only here: it cannot be formatted")
            .asRuntimeException();
      }
      LOG.info("{} is blank: making an {} file system on {}", s.volumeId(), s.fsType(), s.device());
      Exec.check(
          MKFS_TIMEOUT,
          s.fsType().equals("xfs")
              // A blank volume reads as zeros already: no discard of the whole device (it cost
              // 15 s for 5 GiB over nbdfuse+loop, against 1 s without).
              ? List.of("mkfs.xfs", "-f", "-q", "-K", s.device())
              : List.of(
                  "mkfs.ext4",
                  "-F",
                  "-q",
                  "-E",
                  "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
                  s.device()));
    } else if (!found.equals(s.fsType())) {
      throw Status.FAILED_PRECONDITION
          .withDescription(
              "volume "
                  + s.volumeId()
                  + " holds "
                  + (found.startsWith("partition table") ? "a " : "an ")
                  + found
                  + (found.startsWith("partition table") ? "" : " file system")
                  + ", not "
                  + s.fsType()
                  + ": a volume with data is never reformatted; stage it with fsType "
                  + found)
          .asRuntimeException();
    }
    Files.createDirectories(s.stagingPath());
    Mounts.Mount m = Mounts.at(s.stagingPath());
    if (m != null && m.source().equals(s.device())) {
      return;
    }
    List<String> opts = new ArrayList<>(flags);
    if (s.readOnly()) {
      opts.add("ro");
    }
    List<String> cmd = new ArrayList<>(List.of("mount", "-t", s.fsType()));
    if (!opts.isEmpty()) {
      cmd.add("-o");
      cmd.add(String.join(",", opts));
    }
    cmd.add(s.device());
    cmd.add(s.stagingPath().toString());
    Exec.check(cmd);
    if (!s.readOnly()) {
      // The device may have grown since the file system was made (an expansion while unstaged).
      Exec.Result r =
          Exec.run(
              MKFS_TIMEOUT,
              s.fsType().equals("xfs")
                  ? List.of("xfs_growfs", s.stagingPath().toString())
                  : List.of("resize2fs", s.device()));
      if (!r.ok()) {
        LOG.warn("cannot grow the file system of {}: {}", s.volumeId(), r.describe());
      }
    }
  }

  /** The file system type on {@code device}; empty when blank; "partition table X" for one. */
  static String fileSystemOn(String device) throws CommandException {
    Exec.Result r = Exec.run(List.of("blkid", "-p", "-o", "export", device));
    if (r.exit() == 2) {
      return "";
    }
    if (!r.ok()) {
      throw new CommandException(r.describe());
    }
    String type = "";
    String pt = "";
    for (String line : r.stdout().split("\n")) {
      if (line.startsWith("TYPE=")) {
        type = line.substring(5).strip();
      } else if (line.startsWith("PTTYPE=")) {
        pt = line.substring(7).strip();
      }
    }
    if (!type.isEmpty()) {
      return type;
    }
    return pt.isEmpty() ? "unrecognised data" : "partition table " + pt;
  }

  @Override
  public void nodeUnstageVolume(
      NodeUnstageVolumeRequest req, StreamObserver<NodeUnstageVolumeResponse> out) {
    call(
        out,
        () -> {
          String volumeId = required("volume_id", req.getVolumeId());
          Path staging = path("staging_target_path", req.getStagingTargetPath());
          return withVolume(
              volumeId,
              () -> {
                Staged s = staged.get(volumeId);
                if (s == null) {
                  return NodeUnstageVolumeResponse.getDefaultInstance();
                }
                if (!s.stagingPath().equals(staging)) {
                  // Not staged at that path: nothing to undo there (spec: OK).
                  return NodeUnstageVolumeResponse.getDefaultInstance();
                }
                for (Published p : published.values()) {
                  if (p.volumeId().equals(volumeId)) {
                    throw Status.FAILED_PRECONDITION
                        .withDescription(
                            "volume "
                                + volumeId
                                + " is still published at "
                                + p.targetPath()
                                + ": NodeUnpublishVolume it first")
                        .asRuntimeException();
                  }
                }
                teardownChecked(s);
                records.removeStaged(volumeId);
                staged.remove(volumeId);
                LOG.info("unstaged {} from {}", volumeId, staging);
                return NodeUnstageVolumeResponse.getDefaultInstance();
              });
        });
  }

  /** Unmounts the staging path (failing when it is busy) and removes the device stack. */
  private void teardownChecked(Staged s) throws CommandException {
    if (!s.block()) {
      unmountAll(s.stagingPath());
    }
    stacks.destroy(s);
  }

  /** Best-effort teardown after a failed stage. */
  private void teardown(Staged s) {
    try {
      if (!s.block()) {
        Mounts.Mount m = Mounts.at(s.stagingPath());
        if (m != null && m.source().equals(s.device())) {
          unmountAll(s.stagingPath());
        }
      }
    } catch (CommandException e) {
      LOG.warn("{}", e.getMessage());
    }
    stacks.destroy(s);
  }

  private static void unmountAll(Path p) throws CommandException {
    for (int i = 0; i < 8 && Mounts.isMountPoint(p); i++) {
      Exec.check(List.of("umount", p.toString()));
    }
  }

  // ---- NodePublishVolume, NodeUnpublishVolume ----

  @Override
  public void nodePublishVolume(
      NodePublishVolumeRequest req, StreamObserver<NodePublishVolumeResponse> out) {
    call(
        out,
        () -> {
          String volumeId = required("volume_id", req.getVolumeId());
          Path target = path("target_path", req.getTargetPath());
          if (!req.hasVolumeCapability()) {
            throw invalid("volume_capability is required");
          }
          VolumeCapability cap = req.getVolumeCapability();
          checkCapability(cap);
          if (req.getStagingTargetPath().isEmpty()) {
            throw Status.FAILED_PRECONDITION
                .withDescription(
                    "staging_target_path is required: this node stages volumes (NodeStageVolume"
                        + " first)")
                .asRuntimeException();
          }
          Path staging = path("staging_target_path", req.getStagingTargetPath());
          return withVolume(
              volumeId,
              () -> {
                publish(volumeId, staging, target, cap, req.getReadonly());
                return NodePublishVolumeResponse.getDefaultInstance();
              });
        });
  }

  private void publish(
      String volumeId, Path staging, Path target, VolumeCapability cap, boolean readonly)
      throws CommandException, IOException {
    Staged s = staged.get(volumeId);
    if (s == null || !s.stagingPath().equals(staging)) {
      throw Status.FAILED_PRECONDITION
          .withDescription(
              "volume "
                  + volumeId
                  + " is not staged at "
                  + staging
                  + " on node "
                  + nodeId
                  + " (NodeStageVolume first)")
          .asRuntimeException();
    }
    if (s.block() != cap.hasBlock()) {
      throw invalid(
          "volume "
              + volumeId
              + " is staged for "
              + (s.block() ? "block" : "mount")
              + " access, not "
              + (cap.hasBlock() ? "block" : "mount"));
    }
    boolean ro = readonly || readerOnly(cap) || s.readOnly();
    Published cur = published.get(target);
    if (cur != null) {
      if (cur.volumeId().equals(volumeId) && cur.capability().equals(cap) && cur.readOnly() == ro) {
        if (!Mounts.isMountPoint(target)) {
          rebind(s, cur);
        }
        return;
      }
      throw Status.ALREADY_EXISTS
          .withDescription(
              "target "
                  + target
                  + " holds volume "
                  + cur.volumeId()
                  + (cur.volumeId().equals(volumeId) ? " published with other options" : "")
                  + ": NodeUnpublishVolume it first")
          .asRuntimeException();
    }
    if (cap.getAccessMode().getMode() == Mode.SINGLE_NODE_SINGLE_WRITER) {
      for (Published other : published.values()) {
        if (other.volumeId().equals(volumeId)) {
          throw Status.FAILED_PRECONDITION
              .withDescription(
                  "volume "
                      + volumeId
                      + " is published at "
                      + other.targetPath()
                      + " already and SINGLE_NODE_SINGLE_WRITER allows one publication")
              .asRuntimeException();
        }
      }
    }
    String device = bind(s, target, ro, "");
    Published p = new Published(volumeId, target, cap, ro, device);
    try {
      records.write(p);
    } catch (IOException e) {
      unbind(s, p);
      throw e;
    }
    published.put(target, p);
    LOG.info("published {} at {}{}", volumeId, target, ro ? " read-only" : "");
  }

  /**
   * Bind-mounts the staged volume on {@code target} (made if missing), read-only if asked; a
   * read-only block publication binds a read-only loop device over the staged device ({@code
   * roLoop} when it has one already). Returns that loop device, else "".
   */
  private String bind(Staged s, Path target, boolean ro, String roLoop)
      throws CommandException, IOException {
    boolean made = false;
    if (s.block()) {
      Files.createDirectories(target.getParent());
      if (!Files.exists(target)) {
        Files.createFile(target);
        made = true;
      }
    } else if (!Files.isDirectory(target)) {
      Files.createDirectories(target);
      made = true;
    }
    String loop = roLoop;
    try {
      if (s.block() && ro && !s.readOnly() && loop.isEmpty()) {
        loop = DeviceStacks.readOnlyLoop(s.device());
      }
      String source = !s.block() ? s.stagingPath().toString() : loop.isEmpty() ? s.device() : loop;
      Exec.check(List.of("mount", "--bind", source, target.toString()));
      if (ro) {
        Exec.check(List.of("mount", "-o", "remount,bind,ro", target.toString()));
      }
      return loop;
    } catch (CommandException e) {
      if (!loop.isEmpty() && roLoop.isEmpty()) {
        DeviceStacks.detachLoop(loop, s.device());
      }
      try {
        if (Mounts.isMountPoint(target)) {
          unmountAll(target);
        }
        if (made) {
          Files.deleteIfExists(target);
        }
      } catch (CommandException | IOException again) {
        LOG.warn("cannot undo the bind mount on {}: {}", target, again.toString());
      }
      throw e;
    }
  }

  private void unbind(Staged s, Published p) throws CommandException, IOException {
    unmountAll(p.targetPath());
    Files.deleteIfExists(p.targetPath());
    if (!p.device().isEmpty() && s != null) {
      DeviceStacks.detachLoop(p.device(), s.device());
    }
  }

  @Override
  public void nodeUnpublishVolume(
      NodeUnpublishVolumeRequest req, StreamObserver<NodeUnpublishVolumeResponse> out) {
    call(
        out,
        () -> {
          String volumeId = required("volume_id", req.getVolumeId());
          Path target = path("target_path", req.getTargetPath());
          return withVolume(
              volumeId,
              () -> {
                Published p = published.get(target);
                if (p == null) {
                  if (!staged.containsKey(volumeId) && attached.attachment(volumeId) == null) {
                    throw Status.NOT_FOUND
                        .withDescription(
                            "volume "
                                + volumeId
                                + " is not published, staged nor attached on node "
                                + nodeId)
                        .asRuntimeException();
                  }
                  return NodeUnpublishVolumeResponse.getDefaultInstance();
                }
                if (!p.volumeId().equals(volumeId)) {
                  throw Status.NOT_FOUND
                      .withDescription(
                          "target "
                              + target
                              + " holds volume "
                              + p.volumeId()
                              + ", not "
                              + volumeId)
                      .asRuntimeException();
                }
                unbind(staged.get(volumeId), p);
                records.removePublished(target);
                published.remove(target);
                LOG.info("unpublished {} from {}", volumeId, target);
                return NodeUnpublishVolumeResponse.getDefaultInstance();
              });
        });
  }

  // ---- NodeGetVolumeStats, NodeExpandVolume ----

  /** The staged volume {@code volumeId} when {@code path} is its staging or a target path. */
  private Staged locate(String volumeId, String path) {
    Path p = Path.of(path).normalize();
    Staged s = staged.get(volumeId);
    boolean known =
        p.isAbsolute()
            && ((s != null && s.stagingPath().equals(p))
                || (published.get(p) != null && published.get(p).volumeId().equals(volumeId)));
    if (!known || s == null) {
      throw Status.NOT_FOUND
          .withDescription(
              "volume "
                  + volumeId
                  + " is not staged or published at "
                  + path
                  + " on node "
                  + nodeId)
          .asRuntimeException();
    }
    return s;
  }

  @Override
  public void nodeGetVolumeStats(
      NodeGetVolumeStatsRequest req, StreamObserver<NodeGetVolumeStatsResponse> out) {
    call(
        out,
        () -> {
          String volumeId = required("volume_id", req.getVolumeId());
          String path = required("volume_path", req.getVolumePath());
          Staged s = locate(volumeId, path);
          String problem = alive(s);
          Path asked = Path.of(path).normalize();
          if (problem == null
              && !s.block()
              && !asked.equals(s.stagingPath())
              && !Mounts.isMountPoint(asked)) {
            // A publication whose bind mount is gone (or not back yet: an agent restart binds it
            // again after staging the volume anew) shows the pod an empty directory.
            problem = "the publication at " + asked + " is not mounted";
          }
          if (problem == null && attached.attachment(volumeId) == null) {
            String last = attached.lastDetach(volumeId);
            problem = "not attached to node " + nodeId + (last != null ? ": " + last : "");
          }
          NodeGetVolumeStatsResponse.Builder b = NodeGetVolumeStatsResponse.newBuilder();
          b.setVolumeCondition(
              VolumeCondition.newBuilder()
                  .setAbnormal(problem != null)
                  .setMessage(
                      problem != null
                          ? s.describeStack() + ": " + problem
                          : s.describeStack() + ": healthy"));
          if (s.block()) {
            b.addUsage(
                VolumeUsage.newBuilder()
                    .setUnit(VolumeUsage.Unit.BYTES)
                    .setTotal(DeviceStacks.deviceSize(s.device())));
          } else if (problem == null || Mounts.isMountPoint(Path.of(path))) {
            Exec.Result r =
                Exec.check(STAT_TIMEOUT, List.of("stat", "-f", "-c", "%S %b %f %a %c %d", path));
            String[] f = r.stdout().strip().split("\\s+");
            long bs = Long.parseLong(f[0]);
            long blocks = Long.parseLong(f[1]);
            long free = Long.parseLong(f[2]);
            long avail = Long.parseLong(f[3]);
            long inodes = Long.parseLong(f[4]);
            long ifree = Long.parseLong(f[5]);
            b.addUsage(
                VolumeUsage.newBuilder()
                    .setUnit(VolumeUsage.Unit.BYTES)
                    .setTotal(blocks * bs)
                    .setAvailable(avail * bs)
                    .setUsed((blocks - free) * bs));
            b.addUsage(
                VolumeUsage.newBuilder()
                    .setUnit(VolumeUsage.Unit.INODES)
                    .setTotal(inodes)
                    .setAvailable(ifree)
                    .setUsed(inodes - ifree));
          }
          return b.build();
        });
  }

  @Override
  public void nodeExpandVolume(
      NodeExpandVolumeRequest req, StreamObserver<NodeExpandVolumeResponse> out) {
    call(
        out,
        () -> {
          String volumeId = required("volume_id", req.getVolumeId());
          String path = required("volume_path", req.getVolumePath());
          if (req.getCapacityRange().getRequiredBytes() < 0
              || req.getCapacityRange().getLimitBytes() < 0) {
            throw invalid("capacity_range: required_bytes and limit_bytes may not be negative");
          }
          return withVolume(
              volumeId,
              () -> {
                Staged s = locate(volumeId, path);
                long size = DeviceStacks.deviceSize(s.device());
                long required = req.getCapacityRange().getRequiredBytes();
                if (required > size) {
                  throw Status.FAILED_PRECONDITION
                      .withDescription(
                          "the device of "
                              + volumeId
                              + " ("
                              + s.describeStack()
                              + ") is "
                              + size
                              + " bytes, "
                              + required
                              + " required: the device of "
                              + volumeId
                              + " grows at the next stage (NodeUnstageVolume and"
                              + " NodeStageVolume), which grows its file system too")
                      .asRuntimeException();
                }
                if (!s.block()) {
                  if (s.readOnly()) {
                    throw Status.FAILED_PRECONDITION
                        .withDescription(
                            "volume "
                                + volumeId
                                + " is staged read-only: its file system cannot grow")
                        .asRuntimeException();
                  }
                  Exec.check(
                      MKFS_TIMEOUT,
                      s.fsType().equals("xfs")
                          ? List.of("xfs_growfs", s.stagingPath().toString())
                          : List.of("resize2fs", s.device()));
                }
                return NodeExpandVolumeResponse.newBuilder().setCapacityBytes(size).build();
              });
        });
  }

  // ---- restart ----

  /** Loads the records; revives what an agent restart (or a crash of nbdfuse) broke. */
  void restore() {
    for (Staged s : records.staged()) {
      staged.put(s.volumeId(), s);
    }
    for (Published p : records.published()) {
      published.put(p.targetPath(), p);
    }
    for (Staged s : List.copyOf(staged.values())) {
      String problem = alive(s);
      if (problem == null) {
        LOG.info(
            "staged {} at {} is served again ({})",
            s.volumeId(),
            s.stagingPath(),
            s.describeStack());
        for (Published p : published.values()) {
          if (p.volumeId().equals(s.volumeId()) && !Mounts.isMountPoint(p.targetPath())) {
            rebind(s, p);
          }
        }
        continue;
      }
      busy.add(s.volumeId());
      try {
        LOG.warn(
            "staged volume {} is broken after the restart ({}): staging it again",
            s.volumeId(),
            problem);
        revive(s);
      } catch (CommandException | IOException | RuntimeException e) {
        LOG.error("cannot stage {} again: {}", s.volumeId(), e.getMessage());
      } finally {
        busy.remove(s.volumeId());
      }
    }
  }

  /** Null when the staged volume works: its device stack and its mount. */
  private String alive(Staged s) {
    String p = stacks.problem(s);
    if (p != null) {
      return p;
    }
    if (!s.block()) {
      Mounts.Mount m = Mounts.at(s.stagingPath());
      if (m == null || !m.source().equals(s.device())) {
        return s.stagingPath() + " is not mounted from " + s.device();
      }
    }
    return null;
  }

  /** Takes down what is left of a broken stage and stages it again, publications too. */
  private void revive(Staged s) throws CommandException, IOException {
    List<Published> pubs = new ArrayList<>();
    for (Published p : published.values()) {
      if (p.volumeId().equals(s.volumeId())) {
        pubs.add(p);
        lazyUnmount(p.targetPath());
        if (!p.device().isEmpty()) {
          DeviceStacks.detachLoop(p.device(), s.device());
        }
      }
    }
    if (!s.block()) {
      lazyUnmount(s.stagingPath());
    }
    stacks.destroy(s);
    if (attached.attachment(s.volumeId()) == null) {
      throw new CommandException(
          "volume " + s.volumeId() + " is no longer attached to node " + nodeId);
    }
    Staged fresh =
        makeStage(s.volumeId(), s.stagingPath(), s.capability(), s.fsType(), s.readOnly());
    records.write(fresh);
    staged.put(s.volumeId(), fresh);
    for (Published p : pubs) {
      rebind(fresh, p);
    }
    LOG.info("{} staged again at {} ({})", s.volumeId(), s.stagingPath(), fresh.describeStack());
  }

  private void rebind(Staged s, Published p) {
    try {
      String loop = p.device();
      if (!loop.isEmpty() && !DeviceStacks.isLoopOf(loop, s.device())) {
        loop = "";
      }
      String now = bind(s, p.targetPath(), p.readOnly(), loop);
      if (!now.equals(p.device())) {
        Published fresh =
            new Published(p.volumeId(), p.targetPath(), p.capability(), p.readOnly(), now);
        records.write(fresh);
        published.put(p.targetPath(), fresh);
      }
    } catch (CommandException | IOException e) {
      LOG.error("cannot publish {} at {} again: {}", s.volumeId(), p.targetPath(), e.getMessage());
    }
  }

  private static void lazyUnmount(Path p) {
    for (int i = 0; i < 8 && Mounts.isMountPoint(p); i++) {
      try {
        Exec.run(List.of("umount", "-l", p.toString()));
      } catch (CommandException e) {
        LOG.warn("{}", e.getMessage());
        return;
      }
    }
  }

  // ---- arguments ----

  /** Checks the capability; returns the file system for mount access, "" for block. */
  static String checkCapability(VolumeCapability cap) {
    if (!cap.hasBlock() && !cap.hasMount()) {
      throw invalid("volume_capability: access_type (block or mount) is required");
    }
    Mode mode = cap.getAccessMode().getMode();
    switch (mode) {
      case SINGLE_NODE_WRITER,
          SINGLE_NODE_READER_ONLY,
          MULTI_NODE_READER_ONLY,
          SINGLE_NODE_SINGLE_WRITER -> {}
      default ->
          throw invalid(
              "volume_capability: access mode "
                  + mode
                  + " is not supported (a volume has at most one writer, on one node): use"
                  + " SINGLE_NODE_WRITER, SINGLE_NODE_SINGLE_WRITER, SINGLE_NODE_READER_ONLY or"
                  + " MULTI_NODE_READER_ONLY");
    }
    if (cap.hasBlock()) {
      return "";
    }
    String fs = cap.getMount().getFsType().isEmpty() ? DEFAULT_FS : cap.getMount().getFsType();
    if (!FS_TYPES.contains(fs)) {
      throw invalid(
          "volume_capability: fs_type '"
              + fs
              + "' is not supported: use ext4 (the default) or xfs");
    }
    if (fs.equals("xfs") && !Exec.onPath("mkfs.xfs")) {
      throw Status.FAILED_PRECONDITION
          .withDescription("fs_type xfs needs mkfs.xfs and xfs_growfs on node (xfsprogs)")
          .asRuntimeException();
    }
    if (!cap.getMount().getVolumeMountGroup().isEmpty()) {
      throw invalid("volume_capability: volume_mount_group is not supported by this driver");
    }
    for (String f : cap.getMount().getMountFlagsList()) {
      if (f.isEmpty() || f.indexOf('\0') >= 0 || f.indexOf('\n') >= 0) {
        throw invalid("volume_capability: mount flag '" + f + "' is not a valid mount option");
      }
    }
    return fs;
  }

  static boolean readerOnly(VolumeCapability cap) {
    Mode m = cap.getAccessMode().getMode();
    return m == Mode.SINGLE_NODE_READER_ONLY || m == Mode.MULTI_NODE_READER_ONLY;
  }

  private static String required(String field, String value) {
    if (value.isEmpty()) {
      throw invalid(field + " is required");
    }
    return value;
  }

  /** An absolute path without {@code ..}, as given (normalized). */
  static Path path(String field, String value) {
    required(field, value);
    if (value.indexOf('\0') >= 0) {
      throw invalid(field + ": a path may not contain NUL");
    }
    Path p = Path.of(value);
    if (!p.isAbsolute()) {
      throw invalid(field + " '" + value + "' is not an absolute path");
    }
    for (Path part : p) {
      if (part.toString().equals("..")) {
        throw invalid(field + " '" + value + "' may not contain '..'");
      }
    }
    return p.normalize();
  }

  private static StatusRuntimeException invalid(String message) {
    return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
  }

  // ---- plumbing ----

  interface Work<T> {
    T run() throws CommandException, IOException;
  }

  private <T> T withVolume(String volumeId, Work<T> work) throws CommandException, IOException {
    if (!busy.add(volumeId)) {
      throw Status.ABORTED
          .withDescription("an operation on volume " + volumeId + " is in progress: try again")
          .asRuntimeException();
    }
    try {
      return work.run();
    } finally {
      busy.remove(volumeId);
    }
  }

  private static <T> void call(StreamObserver<T> out, Work<T> work) {
    T result;
    try {
      result = work.run();
    } catch (StatusRuntimeException e) {
      out.onError(e);
      return;
    } catch (CommandException | IOException e) {
      LOG.warn("CSI node call failed: {}", e.getMessage());
      out.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
      return;
    } catch (RuntimeException e) {
      LOG.error("CSI node call failed", e);
      out.onError(Status.INTERNAL.withDescription(e.toString()).asRuntimeException());
      return;
    }
    out.onNext(result);
    out.onCompleted();
  }
}
