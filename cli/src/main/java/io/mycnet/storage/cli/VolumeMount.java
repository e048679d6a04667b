package io.mycnet.storage.cli;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.cli.local.LocalCsi;
import io.mycnet.storage.cli.local.LocalState;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code mycnet volume mount|unmount}: a claim's volume as a file system (or a raw block device) in
 * a directory of this machine, through local mode's CSI driver with the RPCs a kubelet and the
 * external-attacher send ({@link LocalCsi}).
 */
final class VolumeMount {
  private VolumeMount() {}

  /** The trust tiers, highest first: a node's tier admits its own classification and below. */
  static final List<String> TIERS = List.of("CRITICAL", "SENSITIVE", "STANDARD", "PUBLIC");

  static final List<String> FILE_SYSTEMS = List.of("ext4", "xfs");

  /** {@code [NS/]CLAIM} and {@code -n NS}: the claim name and its namespace (null: any). */
  record ClaimRef(String name, String namespace) {}

  static ClaimRef claimRef(String argument, String namespace) {
    String name = argument;
    String ns = namespace;
    int slash = argument == null ? -1 : argument.indexOf('/');
    if (slash >= 0) {
      String given = argument.substring(0, slash);
      name = argument.substring(slash + 1);
      if (ns != null && !ns.equals(given)) {
        throw Mycnet.badInput(
            "CLAIM", "'" + argument + "' names namespace " + given + " but -n says " + ns);
      }
      ns = given;
      String problem = BlockExport.nameProblem(ns);
      if (problem != null) {
        throw Mycnet.badInput("CLAIM", "namespace " + problem);
      }
    }
    Mycnet.claimArguments(name, ns);
    return new ClaimRef(name, ns);
  }

  /** The file system flag: ext4 or xfs, exit code 2 otherwise or with --block. */
  static String fileSystem(String fs, boolean block) {
    if (block) {
      if (fs != null) {
        throw Mycnet.badInput("--fs", "a raw block volume (--block) has no file system");
      }
      return "";
    }
    String f = fs == null ? "ext4" : fs;
    if (!FILE_SYSTEMS.contains(f)) {
      throw Mycnet.badInput("--fs", "'" + f + "' is not one of " + String.join(", ", FILE_SYSTEMS));
    }
    return f;
  }

  /**
   * The target: a directory (or, with --block, a file path for the device) whose parent exists,
   * outside the state directory (which {@code local down --wipe} deletes); exit code 2 otherwise.
   */
  static Path target(Path dir, boolean block, LocalState state) {
    Path t = LocalCsi.target(dir);
    if (t.getParent() == null || !Files.isDirectory(t.getParent())) {
      throw Mycnet.badInput("DIR", "directory " + t.getParent() + " does not exist");
    }
    if (t.startsWith(state.root())) {
      throw Mycnet.badInput(
          "DIR", t + " lies in local mode's state directory " + state.root() + "; choose another");
    }
    if (Files.exists(t, LinkOption.NOFOLLOW_LINKS)) {
      if (block && !Files.isRegularFile(t, LinkOption.NOFOLLOW_LINKS)) {
        throw Mycnet.badInput("DIR", t + " exists and is not a file (--block binds the device)");
      }
      if (!block && !Files.isDirectory(t, LinkOption.NOFOLLOW_LINKS)) {
        throw Mycnet.badInput("DIR", t + " exists and is not a directory");
      }
    }
    return t;
  }

  /**
   * Whether a node of trust tier {@code tier} may hold (and use) data of {@code classification}.
   */
  static boolean admits(String tier, String classification) {
    int t = TIERS.indexOf(tier);
    int c = TIERS.indexOf(classification);
    return t >= 0 && c >= 0 && t <= c;
  }

  /**
   * The node a mount without --node goes to: the first UP node (by id) whose trust tier admits the
   * classification; none is a {@link CliException} listing the nodes and their tiers.
   */
  static String defaultNode(
      List<NodeRecord> nodes, Map<String, String[]> trust, String classification) {
    List<String> seen = new ArrayList<>();
    for (NodeRecord n :
        nodes.stream().sorted(Comparator.comparing(NodeRecord::getNodeId)).toList()) {
      String[] t = trust.get(n.getNodeId());
      String tier = t == null ? "unknown" : t[1];
      boolean up = n.getState() == NodeState.NODE_STATE_UP;
      if (up && admits(tier, classification)) {
        return n.getNodeId();
      }
      seen.add(
          n.getNodeId()
              + " ("
              + tier
              + (up ? "" : ", " + n.getState().name().replace("NODE_STATE_", ""))
              + ")");
    }
    throw new CliException(
        "no UP node's trust tier admits "
            + classification
            + " data: "
            + String.join(", ", seen)
            + "; name one with --node");
  }

  static String classification(Allocation a) {
    return a.getClassification().name().replace("CLASSIFICATION_", "");
  }

  @Command(
      name = "mount",
      mixinStandardHelpOptions = true,
      description = {
        "Mount the claim's volume on DIR through the CSI driver, as a kubelet would:"
            + " ControllerPublishVolume to the node (the trust gate: a node whose tier does not"
            + " admit the classification is refused, with the reason), NodeStageVolume on that"
            + " node's agent (the NBD frontend as a block device, formatted when blank), then"
            + " NodePublishVolume onto DIR. Prints the steps and the device stack. Idempotent.",
        "CLAIM is NAME or NAMESPACE/NAME. Without --node: the first UP node whose trust tier"
            + " admits the volume's classification."
      })
  static final class Mount implements Callable<Integer> {
    @Mixin Mycnet.StateDir state;

    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CLAIM")
    String claim;

    @Parameters(index = "1", paramLabel = "DIR")
    Path dir;

    @Option(
        names = {"-n", "--namespace"},
        paramLabel = "NS",
        description = "the claim's Kubernetes namespace (default: the only claim of that name)")
    String namespace;

    @Option(names = "--node", paramLabel = "NODE", description = "the node that uses the volume")
    String node;

    @Option(
        names = "--fs",
        paramLabel = "ext4|xfs",
        description = "the file system, made when the volume is blank (default: ext4)")
    String fs;

    @Option(names = "--read-only", description = "mount read-only (any number of nodes)")
    boolean readOnly;

    @Option(
        names = "--block",
        description = "no file system: DIR becomes a file bound to the raw block device")
    boolean block;

    @Option(
        names = "--timeout",
        defaultValue = "120s",
        description =
            "how long the CSI calls may take, formatting included (default: ${DEFAULT-VALUE})")
    String timeout;

    @Override
    public Integer call() {
      ClaimRef ref = claimRef(claim, namespace);
      String fsType = fileSystem(fs, block);
      if (node != null) {
        Mycnet.nodeId("--node", node);
      }
      Duration t = Mycnet.duration("--timeout", timeout);
      LocalState st = state.state();
      Path target = target(dir, block, st);
      PrintWriter out = spec.commandLine().getOut();
      try (LocalClient c = new LocalClient(st)) {
        StorageClaim sc = c.claim(ref.name(), ref.namespace());
        Allocation a = c.volumeOf(sc);
        String cls = classification(a);
        String on = node != null ? node : defaultNode(c.nodes(), c.trust(), cls);
        String claimName = sc.getMetadata().getNamespace() + "/" + sc.getMetadata().getName();
        out.printf(
            "volume %s (claim %s, %s, %s) on %s%n",
            a.getVolumeId(), claimName, cls, StatusView.bytes(a.getSizeBytes()), on);
        LocalCsi.Mounted m =
            new LocalCsi(st)
                .mount(
                    new LocalCsi.MountRequest(
                        a.getVolumeId(), claimName, cls, on, target, fsType, readOnly, block),
                    t);
        m.lines().forEach(l -> out.println("  " + l));
        out.println("unmount with: mycnet volume unmount " + target);
        return 0;
      }
    }
  }

  @Command(
      name = "unmount",
      mixinStandardHelpOptions = true,
      description = {
        "Undo mycnet volume mount DIR, as a kubelet and the external-attacher would:"
            + " NodeUnpublishVolume, NodeUnstageVolume (when no other directory of that node uses"
            + " the volume) and ControllerUnpublishVolume. The volume and the node come from the"
            + " record the mount wrote. Idempotent: nothing mounted there is not an error."
      })
  static final class Unmount implements Callable<Integer> {
    @Mixin Mycnet.StateDir state;

    @Spec CommandSpec spec;

    @Parameters(paramLabel = "DIR")
    Path dir;

    @Option(
        names = "--timeout",
        defaultValue = "120s",
        description = "how long the CSI calls may take (default: ${DEFAULT-VALUE})")
    String timeout;

    @Override
    public Integer call() {
      Duration t = Mycnet.duration("--timeout", timeout);
      LocalState st = state.state();
      Path target = LocalCsi.target(dir);
      PrintWriter out = spec.commandLine().getOut();
      LocalCsi csi = new LocalCsi(st);
      var recorded = csi.recorded(target);
      if (recorded.isEmpty()) {
        if (LocalCsi.mountsUnder(target).contains(target)) {
          throw new CliException(
              target
                  + " is mounted, but not by mycnet volume mount (no record in "
                  + st.csiMountRecords()
                  + "); not touching it");
        }
        out.println("nothing mounted at " + target + " by mycnet volume mount");
        return 0;
      }
      var m = recorded.get();
      out.printf("volume %s (claim %s) on %s at %s%n", m.volumeId(), m.claim(), m.node(), target);
      csi.unmount(target, t).forEach(l -> out.println("  " + l));
      return 0;
    }
  }
}
