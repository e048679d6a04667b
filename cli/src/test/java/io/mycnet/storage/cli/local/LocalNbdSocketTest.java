package io.mycnet.storage.cli.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.cli.CliException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where local mode puts each agent's NBD Unix socket, within the kernel's 107-byte limit. */
class LocalNbdSocketTest {
  @TempDir Path tmp;

  private static int bytes(Path p) {
    return p.toString().getBytes(StandardCharsets.UTF_8).length;
  }

  @Test
  void aShortStateDirectoryKeepsTheSocketInTheNodesDataDirectory() {
    LocalState st = new LocalState(tmp.resolve("state"));
    Path s = st.nbdSocket("core-1", tmp.resolve("t"));
    assertThat(s).isEqualTo(st.nodeDir("core-1").resolve("nbd.sock"));
    st.prepareSocketDir(s); // the agent's own directory: nothing to make
    assertThat(tmp.resolve("t")).doesNotExist();
  }

  @Test
  void aDeepStateDirectoryPutsTheSocketsInAShortDirectoryOfItsOwnThatFits() throws Exception {
    Path deep = tmp.resolve("d".repeat(90));
    LocalState st = new LocalState(deep);
    Files.createDirectories(st.root());
    assertThat(bytes(st.nodeDir("core-1").resolve("nbd.sock"))).isGreaterThan(107);

    Path s = st.nbdSocket("core-1", tmp);
    assertThat(bytes(s)).isLessThanOrEqualTo(LocalState.MAX_SOCKET_PATH_BYTES);
    assertThat(s.getFileName()).hasToString("core-1.sock");
    assertThat(s.getParent()).isEqualTo(st.shortSocketDir(tmp));
    assertThat(s.getParent().getFileName().toString()).matches("mycnet-nbd-[0-9a-f]{12}");
    // Stable for one state directory, different for another.
    assertThat(st.nbdSocket("core-1", tmp)).isEqualTo(s);
    assertThat(st.nbdSocket("core-2", tmp).getParent()).isEqualTo(s.getParent());
    assertThat(new LocalState(tmp.resolve("e".repeat(90))).nbdSocket("core-1", tmp).getParent())
        .isNotEqualTo(s.getParent());

    st.prepareSocketDir(s);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(s.getParent())))
        .isEqualTo("rwx------");
    st.prepareSocketDir(s); // again: kept
    assertThat(s.getParent()).isDirectory();
  }

  @Test
  void aLinkInPlaceOfTheShortDirectoryIsRefused() throws Exception {
    LocalState st = new LocalState(tmp.resolve("d".repeat(90)));
    Files.createDirectories(st.root());
    Path s = st.nbdSocket("core-1", tmp);
    Files.createSymbolicLink(s.getParent(), Files.createDirectories(tmp.resolve("elsewhere")));
    assertThatThrownBy(() -> st.prepareSocketDir(s))
        .isInstanceOf(CliException.class)
        .hasMessageContaining("is not a directory of the state directory's owner");
  }

  @Test
  void aSocketPathThatCannotFitAnywhereIsExitCode2() {
    LocalState st = new LocalState(tmp.resolve("d".repeat(90)));
    Path longTmp = tmp.resolve("t".repeat(60));
    assertThatThrownBy(() -> st.nbdSocket("core-1-with-a-long-name", longTmp))
        .isInstanceOfSatisfying(CliException.class, e -> assertThat(e.exitCode()).isEqualTo(2))
        .hasMessageContaining("more than the 107 a Unix socket path may have");
  }
}
