package io.mycnet.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.cli.local.LocalTopologyTest;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line itself: help everywhere, clear errors before anything is started. */
class MycnetCliTest {
  @TempDir Path dir;

  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Mycnet.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void everyCommandHasHelp() {
    for (List<String> cmd :
        List.of(
            List.<String>of(),
            List.of("local"),
            List.of("local", "up"),
            List.of("local", "down"),
            List.of("status"),
            List.of("node", "explain"),
            List.of("node", "kill"),
            List.of("node", "restart"),
            List.of("node", "remove"),
            List.of("node", "readmit"),
            List.of("node", "fence"),
            List.of("volume", "attach"),
            List.of("volume", "detach"),
            List.of("volume", "export"),
            List.of("volume", "mount"),
            List.of("volume", "unmount"),
            List.of("claim", "explain"),
            List.of("volume", "write"),
            List.of("volume", "read"),
            List.of("client", "revoke"),
            List.of("demo"))) {
      String[] args =
          new java.util.ArrayList<String>(cmd) {
            {
              add("--help");
            }
          }.toArray(String[]::new);
      Run r = run(args);
      assertThat(r.code()).as(String.join(" ", cmd)).isZero();
      assertThat(r.out()).as(String.join(" ", cmd)).contains("Usage: mycnet").contains("--help");
    }
  }

  @Test
  void commandsThatNeedLocalModeSaySoWhenItIsNotUp() {
    Run r = run("status", "--state-dir=" + dir);
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("local mode has not been started").contains("mycnet local up");
    r = run("node", "kill", "core-1", "--state-dir=" + dir);
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("mycnet local up");
  }

  @Test
  void localUpRefusesABadTopologyOrAMissingManifestDirectoryBeforeStartingAnything()
      throws Exception {
    Path bad = dir.resolve("topology.yaml");
    Files.writeString(
        bad, "nodes:\n  - id: n1\n    region: eu\n    zone: z\n    rack: r\n    capacity: huge\n");
    Run r = run("local", "up", "--state-dir=" + dir.resolve("state"), "--topology=" + bad);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("invalid topology").contains("nodes[0].capacity");
    r =
        run(
            "local",
            "up",
            "--state-dir=" + dir.resolve("state"),
            "--topology=" + LocalTopologyTest.DEFAULT,
            "--manifests=" + dir.resolve("absent"));
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("manifest directory").contains("does not exist");
    assertThat(dir.resolve("state")).doesNotExist();
  }

  /** One line on standard error, no stack trace. */
  private static void oneLine(Run r) {
    assertThat(r.err().strip()).doesNotContain("\n").startsWith("mycnet: ");
    assertThat(r.err()).doesNotContain("Exception").doesNotContain("\tat ");
  }

  @Test
  void aTopologyCapacityAboveTheFileSystemIsRefusedBeforeAnythingStarts() throws Exception {
    long size = Files.getFileStore(dir).getTotalSpace();
    Path big = dir.resolve("topology.yaml");
    Files.writeString(
        big,
        Files.readString(LocalTopologyTest.DEFAULT)
            .replaceFirst("capacity: 100Gi", "capacity: \"" + (size + (1L << 30)) + "\""));
    Run r =
        run(
            "local",
            "up",
            "--state-dir=" + dir.resolve("state"),
            "--topology=" + big,
            "--manifests=" + dir);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err())
        .contains("invalid topology")
        .contains("nodes[0].capacity")
        .contains("more than the size of the file system");
    oneLine(r);
    assertThat(dir.resolve("state")).doesNotExist();
  }

  @Test
  void volumeFileErrorsAndBadNumbersAreOneLineWithExitCode2BeforeLocalModeIsAsked()
      throws Exception {
    String state = "--state-dir=" + dir.resolve("state");
    Run r = run("volume", "write", "payments-ledger", dir.resolve("missing.bin").toString(), state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("missing.bin does not exist");
    oneLine(r);

    r = run("volume", "write", "payments-ledger", dir.toString(), state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("is not a regular file");
    oneLine(r);

    Path data = Files.write(dir.resolve("data.bin"), new byte[] {1, 2, 3});
    r = run("volume", "write", "payments-ledger", data.toString(), "--offset", "-5", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--offset: must be at least 0, was -5");
    oneLine(r);

    r =
        run(
            "volume",
            "read",
            "payments-ledger",
            "--length=3",
            "-o",
            dir.resolve("no-such-dir").resolve("out.bin").toString(),
            state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("-o: directory").contains("no-such-dir does not exist");
    oneLine(r);

    r = run("volume", "read", "payments-ledger", "--length=3", "-o", dir.toString(), state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("is a directory");
    oneLine(r);

    r = run("volume", "read", "payments-ledger", "--length=-1", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--length: must be at least 0, was -1");
    oneLine(r);

    r = run("volume", "read", "payments-ledger", "--length=3", "--offset=-5", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--offset: must be at least 0, was -5");
    oneLine(r);

    // Not a number at all: picocli's own refusal, the same exit code.
    r = run("volume", "read", "payments-ledger", "--length=lots", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--length").doesNotContain("\tat ");

    // With valid arguments the same commands get as far as asking local mode: exit 1.
    r = run("volume", "write", "payments-ledger", data.toString(), state);
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("mycnet local up");
    oneLine(r);
  }

  @Test
  void badDurationsAreExitCode2NamingTheFlag() {
    String state = "--state-dir=" + dir.resolve("state");
    Run r = run("local", "up", state, "--timeout=soon");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--timeout: 'soon' is not a duration");
    oneLine(r);
    r = run("node", "restart", "core-1", state, "--timeout=0s");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--timeout: must be more than 0");
    oneLine(r);
    r = run("demo", state, "--step-timeout=0s");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--step-timeout");
    oneLine(r);
    assertThat(dir.resolve("state")).doesNotExist();
  }

  @Test
  void nodeRemoveAndReadmitArgumentErrorsAreExitCode2NamingTheArgument() {
    String state = "--state-dir=" + dir;
    Run r = run("node", "remove", "Core_3", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("mycnet: NODE: ");
    oneLine(r);
    r = run("node", "readmit", "-", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("mycnet: NODE: ");
    r = run("node", "remove", "core-3", "--reason=  ", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--reason").contains("empty");
    r = run("node", "remove", "core-3", "--timeout=0s", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--timeout");
    r = run("node", "readmit", "core-3", "--timeout=soon", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--timeout");
    r = run("node", "remove", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("NODE");
    r = run("node", "readmit", "core-3", "extra", state);
    assertThat(r.code()).isEqualTo(2);
    // Valid arguments without local mode: says how to start it.
    r = run("node", "remove", "core-3", state);
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("mycnet local up");
  }

  @Test
  void blockExportArgumentErrorsAreExitCode2NamingTheFlag() {
    String state = "--state-dir=" + dir;
    // --node is required by attach and detach.
    Run r = run("volume", "attach", "ledger", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--node");
    r = run("volume", "detach", "ledger", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--node");
    r = run("volume", "attach", "--node=core-1", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("CLAIM");

    r = run("volume", "attach", "ledger", "--node=Core_1", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("mycnet: --node: ");
    oneLine(r);
    r = run("volume", "detach", "ledger", "--node=-", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("mycnet: --node: ");
    oneLine(r);
    r = run("volume", "export", "ledger", "--node=Core_1", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("mycnet: --node: ");
    oneLine(r);

    r = run("volume", "attach", "Ledger!", "--node=core-1", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("mycnet: CLAIM: ").contains("not a Kubernetes name");
    oneLine(r);
    r = run("volume", "export", "ledger", "--namespace=Pay/ments", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("mycnet: --namespace: ");
    oneLine(r);
    r = run("volume", "detach", "ledger", "-n", "", "--node=core-1", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("mycnet: --namespace: ").contains("empty");

    r = run("volume", "attach", "ledger", "--node=core-1", "--timeout=0s", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--timeout: must be more than 0");
    r = run("volume", "detach", "ledger", "--node=core-1", "--timeout=soon", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--timeout: 'soon' is not a duration");
    r = run("volume", "attach", "ledger", "--node=core-1", "--read-only=maybe", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--read-only");
    r = run("volume", "attach", "ledger", "extra", "--node=core-1", state);
    assertThat(r.code()).isEqualTo(2);

    r = run("node", "fence", "Core_1", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("mycnet: NODE: ");
    oneLine(r);
    r = run("node", "fence", "core-1", "--reason= ", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--reason").contains("empty");
    r = run("node", "fence", state);
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("NODE");

    // Valid arguments without local mode: say how to start it, exit 1, nothing written.
    for (String[] ok :
        new String[][] {
          {"volume", "attach", "ledger", "--node=core-1", "--read-only", state},
          {"volume", "detach", "ledger", "-n", "payments", "--node=core-1", state},
          {"volume", "export", "ledger", state},
          {"node", "fence", "core-1", "--reason=lost", state}
        }) {
      r = run(ok);
      assertThat(r.code()).as(String.join(" ", ok)).isEqualTo(1);
      assertThat(r.err()).as(String.join(" ", ok)).contains("mycnet local up");
    }
    assertThat(dir.resolve("nbd-tls")).doesNotExist();
  }
}
