package io.mycnet.storage.operator.csi;

import io.mycnet.storage.csi.v1.CapacityRange;

/**
 * The size a CreateVolume (or ControllerExpandVolume) asks for: {@code required_bytes} rounded up
 * to whole 4 KiB blocks, or 1 GiB when the request names no size (at most the limit); a limit below
 * the required size, or one the rounding would pass, is OUT_OF_RANGE.
 */
public final class CapacityRanges {
  public static final long BLOCK = 4096;
  public static final long DEFAULT_SIZE = 1L << 30;

  private CapacityRanges() {}

  /**
   * @param range the request's range (absent: the default size)
   * @throws io.grpc.StatusRuntimeException INVALID_ARGUMENT for a negative value, OUT_OF_RANGE
   */
  public static long size(CapacityRange range) {
    long required = range == null ? 0 : range.getRequiredBytes();
    long limit = range == null ? 0 : range.getLimitBytes();
    if (required < 0 || limit < 0) {
      throw CsiErrors.invalid(
          "capacity_range must not be negative (required_bytes "
              + required
              + ", limit_bytes "
              + limit
              + ")");
    }
    if (limit > 0 && limit < required) {
      throw CsiErrors.outOfRange(
          "capacity_range.limit_bytes " + limit + " is below required_bytes " + required);
    }
    if (required == 0) {
      if (limit == 0 || limit >= DEFAULT_SIZE) {
        return DEFAULT_SIZE;
      }
      long down = limit / BLOCK * BLOCK;
      if (down == 0) {
        throw CsiErrors.outOfRange(
            "capacity_range.limit_bytes " + limit + " is below one block of " + BLOCK + " bytes");
      }
      return down;
    }
    if (required > Long.MAX_VALUE - BLOCK) {
      throw CsiErrors.outOfRange("capacity_range.required_bytes " + required + " is too large");
    }
    long size = (required + BLOCK - 1) / BLOCK * BLOCK;
    if (limit > 0 && size > limit) {
      throw CsiErrors.outOfRange(
          "volumes are whole blocks of "
              + BLOCK
              + " bytes: required_bytes "
              + required
              + " rounds up to "
              + size
              + ", over limit_bytes "
              + limit);
    }
    return size;
  }

  /** True when a volume of {@code sizeBytes} satisfies {@code range}. */
  public static boolean fits(long sizeBytes, CapacityRange range) {
    if (range == null) {
      return true;
    }
    return sizeBytes >= range.getRequiredBytes()
        && (range.getLimitBytes() == 0 || sizeBytes <= range.getLimitBytes());
  }
}
