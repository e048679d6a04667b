package io.mycnet.storage.common.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChildProcessTest {
  static final Duration READY = Duration.ofSeconds(60);

  @TempDir Path dir;

  ChildProcess.Builder child(String... args) {
    return ChildProcess.java(ChildMain.class.getName())
        .name("child")
        .jvmArgs(List.of("-Xmx32m", "-XX:TieredStopAtLevel=1"))
        .args(List.of(args))
        .log(dir.resolve("logs/child.log"));
  }

  @Test
  void startsWithArgsAndEnvironmentAndReadsTheReadyLine() {
    try (ChildProcess p = child("ready", "v1").env(Map.of("CHILD_ENV", "e1")).start()) {
      Map<String, String> ready = p.awaitReady(READY);
      assertThat(ready)
          .containsExactly(
              Map.entry("pid", Long.toString(p.pid())),
              Map.entry("value", "v1"),
              Map.entry("env", "e1"));
      assertThat(p.stdoutLines()).startsWith("starting");
      assertThat(p.isAlive()).isTrue();
      p.stop(Duration.ofSeconds(20));
      assertThat(p.isAlive()).isFalse();
      assertThat(ProcessHandle.of(Long.parseLong(ready.get("pid"))).filter(ProcessHandle::isAlive))
          .isEmpty();
    }
  }

  @Test
  void aSecondRunAppendsToTheLogAndReadsOnlyItsOwnReadyLine() {
    try (ChildProcess first = child("ready", "one").env(Map.of("CHILD_ENV", "x")).start()) {
      assertThat(first.awaitReady(READY)).containsEntry("value", "one");
      first.stop(Duration.ofSeconds(20));
    }
    try (ChildProcess second = child("ready", "two").env(Map.of("CHILD_ENV", "x")).start()) {
      assertThat(second.awaitReady(READY)).containsEntry("value", "two");
      assertThat(second.stdout()).contains("value=one").contains("value=two");
      assertThat(second.stdoutLines()).noneMatch(l -> l.contains("value=one"));
    }
  }

  @Test
  void aProcessThatExitsWhileStartingFailsWithItsCodeAndLog() {
    try (ChildProcess p = child("exit", "2").start()) {
      assertThatThrownBy(() -> p.awaitReady(READY))
          .isInstanceOf(ChildProcess.StartFailure.class)
          .hasMessageContaining("child exited with code 2 while starting")
          .hasMessageContaining("bad setting CHILD_ENV: no good");
      assertThat(p.exitValue()).isEqualTo(2);
    }
  }

  @Test
  void aProcessThatNeverGetsReadyIsKilledWhenTheWaitEnds() {
    try (ChildProcess p = child("silent").start()) {
      assertThatThrownBy(() -> p.awaitReady(Duration.ofSeconds(2)))
          .isInstanceOf(ChildProcess.StartFailure.class)
          .hasMessageContaining("child did not become ready within 2s");
      assertThat(p.isAlive()).isFalse();
    }
  }

  @Test
  void separateStandardErrorGoesToItsOwnFile() {
    try (ChildProcess p = child("exit", "3").stderr(dir.resolve("logs/child.err")).start()) {
      assertThat(p.awaitExit(READY)).isTrue();
      assertThat(p.stderr()).contains("bad setting");
      assertThat(p.stdout()).doesNotContain("bad setting");
    }
  }

  @Test
  void stopKillsAProcessThatDoesNotEndOnSigterm() {
    ChildProcess p = child("stubborn").start();
    try {
      p.awaitReady(READY);
      p.stop(Duration.ofMillis(500));
      assertThat(p.isAlive()).isFalse();
      // SIGKILL ends a JVM with 128 + 9.
      assertThat(p.exitValue()).isEqualTo(137);
    } finally {
      p.close();
    }
  }

  @Test
  void killEndsAtOnce() {
    try (ChildProcess p = child("ready", "k").env(Map.of("CHILD_ENV", "x")).start()) {
      p.awaitReady(READY);
      p.kill();
      assertThat(p.isAlive()).isFalse();
      assertThat(p.exitValue()).isEqualTo(137);
    }
  }

  @Test
  void frozenProcessIsStoppedUntilThawed() throws Exception {
    try (ChildProcess p = child("tick").start()) {
      p.awaitReady(READY);
      p.freeze();
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> state(p.pid()) == 'T');
      int frozenAt = p.stdoutLines().size();
      p.thaw();
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> state(p.pid()) != 'T' && p.stdoutLines().size() > frozenAt + 2);
    }
  }

  @Test
  void closeStopsAFrozenProcess() {
    ChildProcess p = child("tick").start();
    p.awaitReady(READY);
    p.freeze();
    p.close();
    assertThat(p.isAlive()).isFalse();
  }

  /** The state letter of /proc/PID/stat (T: stopped by a signal). */
  static char state(long pid) throws Exception {
    String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    return stat.charAt(stat.lastIndexOf(')') + 2);
  }
}
