package io.mycnet.storage.cli;

import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.cli.demo.Demo;
import io.mycnet.storage.cli.local.LocalCluster;
import io.mycnet.storage.cli.local.LocalState;
import io.mycnet.storage.cli.local.LocalTopology;
import io.mycnet.storage.common.settings.DurationText;
import io.mycnet.storage.common.settings.SettingException;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The {@code mycnet} command. Local mode ({@code local up|down}, {@code demo}), what runs ({@code
 * status}, {@code node explain}, {@code claim explain}), volume I/O ({@code volume write|read}),
 * block export ({@code volume attach|detach|export}, {@code node fence}), the CSI driver ({@code
 * volume mount|unmount}), client certificate revocation ({@code client revoke}) and failure drills
 * ({@code node kill|restart}). Paths default relative to {@code MYCNET_HOME} (set by the {@code
 * ./mycnet} launcher to the repository root), else the working directory.
 */
@Command(
    name = "mycnet",
    mixinStandardHelpOptions = true,
    version = "mycnet 0.1.0",
    description =
        "Trust-aware distributed volume storage: local mode, status, explanations, volume I/O.",
    subcommands = {
      Mycnet.Local.class,
      Mycnet.Status.class,
      Mycnet.Node.class,
      Mycnet.Claim.class,
      Mycnet.Volume.class,
      ClientCommands.class,
      Demo.class,
      CommandLine.HelpCommand.class
    })
public final class Mycnet extends CommandGroup {
  public static void main(String[] args) {
    quietLogging();
    System.exit(commandLine().execute(args));
  }

  static void quietLogging() {
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    System.setProperty("org.slf4j.simpleLogger.log.io.grpc", "error");
    System.setProperty("org.slf4j.simpleLogger.log.io.etcd", "error");
    System.setProperty("org.slf4j.simpleLogger.log.io.fabric8", "error");
  }

  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Mycnet());
    cl.setExecutionExceptionHandler(
        (e, cmd, parsed) -> {
          if (e instanceof CliException c) {
            cmd.getErr().println("mycnet: " + c.getMessage());
            return c.exitCode();
          }
          if (e instanceof StatusRuntimeException s) {
            cmd.getErr()
                .println(
                    "mycnet: " + s.getStatus().getCode() + ": " + s.getStatus().getDescription());
            return 1;
          }
          if (e instanceof SettingException s) {
            cmd.getErr().println("mycnet: invalid setting " + s.getMessage());
            return 2;
          }
          if (e instanceof LocalTopology.BadTopology b) {
            cmd.getErr().println("mycnet: invalid topology: " + b.getMessage());
            return 2;
          }
          if (e instanceof IOException io) {
            cmd.getErr().println("mycnet: " + describe(io));
            return 1;
          }
          if (e instanceof java.io.UncheckedIOException io) {
            cmd.getErr().println("mycnet: " + io.getMessage() + ": " + describe(io.getCause()));
            return 1;
          }
          if (System.getenv("MYCNET_DEBUG") != null) {
            throw e;
          }
          cmd.getErr()
              .println(
                  "mycnet: unexpected error: "
                      + e
                      + " (MYCNET_DEBUG=1 prints the stack trace; please report it)");
          return 1;
        });
    return cl;
  }

  /** An I/O failure in words: which file and what is wrong with it. */
  static String describe(IOException e) {
    if (e instanceof java.nio.file.NoSuchFileException f) {
      return f.getFile() + ": no such file or directory";
    }
    if (e instanceof java.nio.file.AccessDeniedException f) {
      return f.getFile() + ": permission denied";
    }
    if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
      return f.getFile() + ": " + f.getReason();
    }
    return e.getMessage() != null ? e.getMessage() : e.toString();
  }

  /** A bad value of a flag or an argument: exit code 2, the message names it. */
  static CliException badInput(String what, String problem) {
    return new CliException(what + ": " + problem, 2);
  }

  /** A duration flag's value, or exit code 2 naming the flag. */
  public static Duration duration(String flag, String value) {
    try {
      Duration d = DurationText.parse(value);
      if (d.isNegative() || d.isZero()) {
        throw badInput(flag, "must be more than 0, was '" + value + "'");
      }
      return d;
    } catch (IllegalArgumentException e) {
      throw badInput(flag, "'" + value + "' is not a duration like 500ms, 30s, 5m");
    }
  }

  /** Checks that a number flag is at least {@code min}; exit code 2 naming the flag otherwise. */
  static long atLeast(String flag, long value, long min) {
    if (value < min) {
      throw badInput(flag, "must be at least " + min + ", was " + value);
    }
    return value;
  }

  /** An input file that must be readable: exit code 2 naming it otherwise. */
  static Path inputFile(Path file) {
    if (!Files.exists(file)) {
      throw badInput("FILE", file + " does not exist");
    }
    if (!Files.isRegularFile(file)) {
      throw badInput("FILE", file + " is not a regular file");
    }
    if (!Files.isReadable(file)) {
      throw badInput("FILE", file + " is not readable");
    }
    return file;
  }

  /** An output file whose directory must exist: exit code 2 naming the flag otherwise. */
  static Path outputFile(String flag, Path file) {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null && !Files.isDirectory(parent)) {
      throw badInput(flag, "directory " + parent + " does not exist");
    }
    if (Files.isDirectory(file)) {
      throw badInput(flag, file + " is a directory");
    }
    if (parent != null && !Files.isWritable(parent)) {
      throw badInput(flag, "directory " + parent + " is not writable");
    }
    return file;
  }

  static Path home() {
    String h = System.getenv("MYCNET_HOME");
    return h == null || h.isBlank() ? Path.of("").toAbsolutePath() : Path.of(h);
  }

  /** The state directory option every command shares. */
  /** How long a command waits for the operator to apply what it asked (Node annotations). */
  public static final class OperatorWait {
    @Option(
        names = "--timeout",
        defaultValue = "30s",
        description = "how long to wait for the operator (default: ${DEFAULT-VALUE})")
    String timeout;

    Duration timeout() {
      return duration("--timeout", timeout);
    }
  }

  public static final class StateDir {
    @Option(
        names = "--state-dir",
        paramLabel = "DIR",
        description = "local mode's state directory (default: $MYCNET_HOME/.mycnet)")
    Path dir;

    public LocalState state() {
      return new LocalState(dir != null ? dir : home().resolve(".mycnet"));
    }
  }

  @Command(
      name = "local",
      mixinStandardHelpOptions = true,
      description = "Run the whole system on this machine: etcd, the control plane, the agents.",
      subcommands = {Local.Up.class, Local.Down.class})
  public static final class Local extends CommandGroup {

    @Command(
        name = "up",
        mixinStandardHelpOptions = true,
        description = {
          "Start etcd, the control plane and one agent per node of the topology as separate"
              + " processes on loopback (what already runs is kept), then apply every manifest of"
              + " the manifest directory and keep watching it: adding, changing or deleting a file"
              + " changes the system.",
          "Installs etcd with apt-get when it is missing and this runs as root on Debian/Ubuntu."
        })
    static final class Up implements Callable<Integer> {
      @Mixin StateDir state;

      @Option(
          names = "--topology",
          paramLabel = "FILE",
          description = "nodes, their places and records (default: config/local/topology.yaml)")
      Path topology;

      @Option(
          names = "--manifests",
          paramLabel = "DIR",
          description = "manifests to apply and watch (default: samples/)")
      Path manifests;

      @Option(
          names = "--timeout",
          defaultValue = "120s",
          description = "how long each process may take to start (default: ${DEFAULT-VALUE})")
      String timeout;

      @Override
      public Integer call() {
        up(state.state(), topology, manifests, duration("--timeout", timeout), System.out);
        return 0;
      }
    }

    public static void up(
        LocalState state, Path topology, Path manifests, Duration timeout, PrintStream out) {
      Path t = topology != null ? topology : home().resolve("config/local/topology.yaml");
      Path m = manifests != null ? manifests : home().resolve("samples");
      new LocalCluster(state, out).up(t, m, timeout);
      out.println(
          "local mode is up; state in " + state.root() + " (mycnet status, mycnet local down)");
    }

    @Command(
        name = "down",
        mixinStandardHelpOptions = true,
        description =
            "Stop every process local mode started (by PID). The data stays unless --wipe.")
    static final class Down implements Callable<Integer> {
      @Mixin StateDir state;

      @Option(names = "--wipe", description = "also delete the state directory (all data)")
      boolean wipe;

      @Override
      public Integer call() {
        LocalState s = state.state();
        if (!Files.isDirectory(s.root())) {
          System.out.println("nothing to stop: " + s.root() + " does not exist");
          return 0;
        }
        new LocalCluster(s, System.out).down(wipe);
        return 0;
      }
    }
  }

  @Command(
      name = "status",
      mixinStandardHelpOptions = true,
      description =
          "Nodes by region, zone and rack with trust, tier, state and usage; volumes with classification, replicas and state; claims.")
  static final class Status implements Callable<Integer> {
    @Mixin StateDir state;

    @Override
    public Integer call() {
      try (LocalClient c = new LocalClient(state.state())) {
        StatusView.print(c, System.out);
      }
      return 0;
    }
  }

  @Command(
      name = "node",
      mixinStandardHelpOptions = true,
      description =
          "One node: its trust explanation, a failure drill, or an operator action (remove,"
              + " readmit, fence).",
      subcommands = {
        Node.Explain.class,
        Node.Kill.class,
        Node.Restart.class,
        Node.Remove.class,
        Node.Readmit.class,
        Fence.class
      })
  static final class Node extends CommandGroup {

    @Command(
        name = "explain",
        mixinStandardHelpOptions = true,
        description = "Why the node has its trust score and tier: every factor, gate and limit.")
    static final class Explain implements Callable<Integer> {
      @Mixin StateDir state;

      @Parameters(paramLabel = "NODE")
      String node;

      @Override
      public Integer call() {
        try (LocalClient c = new LocalClient(state.state())) {
          System.out.print(c.explainNode(node));
        }
        return 0;
      }
    }

    @Command(
        name = "kill",
        mixinStandardHelpOptions = true,
        description = "SIGKILL the node's agent (its data stays on disk).")
    static final class Kill implements Callable<Integer> {
      @Mixin StateDir state;

      @Parameters(paramLabel = "NODE")
      String node;

      @Override
      public Integer call() {
        boolean killed = new LocalCluster(state.state(), System.out).killAgent(node);
        System.out.println(
            killed ? "killed the agent of " + node : node + "'s agent was not running");
        return 0;
      }
    }

    @Command(
        name = "restart",
        mixinStandardHelpOptions = true,
        description = "Stop (if running) and start the node's agent with its data.")
    static final class Restart implements Callable<Integer> {
      @Mixin StateDir state;

      @Parameters(paramLabel = "NODE")
      String node;

      @Option(
          names = "--encryption-at-rest",
          arity = "1",
          paramLabel = "true|false",
          description = "switch at-rest encryption (kept for later restarts)")
      Boolean encryption;

      @Option(names = "--timeout", defaultValue = "120s")
      String timeout;

      @Override
      public Integer call() {
        new LocalCluster(state.state(), System.out)
            .restartAgent(node, encryption, duration("--timeout", timeout));
        System.out.println("restarted the agent of " + node);
        return 0;
      }
    }

    @Command(
        name = "remove",
        mixinStandardHelpOptions = true,
        description = {
          "Remove the node from the cluster: in one etcd transaction its id and every certificate"
              + " it holds are revoked and its record marked REMOVED; its session is closed, it"
              + " gets no new replicas and its replicas are rebuilt on other nodes. Idempotent.",
          "Goes through the annotation storage.mycnet.io/remove on the Kubernetes Node of that"
              + " name, as in a cluster, and waits until the operator has applied it."
        })
    static final class Remove implements Callable<Integer> {
      @Mixin StateDir state;

      @CommandLine.Spec CommandLine.Model.CommandSpec spec;

      @Parameters(paramLabel = "NODE")
      String node;

      @Option(
          names = "--reason",
          paramLabel = "TEXT",
          description = "why, kept in the revocation record and the event")
      String reason;

      @Mixin OperatorWait operatorWait;

      @Override
      public Integer call() {
        String id = nodeArgument(node);
        if (reason != null && reason.isBlank()) {
          throw badInput("--reason", "is empty: say why, or leave the flag out");
        }
        Duration t = operatorWait.timeout();
        try (LocalClient c = new LocalClient(state.state())) {
          spec.commandLine()
              .getOut()
              .println(
                  c.nodeAction(
                      id,
                      io.mycnet.storage.operator.reconciler.node.NodeActionWatcher.REMOVE,
                      reason == null ? "removed with mycnet node remove" : reason,
                      t));
          return 0;
        }
      }
    }

    @Command(
        name = "readmit",
        mixinStandardHelpOptions = true,
        description = {
          "Re-admit a removed node: in one etcd transaction its old certificates are revoked and"
              + " its id opened for exactly one new join with a new key and a bootstrap token.",
          "Goes through the annotation storage.mycnet.io/readmit on the Kubernetes Node of that"
              + " name, as in a cluster, and waits until the operator has applied it."
        })
    static final class Readmit implements Callable<Integer> {
      @Mixin StateDir state;

      @CommandLine.Spec CommandLine.Model.CommandSpec spec;

      @Parameters(paramLabel = "NODE")
      String node;

      @Mixin OperatorWait operatorWait;

      @Override
      public Integer call() {
        String id = nodeArgument(node);
        Duration t = operatorWait.timeout();
        try (LocalClient c = new LocalClient(state.state())) {
          spec.commandLine()
              .getOut()
              .println(
                  c.nodeAction(
                      id,
                      io.mycnet.storage.operator.reconciler.node.NodeActionWatcher.READMIT,
                      java.util.UUID.randomUUID().toString(),
                      t));
          return 0;
        }
      }
    }
  }

  @Command(
      name = "fence",
      mixinStandardHelpOptions = true,
      description = {
        "Fence a consumer node: in one etcd transaction each of its volume attachments is revoked"
            + " and that volume's epoch raised; the replicas then refuse the node's I/O, and the"
            + " volume can be attached to another node at once. For a node that is lost or must"
            + " not write any more.",
        "Goes through the annotation storage.mycnet.io/fence on the Kubernetes Node of that"
            + " name, as in a cluster, and waits until the operator has applied it."
      })
  static final class Fence implements Callable<Integer> {
    @Mixin StateDir state;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "NODE")
    String node;

    @Option(
        names = "--reason",
        paramLabel = "TEXT",
        description = "why, kept in the volumes' attachment note and the event")
    String reason;

    @Mixin OperatorWait operatorWait;

    @Override
    public Integer call() {
      String id = nodeArgument(node);
      if (reason != null && reason.isBlank()) {
        throw badInput("--reason", "is empty: say why, or leave the flag out");
      }
      Duration t = operatorWait.timeout();
      try (LocalClient c = new LocalClient(state.state())) {
        spec.commandLine()
            .getOut()
            .println(
                c.nodeAction(
                    id,
                    BlockExport.FENCE,
                    reason == null ? "fenced with mycnet node fence" : reason,
                    t));
        return 0;
      }
    }
  }

  /** A node id argument: exit code 2 naming NODE when it is not a valid node id. */
  static String nodeArgument(String node) {
    return nodeId("NODE", node);
  }

  /** A node id given as {@code what} (NODE, --node): exit code 2 naming it when invalid. */
  static String nodeId(String what, String node) {
    String problem = io.mycnet.storage.operator.security.NodeIds.problem(node);
    if (problem != null) {
      throw badInput(what, problem);
    }
    return node;
  }

  /** A claim name and its optional namespace: exit code 2 naming CLAIM or --namespace. */
  static void claimArguments(String claim, String namespace) {
    String problem = BlockExport.nameProblem(claim);
    if (problem != null) {
      throw badInput("CLAIM", problem);
    }
    if (namespace != null && (problem = BlockExport.nameProblem(namespace)) != null) {
      throw badInput("--namespace", problem);
    }
  }

  @Command(
      name = "claim",
      mixinStandardHelpOptions = true,
      description = "One StorageClaim.",
      subcommands = {Claim.Explain.class})
  static final class Claim extends CommandGroup {

    @Command(
        name = "explain",
        mixinStandardHelpOptions = true,
        description = "Why the claim is placed where it is, or why it is not placed.")
    static final class Explain implements Callable<Integer> {
      @Mixin StateDir state;

      @Parameters(paramLabel = "CLAIM")
      String name;

      @Option(names = {"-n", "--namespace"})
      String namespace;

      @Override
      public Integer call() {
        try (LocalClient c = new LocalClient(state.state())) {
          explain(c, c.claim(name, namespace), System.out);
        }
        return 0;
      }
    }

    static void explain(LocalClient c, StorageClaim claim, PrintStream out) {
      var s = claim.getStatus();
      out.printf(
          "claim %s/%s: phase %s%n",
          claim.getMetadata().getNamespace(),
          claim.getMetadata().getName(),
          s == null || s.getPhase() == null ? "(not reconciled yet)" : s.getPhase());
      String ready = StatusView.readyMessage(claim);
      if (!ready.isEmpty()) {
        out.println("not ready: " + ready);
      }
      String id = claim.getMetadata().getNamespace() + "." + claim.getMetadata().getName();
      var v = c.volume(id);
      if (v.isEmpty()) {
        out.println("no volume is allocated for it");
        return;
      }
      Allocation a = v.get();
      Map<String, String[]> trust = Map.of();
      try {
        trust = c.trust();
      } catch (CliException e) {
        // shown without scores
      }
      out.printf(
          Locale.ROOT,
          "volume %s: %s, %s, %s, %d replicas in pool %s, strategy %s, epoch %d, state %s%n",
          a.getVolumeId(),
          StatusView.bytes(a.getSizeBytes()),
          a.getClassification().name().replace("CLASSIFICATION_", ""),
          a.getConsistency().name().replace("CONSISTENCY_LEVEL_", ""),
          a.getReplicaCount(),
          a.getPool(),
          a.getStrategy().name().replace("REPLICATION_STRATEGY_", ""),
          a.getEpoch(),
          a.getState().name().replace("VOLUME_STATE_", ""));
      for (Replica r : a.getReplicasList()) {
        String[] t = trust.getOrDefault(r.getNodeId(), new String[] {"-", "-"});
        out.printf(
            "  %s%s  %s  trust %s (%s)  %s%s%n",
            r.getNodeId(),
            r.getNodeId().equals(a.getPrimaryNodeId()) ? " (primary)" : "",
            r.getTopologyPath(),
            t[0],
            t[1],
            StatusView.replicaState(r),
            r.getSourceNodeId().isEmpty() ? "" : " from " + r.getSourceNodeId());
      }
      if (!a.getPlacementNote().isEmpty()) {
        out.println("placement: " + a.getPlacementNote());
      }
      if (!a.getRepairNote().isEmpty()) {
        out.println("repair: " + a.getRepairNote());
      }
      if (a.getAttachmentsCount() == 0) {
        out.println(
            "attachments: none (mycnet volume attach "
                + claim.getMetadata().getName()
                + " --node NODE)");
      } else {
        out.println("attachments:");
        for (var at : a.getAttachmentsList()) {
          out.println("  " + BlockExport.describe(at));
        }
      }
      if (!a.getAttachmentNote().isEmpty()) {
        out.println("attachment: " + a.getAttachmentNote());
      }
    }
  }

  @Command(
      name = "volume",
      mixinStandardHelpOptions = true,
      description =
          "Put bytes into a claim's volume and get them back, through the volume I/O path with the"
              + " service namespace's credentials; attach it to a node and use it as a block device"
              + " (NBD); mount it as a file system through the CSI driver.",
      subcommands = {
        Volume.Write.class,
        Volume.Read.class,
        VolumeAttachment.Attach.class,
        VolumeAttachment.Detach.class,
        VolumeAttachment.Export.class,
        VolumeMount.Mount.class,
        VolumeMount.Unmount.class
      })
  static final class Volume extends CommandGroup {

    @Command(
        name = "write",
        mixinStandardHelpOptions = true,
        description = "Write FILE into the claim's volume at --offset (through its primary).")
    static final class Write implements Callable<Integer> {
      @Mixin StateDir state;

      @Parameters(index = "0", paramLabel = "CLAIM")
      String name;

      @Parameters(index = "1", paramLabel = "FILE")
      Path file;

      @Option(names = {"-n", "--namespace"})
      String namespace;

      @Option(names = "--offset", defaultValue = "0")
      long offset;

      @Override
      public Integer call() throws IOException {
        atLeast("--offset", offset, 0);
        byte[] data = Files.readAllBytes(inputFile(file));
        try (LocalClient c = new LocalClient(state.state())) {
          Allocation a = c.volumeOf(c.claim(name, namespace));
          if (offset + data.length > a.getSizeBytes()) {
            throw badInput(
                "--offset",
                "bytes "
                    + offset
                    + ".."
                    + (offset + data.length)
                    + " do not fit the volume ("
                    + a.getSizeBytes()
                    + " bytes)");
          }
          c.write(a, offset, data);
          System.out.printf(
              "wrote %d bytes at offset %d of %s (primary %s, epoch %d, %s)%n"
                  + "read them back with: mycnet volume read %s --offset %d --length %d -o FILE%n",
              data.length,
              offset,
              a.getVolumeId(),
              a.getPrimaryNodeId(),
              a.getEpoch(),
              a.getConsistency().name().replace("CONSISTENCY_LEVEL_", ""),
              name,
              offset,
              data.length);
        }
        return 0;
      }
    }

    @Command(
        name = "read",
        mixinStandardHelpOptions = true,
        description =
            "Read --length bytes at --offset of the claim's volume to -o FILE (or standard output).")
    static final class Read implements Callable<Integer> {
      @Mixin StateDir state;

      @Parameters(paramLabel = "CLAIM")
      String name;

      @Option(names = {"-n", "--namespace"})
      String namespace;

      @Option(names = "--offset", defaultValue = "0")
      long offset;

      @Option(names = "--length", required = true)
      int length;

      @Option(
          names = "--from",
          paramLabel = "NODE",
          description = "read this node's replica (default: the primary)")
      String from;

      @Option(
          names = {"-o", "--output"},
          paramLabel = "FILE")
      Path output;

      @Override
      public Integer call() throws IOException {
        atLeast("--offset", offset, 0);
        atLeast("--length", length, 0);
        if (output != null) {
          outputFile("-o", output);
        }
        try (LocalClient c = new LocalClient(state.state())) {
          Allocation a = c.volumeOf(c.claim(name, namespace));
          if (offset + length > a.getSizeBytes()) {
            throw badInput(
                "--offset/--length",
                "bytes "
                    + offset
                    + ".."
                    + (offset + length)
                    + " do not lie within the volume ("
                    + a.getSizeBytes()
                    + " bytes)");
          }
          byte[] data = c.read(a, from != null ? from : a.getPrimaryNodeId(), offset, length);
          if (output != null) {
            Files.write(output, data);
            System.out.printf("read %d bytes into %s%n", data.length, output);
          } else {
            System.out.write(data);
            System.out.flush();
          }
        }
        return 0;
      }
    }
  }
}
