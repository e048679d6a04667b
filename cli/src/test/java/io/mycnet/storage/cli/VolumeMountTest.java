package io.mycnet.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.cli.local.LocalState;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code mycnet volume mount|unmount}'s arguments: every bad one is exit code 2 naming it, before
 * local mode is asked anything; the default node is the first UP node whose tier admits the data.
 */
class VolumeMountTest {
  @TempDir Path dir;

  record Run(int code, String out, String err) {}

  Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Mycnet.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    String[] all = new String[args.length + 1];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--state-dir=" + dir.resolve("state");
    return new Run(cl.execute(all), out.toString(), err.toString());
  }

  void refused(Run r, String names, String says) {
    assertThat(r.code()).as(r.err()).isEqualTo(2);
    assertThat(r.err()).startsWith("mycnet: " + names + ":").contains(says);
    assertThat(r.err().strip().lines().count()).as(r.err()).isEqualTo(1);
  }

  @Test
  void badArgumentsAreExitCode2NamingThemBeforeLocalModeIsAsked() throws Exception {
    Path target = Files.createDirectories(dir.resolve("mnt"));
    refused(run("volume", "mount", "Ledger", target.toString()), "CLAIM", "not a Kubernetes name");
    refused(
        run("volume", "mount", "bad_ns/ledger", target.toString()),
        "CLAIM",
        "namespace 'bad_ns' is not a Kubernetes name");
    refused(
        run("volume", "mount", "a/ledger", target.toString(), "-n", "b"),
        "CLAIM",
        "names namespace a but -n says b");
    refused(run("volume", "mount", "ns/", target.toString()), "CLAIM", "is empty");
    refused(
        run("volume", "mount", "ledger", target.toString(), "--fs", "btrfs"),
        "--fs",
        "'btrfs' is not one of ext4, xfs");
    refused(
        run("volume", "mount", "ledger", target.toString(), "--fs", "ext4", "--block"),
        "--fs",
        "a raw block volume (--block) has no file system");
    refused(
        run("volume", "mount", "ledger", target.toString(), "--node", "Core_1"),
        "--node",
        "Core_1");
    refused(
        run("volume", "mount", "ledger", target.toString(), "--timeout", "0s"),
        "--timeout",
        "must be more than 0");
    refused(
        run("volume", "mount", "ledger", dir.resolve("no/such").toString()),
        "DIR",
        "does not exist");
    Path file = Files.writeString(dir.resolve("file"), "x");
    refused(run("volume", "mount", "ledger", file.toString()), "DIR", "is not a directory");
    refused(
        run("volume", "mount", "ledger", target.toString(), "--block"),
        "DIR",
        "is not a file (--block binds the device)");
    Files.createDirectories(dir.resolve("state"));
    refused(
        run("volume", "mount", "ledger", dir.resolve("state").resolve("m").toString()),
        "DIR",
        "lies in local mode's state directory");
    refused(run("volume", "unmount", target.toString(), "--timeout", "x"), "--timeout", "x");
  }

  @Test
  void goodArgumentsReachLocalModeWhichSaysItIsNotUp() throws Exception {
    Path target = Files.createDirectories(dir.resolve("mnt"));
    for (String[] args :
        new String[][] {
          {"volume", "mount", "ledger", target.toString()},
          {"volume", "mount", "mycnet-demo/ledger", target.toString(), "--fs", "xfs"},
          {"volume", "mount", "ledger", dir.resolve("dev").toString(), "--block", "--read-only"},
          {"volume", "mount", "ledger", target.toString(), "-n", "ns", "--node", "core-1"}
        }) {
      Run r = run(args);
      assertThat(r.code()).as(String.join(" ", args) + ": " + r.err()).isEqualTo(1);
      assertThat(r.err()).contains("local mode has not been started").contains("mycnet local up");
    }
  }

  @Test
  void unmountOfADirectoryNothingWasMountedOnIsNotAnError() throws Exception {
    Path target = Files.createDirectories(dir.resolve("mnt"));
    Run r = run("volume", "unmount", target.toString());
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out()).contains("nothing mounted at " + target);
  }

  @Test
  void aTierAdmitsItsOwnClassificationAndTheOnesBelow() {
    assertThat(VolumeMount.admits("CRITICAL", "CRITICAL")).isTrue();
    assertThat(VolumeMount.admits("CRITICAL", "PUBLIC")).isTrue();
    assertThat(VolumeMount.admits("SENSITIVE", "CRITICAL")).isFalse();
    assertThat(VolumeMount.admits("STANDARD", "SENSITIVE")).isFalse();
    assertThat(VolumeMount.admits("STANDARD", "STANDARD")).isTrue();
    assertThat(VolumeMount.admits("NONE", "PUBLIC")).isFalse();
    assertThat(VolumeMount.admits("unknown", "PUBLIC")).isFalse();
  }

  static NodeRecord node(String id, NodeState state) {
    return NodeRecord.newBuilder().setNodeId(id).setState(state).build();
  }

  @Test
  void theDefaultNodeIsTheFirstUpNodeWhoseTierAdmitsTheClassification() {
    List<NodeRecord> nodes =
        List.of(
            node("edge-1", NodeState.NODE_STATE_UP),
            node("core-2", NodeState.NODE_STATE_UP),
            node("core-1", NodeState.NODE_STATE_DOWN),
            node("edge-2", NodeState.NODE_STATE_UP));
    Map<String, String[]> trust =
        Map.of(
            "core-1", new String[] {"0.98", "CRITICAL"},
            "core-2", new String[] {"0.98", "CRITICAL"},
            "edge-1", new String[] {"0.88", "STANDARD"},
            "edge-2", new String[] {"0.83", "SENSITIVE"});
    assertThat(VolumeMount.defaultNode(nodes, trust, "CRITICAL")).isEqualTo("core-2");
    assertThat(VolumeMount.defaultNode(nodes, trust, "STANDARD")).isEqualTo("core-2");
    assertThat(VolumeMount.defaultNode(List.of(nodes.get(0), nodes.get(3)), trust, "SENSITIVE"))
        .isEqualTo("edge-2");
    assertThatThrownBy(
            () -> VolumeMount.defaultNode(List.of(nodes.get(0), nodes.get(2)), trust, "CRITICAL"))
        .isInstanceOf(CliException.class)
        .hasMessage(
            "no UP node's trust tier admits CRITICAL data: core-1 (CRITICAL, DOWN), edge-1"
                + " (STANDARD); name one with --node");
  }

  @Test
  void theCsiSocketsMoveToTheShortDirectoryWhenTheStateDirectoryIsTooDeep() {
    LocalState shallow = new LocalState(dir.resolve("s"));
    assertThat(shallow.csiSocket("core-1"))
        .isEqualTo(shallow.nodeDir("core-1").resolve("csi.sock"));
    assertThat(shallow.csiControllerSocket())
        .isEqualTo(shallow.root().resolve("csi").resolve("controller.sock"));
    LocalState deep = new LocalState(dir.resolve("d".repeat(100)));
    assertThat(deep.csiSocket("core-1"))
        .isEqualTo(deep.shortSocketDir().resolve("core-1.csi.sock"));
    assertThat(deep.csiControllerSocket())
        .isEqualTo(deep.shortSocketDir().resolve("_controller.csi.sock"));
    assertThat(deep.csiSocket("core-1").toString().length())
        .isLessThanOrEqualTo(LocalState.MAX_SOCKET_PATH_BYTES);
  }
}
