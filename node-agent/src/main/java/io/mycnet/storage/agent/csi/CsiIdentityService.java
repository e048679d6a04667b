package io.mycnet.storage.agent.csi;

import com.google.protobuf.BoolValue;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.csi.CsiNames;
import io.mycnet.storage.csi.v1.GetPluginCapabilitiesRequest;
import io.mycnet.storage.csi.v1.GetPluginCapabilitiesResponse;
import io.mycnet.storage.csi.v1.GetPluginInfoRequest;
import io.mycnet.storage.csi.v1.GetPluginInfoResponse;
import io.mycnet.storage.csi.v1.IdentityGrpc;
import io.mycnet.storage.csi.v1.PluginCapability;
import io.mycnet.storage.csi.v1.ProbeRequest;
import io.mycnet.storage.csi.v1.ProbeResponse;
import java.util.function.BooleanSupplier;

/**
 * CSI Identity of the node plugin: the driver's name, the one capability a node plugin has
 * (VOLUME_ACCESSIBILITY_CONSTRAINTS: its NodeGetInfo names its topology; the controller service
 * lives in the operator), and Probe: ready only while the agent's session to the control plane is
 * open, because without it no attachment can reach the node.
 */
final class CsiIdentityService extends IdentityGrpc.IdentityImplBase {
  private final String version;
  private final BooleanSupplier sessionUp;

  CsiIdentityService(String version, BooleanSupplier sessionUp) {
    this.version = version;
    this.sessionUp = sessionUp;
  }

  @Override
  public void getPluginInfo(
      GetPluginInfoRequest request, StreamObserver<GetPluginInfoResponse> response) {
    response.onNext(
        GetPluginInfoResponse.newBuilder()
            .setName(CsiNames.DRIVER_NAME)
            .setVendorVersion(version)
            .build());
    response.onCompleted();
  }

  @Override
  public void getPluginCapabilities(
      GetPluginCapabilitiesRequest request,
      StreamObserver<GetPluginCapabilitiesResponse> response) {
    response.onNext(
        GetPluginCapabilitiesResponse.newBuilder()
            .addCapabilities(
                PluginCapability.newBuilder()
                    .setService(
                        PluginCapability.Service.newBuilder()
                            .setType(
                                PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS)))
            .build());
    response.onCompleted();
  }

  @Override
  public void probe(ProbeRequest request, StreamObserver<ProbeResponse> response) {
    response.onNext(
        ProbeResponse.newBuilder().setReady(BoolValue.of(sessionUp.getAsBoolean())).build());
    response.onCompleted();
  }
}
