package io.mycnet.storage.operator.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class OperatorSettingsTest {
  @Test
  void defaultsAreClusterModeWithServerSideApplyAndLeaderElection() {
    OperatorSettings s = OperatorSettings.fromEnvironment(Map.of());
    assertThat(s).isEqualTo(OperatorSettings.defaults());
    assertThat(s.useServerSideApply()).isTrue();
    assertThat(s.leaderElection()).isTrue();
    assertThat(s.watchNamespaces()).isEmpty();
  }

  @Test
  void environmentOverridesEachSetting() {
    OperatorSettings s =
        OperatorSettings.fromEnvironment(
            Map.of(
                "MYCNET_ETCD_ENDPOINTS", "http://a:2379, http://b:2379",
                "MYCNET_WATCH_NAMESPACES", "team-a,team-b",
                "MYCNET_USE_SSA", "false",
                "MYCNET_RETRY_INITIAL_INTERVAL", "500ms",
                "MYCNET_RESYNC_INTERVAL", "PT1M",
                "MYCNET_RATE_LIMIT_PER_PERIOD", "50"));
    assertThat(s.etcdEndpoints()).containsExactly("http://a:2379", "http://b:2379");
    assertThat(s.watchNamespaces()).isEqualTo(Set.of("team-a", "team-b"));
    assertThat(s.useServerSideApply()).isFalse();
    assertThat(s.retryInitialInterval()).isEqualTo(Duration.ofMillis(500));
    assertThat(s.resyncInterval()).isEqualTo(Duration.ofMinutes(1));
    assertThat(s.rateLimitPerPeriod()).isEqualTo(50);
  }

  @Test
  void aBadValueNamesTheVariable() {
    assertThatThrownBy(() -> OperatorSettings.fromEnvironment(Map.of("MYCNET_USE_SSA", "yes")))
        .hasMessage("MYCNET_USE_SSA: must be true or false, was 'yes'");
    assertThatThrownBy(
            () -> OperatorSettings.fromEnvironment(Map.of("MYCNET_PENDING_RECHECK", "soon")))
        .hasMessageStartingWith("MYCNET_PENDING_RECHECK: 'soon' is not a duration");
    assertThatThrownBy(
            () -> OperatorSettings.fromEnvironment(Map.of("MYCNET_RECONCILE_THREADS", "0")))
        .hasMessage("MYCNET_RECONCILE_THREADS: must be >= 1, was 0");
    assertThatThrownBy(
            () -> OperatorSettings.fromEnvironment(Map.of("MYCNET_ORPHAN_GC_DELAY", "500ms")))
        .hasMessage("MYCNET_ORPHAN_GC_DELAY: must be at least 1s, was 500ms");
  }

  @Test
  void theOrphanDelayDefaultsToFiveMinutesAndCanBeSet() {
    assertThat(OperatorSettings.defaults().orphanGcDelay()).isEqualTo(Duration.ofMinutes(5));
    assertThat(
            OperatorSettings.fromEnvironment(Map.of("MYCNET_ORPHAN_GC_DELAY", "30s"))
                .orphanGcDelay())
        .isEqualTo(Duration.ofSeconds(30));
  }

  @Test
  void theMassFailureShareDefaultsToThirtyPercentAndMustBeAShare() {
    assertThat(OperatorSettings.defaults().massFailureShare()).isEqualTo(0.3);
    assertThat(
            OperatorSettings.fromEnvironment(Map.of("MYCNET_MASS_FAILURE_SHARE", "0.5"))
                .massFailureShare())
        .isEqualTo(0.5);
    assertThatThrownBy(
            () -> OperatorSettings.fromEnvironment(Map.of("MYCNET_MASS_FAILURE_SHARE", "1.5")))
        .hasMessage("MYCNET_MASS_FAILURE_SHARE: must be above 0 and at most 1, was 1.5");
    assertThatThrownBy(
            () -> OperatorSettings.fromEnvironment(Map.of("MYCNET_MASS_FAILURE_SHARE", "0")))
        .hasMessageStartingWith("MYCNET_MASS_FAILURE_SHARE: must be above 0");
  }

  @Test
  void theDefaultTimingsHoldTogether() {
    OperatorSettings s = OperatorSettings.defaults();
    s.checkLiveness(
        NodeApiConfig.heartbeatInterval(Map.of()), NodeApiConfig.agentReconnectMax(Map.of()));
    assertThat(NodeApiConfig.heartbeatInterval(Map.of())).isEqualTo(Duration.ofSeconds(5));
    assertThat(NodeApiConfig.agentReconnectMax(Map.of())).isEqualTo(Duration.ofSeconds(5));
  }

  @Test
  void timingsThatDoNotHoldTogetherAreRefusedNamingTheVariables() {
    // A lease shorter than two heartbeats.
    OperatorSettings shortLease =
        OperatorSettings.fromEnvironment(Map.of("MYCNET_NODE_LEASE_TTL", "8s"));
    assertThatThrownBy(() -> shortLease.checkLiveness(Duration.ofSeconds(5), Duration.ofSeconds(5)))
        .isInstanceOf(io.mycnet.storage.common.settings.SettingException.class)
        .hasMessageStartingWith("MYCNET_NODE_LEASE_TTL, MYCNET_HEARTBEAT_INTERVAL: ")
        .hasMessageContaining("at least two heartbeat intervals (2 × 5s)");
    // A grace the agents' reconnect cannot meet: 15s + 1.2 × 5s = 21s >= 20s.
    OperatorSettings shortGrace =
        OperatorSettings.fromEnvironment(Map.of("MYCNET_DOWN_GRACE_PERIOD", "20s"));
    assertThatThrownBy(() -> shortGrace.checkLiveness(Duration.ofSeconds(5), Duration.ofSeconds(5)))
        .hasMessageStartingWith(
            "MYCNET_DOWN_GRACE_PERIOD, MYCNET_NODE_LEASE_TTL, MYCNET_AGENT_RECONNECT_MAX: ")
        .hasMessageContaining("plus the longest reconnect wait (1.2 × MYCNET_AGENT_RECONNECT_MAX");
    // The same grace holds with agents told to reconnect faster.
    shortGrace.checkLiveness(Duration.ofSeconds(5), Duration.ofSeconds(4));
    assertThatThrownBy(
            () ->
                OperatorSettings.defaults()
                    .checkLiveness(Duration.ofMillis(50), Duration.ofSeconds(5)))
        .hasMessageStartingWith("MYCNET_HEARTBEAT_INTERVAL: must be at least 100ms");
    assertThatThrownBy(
            () -> NodeApiConfig.agentReconnectMax(Map.of("MYCNET_AGENT_RECONNECT_MAX", "fast")))
        .hasMessageStartingWith("MYCNET_AGENT_RECONNECT_MAX: 'fast' is not a duration");
  }

  @Test
  void badStoreAndLeaseSettingsNameTheVariable() {
    assertThatThrownBy(
            () -> OperatorSettings.fromEnvironment(Map.of("MYCNET_ETCD_PREFIX", "mycnet/")))
        .hasMessageStartingWith("MYCNET_ETCD_PREFIX: ");
    assertThatThrownBy(
            () -> OperatorSettings.fromEnvironment(Map.of("MYCNET_NODE_LEASE_TTL", "soon")))
        .hasMessageStartingWith("MYCNET_NODE_LEASE_TTL: 'soon' is not a duration");
    OperatorSettings s =
        OperatorSettings.fromEnvironment(
            Map.of("MYCNET_NODE_LEASE_TTL", "2s", "MYCNET_ORPHAN_GC_DELAY", "3s"));
    assertThat(s.nodeLeaseTtl()).isEqualTo(Duration.ofSeconds(2));
    assertThat(s.orphanGcDelay()).isEqualTo(Duration.ofSeconds(3));
    assertThat(OperatorSettings.defaults().nodeLeaseTtl()).isEqualTo(Duration.ofSeconds(15));
    assertThatThrownBy(
            () -> OperatorSettings.fromEnvironment(Map.of("MYCNET_ORPHAN_GC_DELAY", "later")))
        .hasMessageStartingWith("MYCNET_ORPHAN_GC_DELAY");
  }

  @Test
  void theMockServerSettingsSwitchServerSideApplyAndLeaderElectionOff() {
    OperatorSettings s = OperatorSettings.forMockServer(List.of("http://x:1"), "/p");
    assertThat(s.useServerSideApply()).isFalse();
    assertThat(s.leaderElection()).isFalse();
    assertThat(s.httpPort()).isEqualTo(-1);
    assertThat(s.httpLoopbackOnly()).isTrue();
  }

  @Test
  void theHttpAddressIsCheckedAndTrustGetsALoopbackPortInACluster() {
    OperatorSettings d = OperatorSettings.defaults();
    assertThat(d.httpAddress()).isEqualTo("0.0.0.0");
    assertThat(d.httpLoopbackOnly()).isFalse();
    assertThat(d.trustHttpPort()).isEqualTo(8081);
    OperatorSettings local =
        OperatorSettings.fromEnvironment(
            Map.of("MYCNET_HTTP_ADDRESS", "127.0.0.1", "MYCNET_TRUST_HTTP_PORT", "-1"));
    assertThat(local.httpLoopbackOnly()).isTrue();
    assertThat(local.trustHttpPort()).isEqualTo(-1);
    assertThatThrownBy(
            () -> OperatorSettings.fromEnvironment(Map.of("MYCNET_HTTP_ADDRESS", "not an address")))
        .hasMessageStartingWith("MYCNET_HTTP_ADDRESS: 'not an address' is not an IP address");
  }
}
