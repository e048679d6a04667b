package io.mycnet.storage.operator.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LabelSelectorsTest {
  @Test
  void matchLabelsAndEveryOperatorMustAllHold() {
    LabelSelector s =
        new LabelSelectorBuilder()
            .addToMatchLabels("storage.mycnet.io/pool", "core")
            .addNewMatchExpression()
            .withKey("zone")
            .withOperator("In")
            .withValues("a", "b")
            .endMatchExpression()
            .addNewMatchExpression()
            .withKey("retired")
            .withOperator("DoesNotExist")
            .endMatchExpression()
            .addNewMatchExpression()
            .withKey("disk")
            .withOperator("Exists")
            .endMatchExpression()
            .addNewMatchExpression()
            .withKey("arch")
            .withOperator("NotIn")
            .withValues("arm")
            .endMatchExpression()
            .build();
    LabelSelectors.validate("spec.nodeSelector", s);
    Map<String, String> node = Map.of("storage.mycnet.io/pool", "core", "zone", "a", "disk", "ssd");
    assertThat(LabelSelectors.matches(s, node)).isTrue();
    assertThat(
            LabelSelectors.matches(
                s, Map.of("storage.mycnet.io/pool", "edge", "zone", "a", "disk", "x")))
        .isFalse();
    assertThat(
            LabelSelectors.matches(
                s, Map.of("storage.mycnet.io/pool", "core", "zone", "c", "disk", "x")))
        .isFalse();
    assertThat(LabelSelectors.matches(null, Map.of())).isTrue();
  }

  @Test
  void invalidSelectorsNameTheirField() {
    LabelSelector noValues =
        new LabelSelectorBuilder()
            .addNewMatchExpression()
            .withKey("a")
            .withOperator("In")
            .endMatchExpression()
            .build();
    assertThatThrownBy(() -> LabelSelectors.validate("spec.nodeSelector", noValues))
        .hasMessage(
            "spec.nodeSelector.matchExpressions[0].values: must not be empty for operator In");
    LabelSelector badKey = new LabelSelectorBuilder().addToMatchLabels("bad key", "x").build();
    assertThatThrownBy(() -> LabelSelectors.validate("spec.nodeSelector", badKey))
        .hasMessage("spec.nodeSelector.matchLabels: 'bad key' is not a valid label key");
  }
}
