package io.mycnet.storage.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A three-member cluster keeps serving with one member down and the member catches up. */
class EtcdClusterIT {

  private static ByteSequence bs(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  @Test
  void survivesLossOfOneMemberAndRestartedMemberCatchesUp() throws Exception {
    try (EtcdCluster cluster = EtcdCluster.start(3)) {
      survivesLossOfOneMember(cluster);
    }
  }

  private static void survivesLossOfOneMember(EtcdCluster cluster) throws Exception {
    assertThat(cluster.members()).hasSize(3);
    assertThat(cluster.members()).allMatch(EtcdMember::isRunning);
    KV kv = cluster.client().getKVClient();
    kv.put(bs("/c/before"), bs("1")).get(10, TimeUnit.SECONDS);

    EtcdMember victim = cluster.member(1);
    long oldPid = victim.pid();
    victim.kill();
    assertThat(victim.isRunning()).isFalse();

    // Two of three members are a quorum: writes still commit.
    await()
        .atMost(Duration.ofSeconds(20))
        .ignoreExceptions()
        .until(
            () -> {
              kv.put(bs("/c/during"), bs("2")).get(3, TimeUnit.SECONDS);
              return true;
            });

    victim.start();
    assertThat(victim.pid()).isPositive().isNotEqualTo(oldPid);

    // Read from the restarted member alone: it has caught up with what was written without it.
    try (Client only = Client.builder().endpoints(victim.clientUrl()).build()) {
      await()
          .atMost(Duration.ofSeconds(20))
          .ignoreExceptions()
          .until(
              () ->
                  only.getKVClient().get(bs("/c/during")).get(3, TimeUnit.SECONDS).getCount() == 1);
    }
  }
}
