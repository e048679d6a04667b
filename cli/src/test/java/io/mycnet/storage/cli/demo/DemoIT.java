package io.mycnet.storage.cli.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The README's first command as a user runs it: {@code ./mycnet demo} from the built distribution
 * (the launcher, {@code MYCNET_SKIP_BUILD=1} because this build just made it), as a process, with
 * etcd, the control plane and six agents as its processes; then {@code mycnet status} and {@code
 * mycnet local down --wipe}, which must leave none of them running.
 */
class DemoIT {
  static final Path ROOT =
      Path.of(System.getProperty("mycnet.root", "..")).toAbsolutePath().normalize();
  static Path state;

  @BeforeAll
  static void stateDir() throws IOException {
    state = Path.of("target", "demo-it-state").toAbsolutePath();
    if (Files.exists(state)) {
      run(List.of("local", "down", "--wipe"), 120);
    }
  }

  @AfterAll
  static void down() throws Exception {
    Result r = run(List.of("local", "down", "--wipe"), 120);
    assertThat(r.code).as(r.output).isZero();
    assertThat(state).doesNotExist();
  }

  record Result(int code, String output) {}

  static Result run(List<String> args, long timeoutSeconds) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(ROOT.resolve("mycnet").toString());
    cmd.addAll(args);
    cmd.add("--state-dir=" + state);
    Path log = Files.createTempFile("mycnet-", ".out");
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("MYCNET_SKIP_BUILD", "1");
    pb.environment().put("MYCNET_HOME", ROOT.toString());
    Process p = pb.start();
    try {
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        throw new AssertionError(
            "mycnet "
                + String.join(" ", args)
                + " did not finish within "
                + timeoutSeconds
                + "s:\n"
                + Files.readString(log));
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted");
    }
    String out = Files.readString(log);
    Files.copy(
        log,
        Path.of("target", "mycnet-" + args.get(0) + ".out"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Files.delete(log);
    return new Result(p.exitValue(), out);
  }

  @Test
  void theDemoCompletesEveryStepAndStatusShowsTheResult() throws Exception {
    Result demo = run(List.of("demo"), 900);
    assertThat(demo.code).as(demo.output).isZero();
    assertThat(demo.output)
        .contains("demo PASSED: every step held")
        .contains("replicas re-replicated")
        .contains("read back byte-identical")
        .doesNotContain("FAIL ");
    assertThat(demo.output)
        .contains("synced files identical after SIGKILL of the primary")
        .contains("does not admit CRITICAL");
    // The CSI step's kill leaves rebuilds running in the background: every volume is BOUND again
    // once they are done.
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
    Result status;
    long bound;
    do {
      status = run(List.of("status"), 120);
      assertThat(status.code).as(status.output).isZero();
      bound = status.output.lines().filter(l -> l.contains(" BOUND ")).count();
      if (bound != 7) {
        Thread.sleep(5000);
      }
    } while (bound != 7 && System.nanoTime() < deadline);
    assertThat(status.output).contains("NODES").contains("region eu").contains("region us");
    assertThat(bound).as(status.output).isEqualTo(7);
    assertThat(status.output).contains("CRITICAL").contains("STANDARD").contains("SENSITIVE");
  }
}
