package io.mycnet.storage.operator.allocation;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.api.v1.AccessGrant;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import org.junit.jupiter.api.Test;

/** A volume's assignment carries the grants of its own claim, never another claim's. */
class ShareGrantsTest {
  static final AccessGrant LEDGER_RO =
      AccessGrant.newBuilder()
          .setClaim("payments-ledger")
          .setNamespace("demo.analytics")
          .setReadOnly(true)
          .build();
  static final AccessGrant LEDGER_RW_AUDIT =
      AccessGrant.newBuilder()
          .setClaim("payments-ledger")
          .setNamespace("audit.reader")
          .setReadOnly(false)
          .build();
  static final AccessGrant CONFIG_RW =
      AccessGrant.newBuilder()
          .setClaim("payments-config")
          .setNamespace("demo.analytics")
          .setReadOnly(false)
          .build();
  static final AccessGrant NO_CLAIM =
      AccessGrant.newBuilder().setNamespace("demo.everyone").setReadOnly(true).build();

  static final NamespaceRecord PAYMENTS =
      NamespaceRecord.newBuilder()
          .setNamespace("demo.payments")
          .addShares(LEDGER_RO)
          .addShares(CONFIG_RW)
          .addShares(LEDGER_RW_AUDIT)
          .addShares(NO_CLAIM)
          .build();

  static Allocation volume(String id, String owner) {
    return Allocation.newBuilder().setVolumeId(id).setNamespace(owner).build();
  }

  @Test
  void eachVolumeGetsTheGrantsOfItsClaimOnly() {
    assertThat(ShareGrants.forVolume(PAYMENTS, volume("demo.payments-ledger", "demo.payments")))
        .containsExactly(LEDGER_RO, LEDGER_RW_AUDIT);
    assertThat(ShareGrants.forVolume(PAYMENTS, volume("demo.payments-config", "demo.payments")))
        .containsExactly(CONFIG_RW);
  }

  @Test
  void anUnsharedClaimOfTheOwnerGetsNothing() {
    assertThat(ShareGrants.forVolume(PAYMENTS, volume("demo.payments-cache", "demo.payments")))
        .isEmpty();
  }

  @Test
  void aClaimOfTheSameNameElsewhereOrOfAnotherOwnerGetsNothing() {
    // Same claim name in another Kubernetes namespace: another volume.
    assertThat(ShareGrants.forVolume(PAYMENTS, volume("other.payments-ledger", "demo.payments")))
        .isEmpty();
    // The claim payments-ledger in demo bound to another service namespace: not payments' to share.
    assertThat(ShareGrants.forVolume(PAYMENTS, volume("demo.payments-ledger", "demo.analytics")))
        .isEmpty();
  }

  @Test
  void noRecordOrAShareWithoutAClaimGrantsNothing() {
    assertThat(ShareGrants.forVolume(null, volume("demo.payments-ledger", "demo.payments")))
        .isEmpty();
    NamespaceRecord onlyUnscoped =
        NamespaceRecord.newBuilder().setNamespace("demo.payments").addShares(NO_CLAIM).build();
    assertThat(ShareGrants.forVolume(onlyUnscoped, volume("demo.payments-x", "demo.payments")))
        .isEmpty();
    // An owner id without a Kubernetes namespace part names no claim's volume.
    NamespaceRecord bare =
        NamespaceRecord.newBuilder().setNamespace("payments").addShares(CONFIG_RW).build();
    assertThat(ShareGrants.forVolume(bare, volume("payments-config", "payments"))).isEmpty();
  }
}
