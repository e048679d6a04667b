package io.mycnet.storage.operator.csi;

import io.mycnet.storage.csi.v1.VolumeCapability;
import io.mycnet.storage.csi.v1.VolumeCapability.AccessMode.Mode;
import java.util.List;
import java.util.Set;

/**
 * Which volume capabilities the driver supports: mount (fs_type empty, ext4 or xfs) or block, each
 * with one of the single-node modes or MULTI_NODE_READER_ONLY. A volume has one writer at a time
 * (its attachment rule), so the multi-node writer modes are refused.
 */
public final class VolumeCapabilities {
  static final Set<Mode> SUPPORTED =
      Set.of(
          Mode.SINGLE_NODE_WRITER,
          Mode.SINGLE_NODE_READER_ONLY,
          Mode.SINGLE_NODE_SINGLE_WRITER,
          Mode.SINGLE_NODE_MULTI_WRITER,
          Mode.MULTI_NODE_READER_ONLY);

  static final Set<String> FS_TYPES = Set.of("", "ext4", "xfs");

  private VolumeCapabilities() {}

  /** Why {@code c} is not supported, or null when it is. */
  public static String unsupported(VolumeCapability c) {
    if (!c.hasBlock() && !c.hasMount()) {
      return "volume capability has no access type: set block or mount";
    }
    if (!c.hasAccessMode()) {
      return "volume capability has no access mode";
    }
    Mode m = c.getAccessMode().getMode();
    if (m == Mode.MULTI_NODE_SINGLE_WRITER || m == Mode.MULTI_NODE_MULTI_WRITER) {
      return "access mode "
          + m
          + " is not supported: a volume is written by one node at a time (supported: "
          + "SINGLE_NODE_WRITER, SINGLE_NODE_READER_ONLY, SINGLE_NODE_SINGLE_WRITER,"
          + " SINGLE_NODE_MULTI_WRITER, MULTI_NODE_READER_ONLY)";
    }
    if (!SUPPORTED.contains(m)) {
      return "access mode " + m + " is not supported";
    }
    if (c.hasMount() && !FS_TYPES.contains(c.getMount().getFsType())) {
      return "fs_type '"
          + c.getMount().getFsType()
          + "' is not supported (supported: ext4, xfs; empty means ext4)";
    }
    return null;
  }

  /**
   * Checks a request's capabilities.
   *
   * @throws io.grpc.StatusRuntimeException INVALID_ARGUMENT when none is given or one is not
   *     supported
   */
  public static void require(List<VolumeCapability> caps) {
    if (caps.isEmpty()) {
      throw CsiErrors.invalid("volume_capabilities must be set");
    }
    for (VolumeCapability c : caps) {
      String why = unsupported(c);
      if (why != null) {
        throw CsiErrors.invalid(why);
      }
    }
  }

  /** True when the capability asks for a read-only use of the volume. */
  public static boolean readOnly(VolumeCapability c) {
    Mode m = c.getAccessMode().getMode();
    return m == Mode.SINGLE_NODE_READER_ONLY || m == Mode.MULTI_NODE_READER_ONLY;
  }
}
