package io.mycnet.storage.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Quantity;
import org.junit.jupiter.api.Test;

class QuantitiesTest {
  @Test
  void parsesKubernetesQuantities() {
    assertThat(Quantities.bytes("f", new Quantity("10Gi"))).isEqualTo(10L << 30);
    assertThat(Quantities.bytes("f", new Quantity("500M"))).isEqualTo(500_000_000L);
    assertThat(Quantities.bytes("f", new Quantity("1073741824"))).isEqualTo(1L << 30);
    assertThat(Quantities.bytes("f", new Quantity("1.5Gi"))).isEqualTo(3L << 29);
  }

  @Test
  void rejectsWhatIsNotAWholePositiveNumberOfBytesNamingTheField() {
    assertThatThrownBy(() -> Quantities.bytes("spec.size", new Quantity("10Gx")))
        .isInstanceOf(InvalidFieldException.class)
        .hasMessageStartingWith("spec.size: '10Gx' is not a Kubernetes quantity");
    assertThatThrownBy(() -> Quantities.bytes("spec.size", new Quantity("-1Gi")))
        .hasMessage("spec.size: must be greater than 0, was -1Gi");
    assertThatThrownBy(() -> Quantities.bytes("spec.size", new Quantity("100m")))
        .hasMessageContaining("not a whole number of bytes");
    assertThatThrownBy(() -> Quantities.bytes("spec.size", null))
        .hasMessage("spec.size: must be set, e.g. 10Gi");
  }

  @Test
  void formatsLikeKubectl() {
    assertThat(Quantities.format(0)).isEqualTo("0");
    assertThat(Quantities.format(800L << 30)).isEqualTo("800Gi");
    assertThat(Quantities.format(3L << 29)).isEqualTo("1.5Gi");
    assertThat(Quantities.format(512)).isEqualTo("512");
  }
}
