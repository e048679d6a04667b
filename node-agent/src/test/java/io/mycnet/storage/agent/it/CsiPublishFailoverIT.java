package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.csi.CsiNames;
import io.mycnet.storage.csi.UnixSocketGrpc;
import io.mycnet.storage.csi.v1.CapacityRange;
import io.mycnet.storage.csi.v1.ControllerGrpc;
import io.mycnet.storage.csi.v1.ControllerPublishVolumeRequest;
import io.mycnet.storage.csi.v1.ControllerPublishVolumeResponse;
import io.mycnet.storage.csi.v1.ControllerUnpublishVolumeRequest;
import io.mycnet.storage.csi.v1.CreateVolumeRequest;
import io.mycnet.storage.csi.v1.DeleteVolumeRequest;
import io.mycnet.storage.csi.v1.VolumeCapability;
import io.mycnet.storage.csi.v1.VolumeCapability.AccessMode.Mode;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CSI controller of the production control plane (a child JVM serving it on {@code
 * MYCNET_CSI_CONTROLLER_SOCKET}) with real agents: a volume created through CreateVolume (its
 * replicas created by the agents), published read-write to one consumer node; a publish to a second
 * node is refused while the first lives; the first node's agent is SIGKILLed, and as soon as its
 * liveness lease has expired a publish to the second node fences it (epoch raised, a fenced detach
 * queued for it) and succeeds. Measures the time from the kill to that publish.
 */
class CsiPublishFailoverIT {
  @RegisterExtension
  static final io.mycnet.storage.testsupport.EtcdExtension ETCD =
      io.mycnet.storage.testsupport.EtcdExtension.singleNode();

  static final String TOKEN = "csictl.0123456789abcdef";
  static final String KNS = "mycnet-reconciled";
  static final List<String> NODES = List.of("n1", "n2", "n3", "n4");

  @TempDir Path dir;

  static VolumeCapability rwo() {
    return VolumeCapability.newBuilder()
        .setMount(VolumeCapability.MountVolume.newBuilder().setFsType("ext4"))
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(Mode.SINGLE_NODE_WRITER))
        .build();
  }

  static ControllerPublishVolumeRequest publish(String id, String node) {
    return ControllerPublishVolumeRequest.newBuilder()
        .setVolumeId(id)
        .setNodeId(node)
        .setVolumeCapability(rwo())
        .build();
  }

  @Test
  void aSilentWritersAttachmentIsFencedAndTheVolumePublishedElsewhere() throws Exception {
    Path socket = dir.resolve("csi").resolve("controller.sock");
    try (DataPathCluster cluster =
        new DataPathCluster(
            dir,
            ETCD,
            TOKEN,
            NODES,
            Duration.ofSeconds(10),
            "csi-publish-failover-it",
            n -> List.of(),
            List.of("MYCNET_CSI_CONTROLLER_SOCKET=" + socket, "MYCNET_REPLICATION_INTERVAL=2s"))) {
      assertThat(cluster.cp.controlPlane.stdout()).contains("csi=" + socket);
      try (KubernetesClient kube = cluster.cp.kube()) {
        kube.load(
                new ByteArrayInputStream(
                    String.join(
                            "\n",
                            "apiVersion: storage.mycnet.io/v1alpha1",
                            "kind: ServiceNamespace",
                            "metadata:",
                            "  name: shop",
                            "  namespace: " + KNS,
                            "spec:",
                            "  pools: [default]",
                            "")
                        .getBytes(StandardCharsets.UTF_8)))
            .createOrReplace();
        await()
            .atMost(Duration.ofSeconds(60))
            .until(
                () -> {
                  ServiceNamespace sn =
                      kube.resources(ServiceNamespace.class)
                          .inNamespace(KNS)
                          .withName("shop")
                          .get();
                  return sn != null
                      && sn.getStatus() != null
                      && sn.getStatus().getConditions().stream()
                          .anyMatch(
                              (Condition c) ->
                                  "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
                });
      }
      ManagedChannel ch = UnixSocketGrpc.channel(socket);
      try {
        ControllerGrpc.ControllerBlockingStub ctl =
            ControllerGrpc.newBlockingStub(ch).withDeadlineAfter(3, TimeUnit.MINUTES);
        String id =
            ctl.createVolume(
                    CreateVolumeRequest.newBuilder()
                        .setName("pvc-failover")
                        .addVolumeCapabilities(rwo())
                        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(64 << 20))
                        .putParameters(CsiNames.PARAM_SERVICE_NAMESPACE, KNS + "/shop")
                        .putParameters(CsiNames.PARAM_CLASSIFICATION, "CRITICAL")
                        .putParameters(CsiNames.PARAM_REPLICAS, "2")
                        .build())
                .getVolume()
                .getVolumeId();
        assertThat(id).isEqualTo(KNS + ".pvc-failover");
        Allocation created = cluster.manager.get(id).orElseThrow();
        List<String> holders = created.getReplicasList().stream().map(Replica::getNodeId).toList();
        List<String> consumers = NODES.stream().filter(n -> !holders.contains(n)).toList();
        String a = consumers.get(0);
        String b = consumers.get(1);

        ControllerPublishVolumeResponse first = ctl.controllerPublishVolume(publish(id, a));
        assertThat(first.getPublishContextMap()).containsEntry(CsiNames.PUBLISH_EXPORT, id);
        StatusRuntimeException held = null;
        try {
          ctl.controllerPublishVolume(publish(id, b));
        } catch (StatusRuntimeException e) {
          held = e;
        }
        assertThat(held).isNotNull();
        assertThat(held.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(held.getStatus().getDescription()).contains("attached read-write to node " + a);
        long epoch = cluster.manager.get(id).orElseThrow().getEpoch();

        // The consumer node's agent dies; the publish to b succeeds once a's lease has expired.
        long killed = System.nanoTime();
        cluster.agents.get(a).kill();
        ControllerPublishVolumeResponse[] moved = new ControllerPublishVolumeResponse[1];
        await()
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(100))
            .until(
                () -> {
                  try {
                    moved[0] = ctl.controllerPublishVolume(publish(id, b));
                    return true;
                  } catch (StatusRuntimeException e) {
                    assertThat(e.getStatus().getCode())
                        .as(e.getStatus().getDescription())
                        .isEqualTo(Status.Code.FAILED_PRECONDITION);
                    return false;
                  }
                });
        double seconds = (System.nanoTime() - killed) / 1e9;
        System.out.printf(
            "consumer failover: publish to %s succeeded %.1f s after node %s was SIGKILLed"
                + " (node lease TTL 2 s)%n",
            b, seconds, a);
        assertThat(moved[0].getPublishContextMap())
            .containsEntry(CsiNames.PUBLISH_EXPORT, id)
            .containsEntry(CsiNames.PUBLISH_READ_ONLY, "false");
        Allocation after = cluster.manager.get(id).orElseThrow();
        assertThat(after.getAttachmentsList())
            .singleElement()
            .satisfies(x -> assertThat(x.getNodeId()).isEqualTo(b));
        assertThat(after.getEpoch()).isGreaterThan(epoch);
        assertThat(after.getAttachmentNote()).contains("node " + a + " fenced");
        assertThat(cluster.cp.queue.pending(a))
            .anySatisfy(
                c -> assertThat(c.hasDetachVolume() && c.getDetachVolume().getFenced()).isTrue());

        ctl.controllerUnpublishVolume(
            ControllerUnpublishVolumeRequest.newBuilder().setVolumeId(id).setNodeId(b).build());
        ctl.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
        assertThat(cluster.manager.get(id)).isEmpty();
      } finally {
        ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }
}
