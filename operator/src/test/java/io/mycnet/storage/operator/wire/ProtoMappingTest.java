package io.mycnet.storage.operator.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.model.TrustFactor;
import org.junit.jupiter.api.Test;

/** Every domain value has its wire value and back, and the wire has nothing the domain lacks. */
class ProtoMappingTest {

  @Test
  void everyVocabularyValueRoundTrips() {
    for (Classification c : Classification.values()) {
      assertThat(ProtoMapping.fromProto(ProtoMapping.toProto(c))).isEqualTo(c);
    }
    for (StorageType t : StorageType.values()) {
      assertThat(ProtoMapping.fromProto(ProtoMapping.toProto(t))).isEqualTo(t);
    }
    for (ReplicationStrategy s : ReplicationStrategy.values()) {
      assertThat(ProtoMapping.fromProto(ProtoMapping.toProto(s))).isEqualTo(s);
    }
    for (ConsistencyLevel c : ConsistencyLevel.values()) {
      assertThat(ProtoMapping.fromProto(ProtoMapping.toProto(c))).isEqualTo(c);
    }
    for (TrustFactor f : TrustFactor.values()) {
      assertThat(ProtoMapping.fromProto(ProtoMapping.toProto(f))).isEqualTo(f);
    }
  }

  @Test
  void wireEnumsHaveExactlyTheDomainValuesPlusUnspecifiedAndUnrecognized() {
    // UNSPECIFIED and protobuf's UNRECOGNIZED are the only extras.
    assertThat(io.mycnet.storage.api.v1.Classification.values())
        .hasSize(Classification.values().length + 2);
    assertThat(io.mycnet.storage.api.v1.StorageType.values())
        .hasSize(StorageType.values().length + 2);
    assertThat(io.mycnet.storage.api.v1.ReplicationStrategy.values())
        .hasSize(ReplicationStrategy.values().length + 2);
    assertThat(io.mycnet.storage.api.v1.ConsistencyLevel.values())
        .hasSize(ConsistencyLevel.values().length + 2);
    assertThat(io.mycnet.storage.api.v1.TrustFactor.values())
        .hasSize(TrustFactor.values().length + 2);
  }

  @Test
  void unspecifiedIsRejectedNamingTheField() {
    assertThatThrownBy(
            () ->
                ProtoMapping.fromProto(
                    io.mycnet.storage.api.v1.Classification.CLASSIFICATION_UNSPECIFIED))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("classification must be set");
    assertThatThrownBy(
            () -> ProtoMapping.fromProto(io.mycnet.storage.api.v1.TrustFactor.UNRECOGNIZED))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("trust_factor must be set");
  }

  @Test
  void topologyPathRoundTripsAndRejectsEmpty() {
    TopologyPath p = TopologyPath.parse("region=eu/zone=eu-1/rack=r3/node=n17");
    assertThat(ProtoMapping.fromProto(ProtoMapping.toProto(p))).isEqualTo(p);
    assertThat(p.domainAt(2)).isEqualTo("region=eu/zone=eu-1");
    assertThatThrownBy(
            () ->
                ProtoMapping.fromProto(io.mycnet.storage.api.v1.TopologyPath.getDefaultInstance()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least one level");
    assertThatThrownBy(() -> TopologyPath.parse("region=eu/zone"))
        .hasMessageContaining("segment 'zone' is not of the form level=value");
  }
}
