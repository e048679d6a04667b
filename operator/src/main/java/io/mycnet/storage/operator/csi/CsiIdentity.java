package io.mycnet.storage.operator.csi;

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
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Properties;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CSI Identity service of the controller endpoint: the driver's name and version, its plugin
 * capabilities, and Probe from the real health. The node plugin (in the agent, which cannot import
 * the operator) has its own copy of this shape with its own capabilities and health.
 */
public final class CsiIdentity extends IdentityGrpc.IdentityImplBase {
  private static final Logger LOG = LoggerFactory.getLogger(CsiIdentity.class);

  private final String version;
  private final List<PluginCapability> capabilities;
  private final Supplier<String> notReady;

  /**
   * @param notReady null when the service is ready, else why not (logged when Probe says so)
   */
  public CsiIdentity(
      String version, List<PluginCapability> capabilities, Supplier<String> notReady) {
    this.version = version;
    this.capabilities = List.copyOf(capabilities);
    this.notReady = notReady;
  }

  /** The controller's identity: controller service, accessibility constraints, online expansion. */
  public static CsiIdentity controller(Supplier<String> notReady) {
    return new CsiIdentity(
        projectVersion(),
        List.of(
            service(PluginCapability.Service.Type.CONTROLLER_SERVICE),
            service(PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS),
            PluginCapability.newBuilder()
                .setVolumeExpansion(
                    PluginCapability.VolumeExpansion.newBuilder()
                        .setType(PluginCapability.VolumeExpansion.Type.ONLINE))
                .build()),
        notReady);
  }

  private static PluginCapability service(PluginCapability.Service.Type t) {
    return PluginCapability.newBuilder()
        .setService(PluginCapability.Service.newBuilder().setType(t))
        .build();
  }

  /** The project's version, as the build wrote it into {@code csi-version.properties}. */
  public static String projectVersion() {
    try (InputStream in = CsiIdentity.class.getResourceAsStream("csi-version.properties")) {
      if (in == null) {
        throw new IllegalStateException("csi-version.properties is missing from the build");
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void getPluginInfo(GetPluginInfoRequest req, StreamObserver<GetPluginInfoResponse> out) {
    out.onNext(
        GetPluginInfoResponse.newBuilder()
            .setName(CsiNames.DRIVER_NAME)
            .setVendorVersion(version)
            .build());
    out.onCompleted();
  }

  @Override
  public void getPluginCapabilities(
      GetPluginCapabilitiesRequest req, StreamObserver<GetPluginCapabilitiesResponse> out) {
    out.onNext(GetPluginCapabilitiesResponse.newBuilder().addAllCapabilities(capabilities).build());
    out.onCompleted();
  }

  @Override
  public void probe(ProbeRequest req, StreamObserver<ProbeResponse> out) {
    String why;
    try {
      why = notReady.get();
    } catch (RuntimeException e) {
      why = e.getMessage();
    }
    if (why != null) {
      LOG.info("Probe: not ready: {}", why);
    }
    out.onNext(ProbeResponse.newBuilder().setReady(BoolValue.of(why == null)).build());
    out.onCompleted();
  }
}
