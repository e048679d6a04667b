package io.mycnet.storage.operator.reconciler.servicenamespace;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.mycnet.storage.api.v1.NamespaceUsage;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespaceStatus;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.TestClock;
import java.util.List;
import org.junit.jupiter.api.Test;

class ServiceNamespaceStatusFactoryTest {
  private final ServiceNamespaceStatusFactory factory =
      new ServiceNamespaceStatusFactory(new Conditions(new TestClock()));

  private static ServiceNamespace namespace(long generation) {
    ServiceNamespace sn = new ServiceNamespace();
    sn.setMetadata(
        new ObjectMetaBuilder()
            .withName("billing")
            .withNamespace("team-a")
            .withGeneration(generation)
            .build());
    return sn;
  }

  private static Condition condition(ServiceNamespaceStatus s, String type) {
    return Conditions.find(s.getConditions(), type).orElseThrow();
  }

  @Test
  void anActiveNamespaceShowsItsUsageAndThatItsPoolsExist() {
    ServiceNamespace sn = namespace(2);
    ServiceNamespaceStatus s =
        factory.active(
            sn,
            NamespaceUsage.newBuilder().setUsedBytes(3L << 30).setVolumeCount(2).build(),
            List.of());

    assertThat(s.getStoreId()).isEqualTo(ServiceNamespaceMapper.storeId(sn));
    assertThat(s.getObservedGeneration()).isEqualTo(2L);
    assertThat(s.getUsedBytes()).isEqualTo(3L << 30);
    assertThat(s.getUsed()).isEqualTo("3Gi");
    assertThat(s.getUsedVolumes()).isEqualTo(2);
    Condition ready = condition(s, Conditions.READY);
    assertThat(ready.getStatus()).isEqualTo("True");
    assertThat(ready.getReason()).isEqualTo("Active");
    assertThat(ready.getMessage()).isEqualTo("policy in force; 2 volumes, 3Gi reserved");
    Condition pools = condition(s, ServiceNamespaceStatusFactory.POOLS_AVAILABLE);
    assertThat(pools.getStatus()).isEqualTo("True");
    assertThat(pools.getReason()).isEqualTo("AllPoolsExist");
  }

  @Test
  void missingPoolsAreNamed() {
    ServiceNamespaceStatus s =
        factory.active(
            namespace(1), NamespaceUsage.getDefaultInstance(), List.of("fast", "archive"));

    Condition pools = condition(s, ServiceNamespaceStatusFactory.POOLS_AVAILABLE);
    assertThat(pools.getStatus()).isEqualTo("False");
    assertThat(pools.getReason()).isEqualTo("PoolsMissing");
    assertThat(pools.getMessage()).isEqualTo("no valid StoragePool named fast, archive");
    assertThat(condition(s, Conditions.READY).getStatus()).isEqualTo("True");
  }

  @Test
  void anInvalidSpecKeepsTheUsageAndSaysThePreviousPolicyStays() {
    ServiceNamespace sn = namespace(1);
    sn.setStatus(
        factory.active(
            sn,
            NamespaceUsage.newBuilder().setUsedBytes(1024).setVolumeCount(1).build(),
            List.of()));
    sn.getMetadata().setGeneration(2L);

    ServiceNamespaceStatus s = factory.invalid(sn, "spec.quota: must be positive");

    assertThat(s.getUsedBytes()).isEqualTo(1024L);
    assertThat(s.getUsedVolumes()).isEqualTo(1);
    assertThat(s.getObservedGeneration()).isEqualTo(2L);
    Condition ready = condition(s, Conditions.READY);
    assertThat(ready.getStatus()).isEqualTo("False");
    assertThat(ready.getReason()).isEqualTo("InvalidSpec");
    assertThat(ready.getMessage())
        .isEqualTo(
            "spec.quota: must be positive; claims keep the policy last in force until this is"
                + " fixed");
    assertThat(ready.getObservedGeneration()).isEqualTo(2L);
  }
}
