package io.mycnet.storage.operator.reconciler.servicenamespace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.client.utils.Serialization;
import io.mycnet.storage.api.v1.AccessGrant;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import io.mycnet.storage.operator.reconciler.OperatorHarness;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Sharing in the namespace record: one grant per claim and grantee, and what is refused. */
class ServiceNamespaceMapperTest {
  static ServiceNamespace sn(String name, String sharing) {
    return Serialization.unmarshal(
        "apiVersion: storage.mycnet.io/v1alpha1\nkind: ServiceNamespace\nmetadata:\n"
            + "  namespace: shop\n  name: "
            + name
            + "\nspec:\n  sharing:\n"
            + sharing,
        ServiceNamespace.class);
  }

  static AccessGrant grant(String claim, String namespace, boolean readOnly) {
    return AccessGrant.newBuilder()
        .setClaim(claim)
        .setNamespace(namespace)
        .setReadOnly(readOnly)
        .build();
  }

  @Test
  void eachShareBecomesOneGrantPerGranteeWithItsClaimAndMode() {
    NamespaceRecord r =
        ServiceNamespaceMapper.toRecord(
            sn(
                "payments",
                "    - claim: ledger\n      with: [analytics, audit/reader]\n"
                    + "    - claim: config\n      with: [shop/analytics]\n      mode: ReadWrite\n"));
    assertThat(r.getNamespace()).isEqualTo("shop.payments");
    assertThat(r.getSharesList())
        .containsExactly(
            grant("ledger", "shop.analytics", true),
            grant("ledger", "audit.reader", true),
            grant("config", "shop.analytics", false));
  }

  @Test
  void noSharingIsNoGrant() {
    ServiceNamespace s = sn("payments", "    []\n");
    assertThat(ServiceNamespaceMapper.toRecord(s).getSharesList()).isEmpty();
    s.getSpec().setSharing(null);
    assertThat(ServiceNamespaceMapper.toRecord(s).getSharesList()).isEmpty();
  }

  static Stream<Arguments> invalid() {
    String claimNeeded = "must name the StorageClaim of this namespace that is shared";
    return Stream.of(
        Arguments.of("    - with: [analytics]\n", "spec.sharing[0].claim: " + claimNeeded),
        Arguments.of(
            "    - claim: ' '\n      with: [analytics]\n", "spec.sharing[0].claim: " + claimNeeded),
        Arguments.of(
            "    - claim: a\n      with: [analytics]\n    - claim: Bad_Name\n      with: [x]\n",
            "spec.sharing[1].claim: 'Bad_Name' is not a valid Kubernetes name"),
        Arguments.of(
            "    - claim: a\n      with: [analytics]\n    - claim: a\n      with: [audit]\n",
            "spec.sharing[1].claim: claim a is listed twice; merge the entries"),
        Arguments.of(
            "    - claim: a\n      with: [shop/payments]\n",
            "spec.sharing[0].with[0]: a service namespace cannot share with itself"),
        Arguments.of(
            "    - claim: a\n      with: [payments]\n",
            "spec.sharing[0].with[0]: a service namespace cannot share with itself"),
        Arguments.of(
            "    - claim: a\n      with: [analytics, analytics]\n",
            "spec.sharing[0].with[1]: analytics appears twice"),
        Arguments.of(
            "    - claim: a\n      with: [analytics, shop/analytics]\n",
            "spec.sharing[0].with[1]: shop/analytics names a ServiceNamespace already listed"),
        Arguments.of(
            "    - claim: a\n", "spec.sharing[0].with: must name at least one ServiceNamespace"));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("invalid")
  void anInvalidShareNamesTheFieldAndMapsToNothing(String sharing, String message) {
    ServiceNamespace s = sn("payments", sharing);
    assertThatThrownBy(() -> ServiceNamespaceMapper.toRecord(s))
        .isInstanceOf(InvalidFieldException.class)
        .hasMessage(message);
  }

  @Test
  void theSamplesShareOneClaimEach() throws Exception {
    Path samples = OperatorHarness.repoRoot().resolve("samples");
    NamespaceRecord payments =
        ServiceNamespaceMapper.toRecord(
            Serialization.unmarshal(
                Files.readString(samples.resolve("30-servicenamespace-payments.yaml")),
                ServiceNamespace.class));
    assertThat(payments.getSharesList())
        .containsExactly(grant("payments-config", "mycnet-demo.analytics", true));
    NamespaceRecord analytics =
        ServiceNamespaceMapper.toRecord(
            Serialization.unmarshal(
                Files.readString(samples.resolve("31-servicenamespace-analytics.yaml")),
                ServiceNamespace.class));
    assertThat(analytics.getSharesList())
        .containsExactly(grant("analytics-discovery", "mycnet-demo.payments", false));
  }
}
