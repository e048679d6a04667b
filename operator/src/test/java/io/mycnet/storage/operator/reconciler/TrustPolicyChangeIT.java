package io.mycnet.storage.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.utils.Serialization;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Classification;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A stricter TrustPolicy lowers some nodes' tier; the replication manager then re-replicates
 * exactly the claims whose classification those nodes may no longer hold, and nothing else.
 */
class TrustPolicyChangeIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  /**
   * One node per zone reports ACCESS_CONTROL 0.5: its score settles near 0.92, the others' 0.97.
   */
  static final Set<String> WEAK = Set.of("c000", "c010", "c100", "c110");

  static OperatorHarness h;

  @BeforeAll
  static void start() throws Exception {
    h = new OperatorHarness(ETCD.endpoints(), "/trustchange");
    List<String> core = h.nodes("c", "core", 2, 2, 2, 100);
    Map<String, Double> behaviour = new HashMap<>();
    core.forEach(n -> behaviour.put(n, WEAK.contains(n) ? 0.5 : 1.0));
    h.earnTrust(behaviour, 120);
    core.forEach(n -> assertThat(h.engine.tier(n)).as(n).isEqualTo(TrustTier.CRITICAL));
    h.start();
    Path samples = OperatorHarness.repoRoot().resolve("samples");
    for (String f :
        List.of(
            "00-namespace.yaml",
            "10-trustpolicy-default.yaml",
            "20-storagepool-core.yaml",
            "30-servicenamespace-payments.yaml")) {
      try (InputStream in = Files.newInputStream(samples.resolve(f))) {
        h.client.load(in).createOrReplace();
      }
    }
    String[][] claims = {
      {"crit-a", "CONSENSUS"},
      {"crit-b", "CONSENSUS"},
      {"crit-c", "CONSENSUS"},
      {"crit-d", "CONSENSUS"},
      {"sens-a", "INFRASTRUCTURE"},
      {"sens-b", "INFRASTRUCTURE"},
      {"std-a", "SERVICE"}
    };
    for (String[] c : claims) {
      h.create(
          Serialization.unmarshal(
              "apiVersion: storage.mycnet.io/v1alpha1\nkind: StorageClaim\nmetadata:\n"
                  + "  namespace: mycnet-demo\n  name: "
                  + c[0]
                  + "\nspec:\n  serviceNamespace: payments\n  size: 1Gi\n  storageType: "
                  + c[1]
                  + "\n",
              StorageClaim.class));
    }
    for (String[] c : claims) {
      h.awaitPhase(c[0], ClaimPhase.Bound);
    }
    h.awaitReady(h.trustPolicy("default"), "Applied");
  }

  @AfterAll
  static void close() {
    h.close();
  }

  @Test
  void aStricterPolicyReReplicatesExactlyTheClaimsThatLostTheirTier() {
    Map<String, Allocation> before = new TreeMap<>();
    for (Allocation a : h.cp.manager().list()) {
      before.put(a.getVolumeId(), a);
    }
    Set<String> affected = new TreeSet<>();
    for (Allocation a : before.values()) {
      boolean onWeak = a.getReplicasList().stream().anyMatch(r -> WEAK.contains(r.getNodeId()));
      if (onWeak && a.getClassification() == Classification.CLASSIFICATION_CRITICAL) {
        affected.add(a.getVolumeId());
      }
    }
    assertThat(affected).as("CRITICAL volumes with a replica on a weak node").isNotEmpty();
    assertThat(before.values())
        .as("some SENSITIVE volume also sits on a weak node (graded evacuation)")
        .anyMatch(
            a ->
                a.getClassification() == Classification.CLASSIFICATION_SENSITIVE
                    && a.getReplicasList().stream().anyMatch(r -> WEAK.contains(r.getNodeId())));

    TrustPolicy tp = h.trustPolicy("default");
    tp.getSpec().getThresholds().setCritical(0.96);
    h.client.resource(tp).update();

    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> WEAK.forEach(n -> assertThat(h.engine.tier(n)).isEqualTo(TrustTier.SENSITIVE)));
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              for (Allocation now : h.cp.manager().list()) {
                Allocation was = before.get(now.getVolumeId());
                if (affected.contains(now.getVolumeId())) {
                  for (Replica r : now.getReplicasList()) {
                    if (WEAK.contains(r.getNodeId())) {
                      assertThat(r.getState())
                          .as(now.getVolumeId() + "@" + r.getNodeId())
                          .isEqualTo(ReplicaState.REPLICA_STATE_STALE);
                    }
                  }
                  // A replacement is being copied, or waits for the rebuild throttle.
                  assertThat(now.getState())
                      .as(now.getVolumeId())
                      .isIn(VolumeState.VOLUME_STATE_REBUILDING, VolumeState.VOLUME_STATE_DEGRADED);
                } else {
                  assertThat(now).as(now.getVolumeId() + " is untouched").isEqualTo(was);
                }
              }
            });
    assertThat(h.cp.manager().list())
        .as("at least one replacement replica is being copied")
        .anyMatch(
            a ->
                a.getReplicasList().stream()
                    .anyMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING));
    for (String volume : affected) {
      String claim = volume.substring(volume.indexOf('.') + 1);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () -> {
                ClaimPhase p = h.claim(claim).getStatus().getPhase();
                return p == ClaimPhase.Rebuilding || p == ClaimPhase.Degraded;
              });
      assertThat(h.claim(claim).getStatus().getReplicas())
          .anyMatch(r -> r.getState().equals("STALE"));
    }
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                Integer.valueOf(4)
                    .equals(h.trustPolicy("default").getStatus().getLastTierChanges()));
    assertThat(h.trustPolicy("default").getStatus().getNodesPerTier())
        .containsEntry("CRITICAL", 4)
        .containsEntry("SENSITIVE", 4);
  }
}
