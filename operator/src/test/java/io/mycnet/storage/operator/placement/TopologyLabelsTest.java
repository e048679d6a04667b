package io.mycnet.storage.operator.placement;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.operator.model.TopologyPath;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TopologyLabelsTest {
  private static final Map<String, String> LABELS =
      Map.of(
          "topology.kubernetes.io/region", "eu",
          "topology.kubernetes.io/zone", "eu-1",
          "mycnet.io/rack", "r3",
          "kubernetes.io/hostname", "ignored");

  @Test
  void buildsThePathFromWellKnownLabelsAndTheNodeName() {
    TopologyPath p = TopologyLabels.DEFAULT.pathFor("n17", LABELS);
    assertThat(p).isEqualTo(TopologyPath.parse("region=eu/zone=eu-1/rack=r3/node=n17"));
    assertThat(TopologyLabels.DEFAULT.levels()).isEqualTo(TopologyPath.DEFAULT_LEVELS);
  }

  @Test
  void aMissingLabelIsAnErrorNamingNodeAndLabel() {
    assertThatThrownBy(() -> TopologyLabels.DEFAULT.pathFor("n17", Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("node n17 has no label topology.kubernetes.io/region")
        .hasMessageContaining("level 'region'");
  }

  @Test
  void aConfiguredDefaultFillsMissingLabels() {
    TopologyPath p =
        TopologyLabels.DEFAULT
            .withDefaultValue("default")
            .pathFor("n1", Map.of("topology.kubernetes.io/zone", "a"));
    assertThat(p.toString()).isEqualTo("region=default/zone=a/rack=default/node=n1");
  }

  @Test
  void customLevelsMapToCustomLabels() {
    Map<String, String> mapping = new LinkedHashMap<>();
    mapping.put("site", "example.com/site");
    mapping.put("host", TopologyLabels.NODE_NAME);
    TopologyLabels labels = TopologyLabels.of(mapping);
    assertThat(labels.pathFor("h1", Map.of("example.com/site", "lab")).toString())
        .isEqualTo("site=lab/host=h1");
  }

  @Test
  void anInvalidLabelValueIsAnErrorNamingTheLabel() {
    Map<String, String> bad = new LinkedHashMap<>(LABELS);
    bad.put("mycnet.io/rack", "r3/r4");
    assertThatThrownBy(() -> TopologyLabels.DEFAULT.pathFor("n2", bad))
        .hasMessageContaining("node n2, label mycnet.io/rack")
        .hasMessageContaining("r3/r4");
  }

  @Test
  void nodeViewsRejectNonsense() {
    TopologyPath p = TopologyPath.parse("region=a/zone=b/rack=c/node=d");
    assertThatThrownBy(() -> NodeView.builder("d", p).capacityBytes(10).freeBytes(20).build())
        .hasMessageContaining("node d: freeBytes must be between 0 and capacityBytes (10), got 20");
    assertThatThrownBy(
            () ->
                NodeView.builder("d", p)
                    .trust(io.mycnet.storage.operator.model.TrustTier.PUBLIC, 1.5)
                    .build())
        .hasMessageContaining("trustScore must be between 0 and 1, got 1.5");
    assertThatThrownBy(() -> new GeoPoint(91, 0)).hasMessageContaining("latitude");
    assertThat(new GeoPoint(48.14, 11.58).distanceKm(new GeoPoint(52.52, 13.40)))
        .isBetween(500.0, 510.0);
  }
}
