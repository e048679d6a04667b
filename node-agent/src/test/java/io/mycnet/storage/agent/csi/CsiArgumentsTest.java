package io.mycnet.storage.agent.csi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.csi.v1.VolumeCapability;
import io.mycnet.storage.csi.v1.VolumeCapability.AccessMode.Mode;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The node plugin's argument checks, and the parts of mountinfo it reads. */
class CsiArgumentsTest {
  static VolumeCapability mount(String fs, Mode mode, String... flags) {
    return VolumeCapability.newBuilder()
        .setMount(
            VolumeCapability.MountVolume.newBuilder()
                .setFsType(fs)
                .addAllMountFlags(List.of(flags)))
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode))
        .build();
  }

  static void invalid(Runnable r, String part) {
    assertThatThrownBy(r::run)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription()).contains(part);
            });
  }

  @Test
  void fileSystemsAndAccessModes() {
    assertThat(CsiNodeService.checkCapability(mount("", Mode.SINGLE_NODE_WRITER)))
        .isEqualTo("ext4");
    assertThat(CsiNodeService.checkCapability(mount("ext4", Mode.MULTI_NODE_READER_ONLY)))
        .isEqualTo("ext4");
    assertThat(
            CsiNodeService.checkCapability(
                VolumeCapability.newBuilder()
                    .setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
                    .setAccessMode(
                        VolumeCapability.AccessMode.newBuilder()
                            .setMode(Mode.SINGLE_NODE_SINGLE_WRITER))
                    .build()))
        .isEmpty();
    invalid(() -> CsiNodeService.checkCapability(mount("btrfs", Mode.SINGLE_NODE_WRITER)), "btrfs");
    invalid(
        () -> CsiNodeService.checkCapability(mount("ext4", Mode.MULTI_NODE_MULTI_WRITER)),
        "MULTI_NODE_MULTI_WRITER");
    invalid(
        () -> CsiNodeService.checkCapability(mount("ext4", Mode.MULTI_NODE_SINGLE_WRITER)),
        "MULTI_NODE_SINGLE_WRITER");
    invalid(() -> CsiNodeService.checkCapability(mount("ext4", Mode.UNKNOWN)), "UNKNOWN");
    invalid(
        () ->
            CsiNodeService.checkCapability(
                VolumeCapability.newBuilder()
                    .setAccessMode(
                        VolumeCapability.AccessMode.newBuilder().setMode(Mode.SINGLE_NODE_WRITER))
                    .build()),
        "access_type");
    invalid(
        () -> CsiNodeService.checkCapability(mount("ext4", Mode.SINGLE_NODE_WRITER, "")),
        "mount flag");
    assertThat(CsiNodeService.readerOnly(mount("", Mode.SINGLE_NODE_READER_ONLY))).isTrue();
    assertThat(CsiNodeService.readerOnly(mount("", Mode.SINGLE_NODE_WRITER))).isFalse();
  }

  @Test
  void pathsAreAbsoluteWithoutDotDot() {
    assertThat(CsiNodeService.path("target_path", "/var/lib/kubelet/pods/x/./vol"))
        .isEqualTo(Path.of("/var/lib/kubelet/pods/x/vol"));
    invalid(() -> CsiNodeService.path("target_path", ""), "target_path is required");
    invalid(() -> CsiNodeService.path("target_path", "some/path"), "not an absolute path");
    invalid(() -> CsiNodeService.path("target_path", "/a/../etc"), "'..'");
    invalid(() -> CsiNodeService.path("target_path", "/a\0b"), "NUL");
  }

  @Test
  void mountinfoEscapes() {
    assertThat(Mounts.unescape("/mnt/a\\040b\\134c")).isEqualTo("/mnt/a b\\c");
    assertThat(Mounts.unescape("/plain")).isEqualTo("/plain");
    assertThat(Mounts.unescape("/odd\\04")).isEqualTo("/odd\\04");
    assertThat(Mounts.at(Path.of("/"))).isNotNull();
  }
}
