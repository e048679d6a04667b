package io.mycnet.storage.operator.wire;

import io.mycnet.storage.api.v1.TopologySegment;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.model.TrustFactor;
import java.util.ArrayList;
import java.util.List;

/**
 * Maps the domain vocabulary to and from its protobuf form. Proto enum values are the domain names
 * with the enum's prefix ({@code CLASSIFICATION_CRITICAL} for {@code CRITICAL}), so the mapping is
 * by name; a wire value of {@code *_UNSPECIFIED} (or one this build does not know) is rejected with
 * an {@link IllegalArgumentException} naming the field.
 */
public final class ProtoMapping {
  private ProtoMapping() {}

  public static io.mycnet.storage.api.v1.Classification toProto(Classification c) {
    return io.mycnet.storage.api.v1.Classification.valueOf("CLASSIFICATION_" + c.name());
  }

  public static Classification fromProto(io.mycnet.storage.api.v1.Classification c) {
    return Classification.valueOf(strip(c, c.name(), "CLASSIFICATION_", "classification"));
  }

  public static io.mycnet.storage.api.v1.StorageType toProto(StorageType t) {
    return io.mycnet.storage.api.v1.StorageType.valueOf("STORAGE_TYPE_" + t.name());
  }

  public static StorageType fromProto(io.mycnet.storage.api.v1.StorageType t) {
    return StorageType.valueOf(strip(t, t.name(), "STORAGE_TYPE_", "storage_type"));
  }

  public static io.mycnet.storage.api.v1.ReplicationStrategy toProto(ReplicationStrategy s) {
    return io.mycnet.storage.api.v1.ReplicationStrategy.valueOf("REPLICATION_STRATEGY_" + s.name());
  }

  public static ReplicationStrategy fromProto(io.mycnet.storage.api.v1.ReplicationStrategy s) {
    return ReplicationStrategy.valueOf(
        strip(s, s.name(), "REPLICATION_STRATEGY_", "replication_strategy"));
  }

  public static io.mycnet.storage.api.v1.ConsistencyLevel toProto(ConsistencyLevel c) {
    return io.mycnet.storage.api.v1.ConsistencyLevel.valueOf("CONSISTENCY_LEVEL_" + c.name());
  }

  public static ConsistencyLevel fromProto(io.mycnet.storage.api.v1.ConsistencyLevel c) {
    return ConsistencyLevel.valueOf(strip(c, c.name(), "CONSISTENCY_LEVEL_", "consistency_level"));
  }

  public static io.mycnet.storage.api.v1.TrustFactor toProto(TrustFactor f) {
    return io.mycnet.storage.api.v1.TrustFactor.valueOf("TRUST_FACTOR_" + f.name());
  }

  public static TrustFactor fromProto(io.mycnet.storage.api.v1.TrustFactor f) {
    return TrustFactor.valueOf(strip(f, f.name(), "TRUST_FACTOR_", "trust_factor"));
  }

  public static io.mycnet.storage.api.v1.TopologyPath toProto(TopologyPath path) {
    io.mycnet.storage.api.v1.TopologyPath.Builder b =
        io.mycnet.storage.api.v1.TopologyPath.newBuilder();
    for (TopologyPath.Segment s : path.segments()) {
      b.addSegments(TopologySegment.newBuilder().setLevel(s.level()).setValue(s.value()));
    }
    return b.build();
  }

  /**
   * The domain path of a wire path.
   *
   * @throws IllegalArgumentException when it is empty or a segment is malformed
   */
  public static TopologyPath fromProto(io.mycnet.storage.api.v1.TopologyPath path) {
    List<TopologyPath.Segment> segments = new ArrayList<>();
    for (TopologySegment s : path.getSegmentsList()) {
      segments.add(new TopologyPath.Segment(s.getLevel(), s.getValue()));
    }
    return TopologyPath.of(segments);
  }

  private static String strip(Enum<?> value, String name, String prefix, String field) {
    if (!name.startsWith(prefix) || name.endsWith("_UNSPECIFIED")) {
      throw new IllegalArgumentException(
          field + " must be set; " + value + " is not a valid value");
    }
    return name.substring(prefix.length());
  }
}
