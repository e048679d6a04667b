package io.mycnet.storage.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EtcdBinaryTest {

  @Test
  void missingEtcdFailsWithInstallHint(@TempDir Path empty) {
    assertThatThrownBy(() -> EtcdBinary.locate(Map.of("PATH", empty.toString())))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("apt-get install -y etcd-server")
        .hasMessageContaining("MYCNET_ETCD_BIN");
  }

  @Test
  void configuredBinaryMustBeExecutable(@TempDir Path dir) throws Exception {
    Path notExecutable = Files.createFile(dir.resolve("etcd"));
    assertThatThrownBy(
            () -> EtcdBinary.locate(Map.of(EtcdBinary.ENV, notExecutable.toString(), "PATH", "")))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("is not an executable file");
  }

  @Test
  void findsExecutableOnPath(@TempDir Path dir) throws Exception {
    Path fake = Files.createFile(dir.resolve("etcd"));
    assertThat(fake.toFile().setExecutable(true)).isTrue();
    assertThat(EtcdBinary.locate(Map.of("PATH", "/nonexistent:" + dir))).isEqualTo(fake);
  }
}
