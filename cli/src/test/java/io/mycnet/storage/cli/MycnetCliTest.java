package io.mycnet.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;

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
            List.of("claim", "explain"),
            List.of("volume", "write"),
            List.of("volume", "read"),
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
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("manifest directory").contains("does not exist");
    assertThat(dir.resolve("state")).doesNotExist();
  }
}
