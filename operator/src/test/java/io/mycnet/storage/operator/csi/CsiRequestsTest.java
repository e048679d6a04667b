package io.mycnet.storage.operator.csi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.crds.v1alpha1.ClassificationName;
import io.mycnet.storage.crds.v1alpha1.ConsistencyLevelName;
import io.mycnet.storage.crds.v1alpha1.ReplicationStrategyName;
import io.mycnet.storage.crds.v1alpha1.StorageTypeName;
import io.mycnet.storage.csi.CsiNames;
import io.mycnet.storage.csi.v1.CapacityRange;
import io.mycnet.storage.csi.v1.Topology;
import io.mycnet.storage.csi.v1.VolumeCapability;
import io.mycnet.storage.csi.v1.VolumeCapability.AccessMode.Mode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pure parts of the controller: names, parameters, sizes, capabilities, page tokens. */
class CsiRequestsTest {
  private static final long GIB = 1L << 30;

  private static Status.Code code(Runnable r) {
    try {
      r.run();
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
    return Status.Code.OK;
  }

  @Test
  void aDnsLabelNamesItsClaimAndAnythingElseIsHashedStably() {
    assertThat(VolumeNames.claimName("pvc-0f3c9a1e-2b4d-4c8e-9f00-123456789abc"))
        .isEqualTo("pvc-0f3c9a1e-2b4d-4c8e-9f00-123456789abc");
    String hashed = VolumeNames.claimName("Orders DB");
    assertThat(hashed).matches("csi-[0-9a-f]{24}").isEqualTo(VolumeNames.claimName("Orders DB"));
    assertThat(VolumeNames.claimName("orders db")).isNotEqualTo(hashed);
    assertThat(VolumeNames.claimName("-leading")).startsWith("csi-");
    assertThat(VolumeNames.claimName("trailing-")).startsWith("csi-");
    assertThat(VolumeNames.claimName("a".repeat(63))).isEqualTo("a".repeat(63));
    assertThat(VolumeNames.claimName("a".repeat(64))).startsWith("csi-");
    assertThat(VolumeNames.claimName("x".repeat(128))).hasSize(28);
  }

  @Test
  void parametersAreParsedWithTheirDefaultsAndEveryMistakeIsNamed() {
    VolumeParameters p =
        VolumeParameters.parse(
            Map.of(
                CsiNames.PARAM_CLASSIFICATION, "critical",
                CsiNames.PARAM_REPLICAS, "3",
                CsiNames.PARAM_CONSISTENCY, "STRONG",
                CsiNames.PARAM_STRATEGY, "performance_optimized",
                CsiNames.PARAM_POOL, "core",
                CsiNames.PARAM_SERVICE_NAMESPACE, "shop/payments",
                CsiNames.PARAM_PVC_NAMESPACE, "shop",
                CsiNames.PARAM_PVC_NAME, "data",
                CsiNames.PARAM_PV_NAME, "pvc-1"));
    assertThat(p)
        .isEqualTo(
            new VolumeParameters(
                ClassificationName.CRITICAL,
                3,
                ConsistencyLevelName.STRONG,
                ReplicationStrategyName.PERFORMANCE_OPTIMIZED,
                StorageTypeName.SERVICE,
                "core",
                "shop/payments",
                "shop"));
    assertThat(VolumeParameters.parse(Map.of()))
        .isEqualTo(
            new VolumeParameters(
                null, null, null, null, StorageTypeName.SERVICE, null, null, null));
    for (Map<String, String> bad :
        List.of(
            Map.of("replica", "3"),
            Map.of(CsiNames.PARAM_REPLICAS, "0"),
            Map.of(CsiNames.PARAM_REPLICAS, "8"),
            Map.of(CsiNames.PARAM_REPLICAS, "three"),
            Map.of(CsiNames.PARAM_CLASSIFICATION, "TOPSECRET"),
            Map.of(CsiNames.PARAM_CONSISTENCY, "SOMETIMES"),
            Map.of(CsiNames.PARAM_STRATEGY, "RANDOM"),
            Map.of(CsiNames.PARAM_STORAGE_TYPE, "SCRATCH"),
            Map.of(CsiNames.PARAM_POOL, "Core Pool"),
            Map.of(CsiNames.PARAM_SERVICE_NAMESPACE, "a/b/c"),
            Map.of(CsiNames.PARAM_PVC_NAMESPACE, "Not_A_Namespace"))) {
      assertThat(code(() -> VolumeParameters.parse(bad)))
          .as(bad.toString())
          .isEqualTo(Status.Code.INVALID_ARGUMENT);
    }
    assertThatThrownBy(() -> VolumeParameters.parse(Map.of("replica", "3")))
        .hasMessageContaining("'replica'")
        .hasMessageContaining("accepted: classification, consistency");
  }

  @Test
  void sizesAreWholeBlocksWithinTheRange() {
    assertThat(CapacityRanges.size(null)).isEqualTo(GIB);
    assertThat(CapacityRanges.size(CapacityRange.getDefaultInstance())).isEqualTo(GIB);
    assertThat(CapacityRanges.size(range(1, 0))).isEqualTo(4096);
    assertThat(CapacityRanges.size(range(4096, 4096))).isEqualTo(4096);
    assertThat(CapacityRanges.size(range(GIB + 1, 0))).isEqualTo(GIB + 4096);
    assertThat(CapacityRanges.size(range(0, 10_000))).isEqualTo(8192);
    assertThat(CapacityRanges.size(range(0, 4 * GIB))).isEqualTo(GIB);
    assertThat(code(() -> CapacityRanges.size(range(2 * GIB, GIB))))
        .isEqualTo(Status.Code.OUT_OF_RANGE);
    assertThat(code(() -> CapacityRanges.size(range(5000, 6000))))
        .isEqualTo(Status.Code.OUT_OF_RANGE);
    assertThat(code(() -> CapacityRanges.size(range(0, 100)))).isEqualTo(Status.Code.OUT_OF_RANGE);
    assertThat(code(() -> CapacityRanges.size(range(-1, 0))))
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(CapacityRanges.fits(GIB, range(GIB, 0))).isTrue();
    assertThat(CapacityRanges.fits(GIB, range(GIB + 1, 0))).isFalse();
    assertThat(CapacityRanges.fits(2 * GIB, range(GIB, GIB))).isFalse();
  }

  private static CapacityRange range(long required, long limit) {
    return CapacityRange.newBuilder().setRequiredBytes(required).setLimitBytes(limit).build();
  }

  @Test
  void singleNodeModesAndReadersAreSupportedMultiNodeWritersAreNot() {
    for (Mode m :
        List.of(
            Mode.SINGLE_NODE_WRITER,
            Mode.SINGLE_NODE_READER_ONLY,
            Mode.SINGLE_NODE_SINGLE_WRITER,
            Mode.SINGLE_NODE_MULTI_WRITER,
            Mode.MULTI_NODE_READER_ONLY)) {
      assertThat(VolumeCapabilities.unsupported(mount(m, ""))).isNull();
      assertThat(VolumeCapabilities.unsupported(mount(m, "xfs"))).isNull();
      assertThat(VolumeCapabilities.unsupported(block(m))).isNull();
    }
    assertThat(VolumeCapabilities.unsupported(block(Mode.MULTI_NODE_MULTI_WRITER)))
        .contains("MULTI_NODE_MULTI_WRITER");
    assertThat(VolumeCapabilities.unsupported(mount(Mode.MULTI_NODE_SINGLE_WRITER, "ext4")))
        .contains("MULTI_NODE_SINGLE_WRITER");
    assertThat(VolumeCapabilities.unsupported(block(Mode.UNKNOWN))).isNotNull();
    assertThat(VolumeCapabilities.unsupported(mount(Mode.SINGLE_NODE_WRITER, "zfs")))
        .contains("fs_type 'zfs'");
    assertThat(
            VolumeCapabilities.unsupported(
                VolumeCapability.newBuilder()
                    .setAccessMode(
                        VolumeCapability.AccessMode.newBuilder().setMode(Mode.SINGLE_NODE_WRITER))
                    .build()))
        .contains("no access type");
    assertThat(code(() -> VolumeCapabilities.require(List.of())))
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(VolumeCapabilities.readOnly(block(Mode.MULTI_NODE_READER_ONLY))).isTrue();
    assertThat(VolumeCapabilities.readOnly(block(Mode.SINGLE_NODE_MULTI_WRITER))).isFalse();
  }

  private static VolumeCapability mount(Mode m, String fs) {
    return VolumeCapability.newBuilder()
        .setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs))
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(m))
        .build();
  }

  private static VolumeCapability block(Mode m) {
    return VolumeCapability.newBuilder()
        .setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(m))
        .build();
  }

  @Test
  void pageTokensRoundTripAndAForeignTokenIsAborted() {
    assertThat(PageTokens.parse(PageTokens.after("shop.db"))).isEqualTo("shop.db");
    assertThat(PageTokens.parse("")).isEmpty();
    assertThat(code(() -> PageTokens.parse("12"))).isEqualTo(Status.Code.ABORTED);
    assertThat(code(() -> PageTokens.parse("!!not base64"))).isEqualTo(Status.Code.ABORTED);
  }

  @Test
  void topologyConstraintsMatchTheNodesPath() {
    NodeRecord n =
        NodeRecord.newBuilder()
            .setNodeId("n1")
            .setTopologyPath("region=eu/zone=eu-1/rack=r3/node=n1")
            .build();
    assertThat(CsiController.segments(n.getTopologyPath()))
        .containsEntry(CsiNames.TOPOLOGY_PREFIX + "zone", "eu-1")
        .containsEntry(CsiNames.TOPOLOGY_NODE, "n1");
    assertThat(CsiController.within(n, topology(CsiNames.TOPOLOGY_PREFIX + "region", "eu")))
        .isTrue();
    assertThat(CsiController.within(n, topology(CsiNames.TOPOLOGY_NODE, "n2"))).isFalse();
    assertThat(CsiController.within(n, Topology.getDefaultInstance())).isTrue();
  }

  private static Topology topology(String k, String v) {
    return Topology.newBuilder().putSegments(k, v).build();
  }
}
