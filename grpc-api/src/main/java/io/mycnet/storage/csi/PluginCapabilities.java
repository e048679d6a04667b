package io.mycnet.storage.csi;

import io.mycnet.storage.csi.v1.PluginCapability;
import java.util.List;

/**
 * The plugin capabilities of the driver. The spec asks every instance of one plugin version to
 * answer GetPluginCapabilities with the same set, so the controller (operator) and the node plugin
 * (agent) both answer with this one; the sidecars and the conformance suite read it from either
 * socket (e.g. CONTROLLER_SERVICE tells a CO to ControllerPublish before NodeStage).
 */
public final class PluginCapabilities {
  /** Controller service, accessibility constraints, online expansion. */
  public static final List<PluginCapability> ALL =
      List.of(
          service(PluginCapability.Service.Type.CONTROLLER_SERVICE),
          service(PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS),
          PluginCapability.newBuilder()
              .setVolumeExpansion(
                  PluginCapability.VolumeExpansion.newBuilder()
                      .setType(PluginCapability.VolumeExpansion.Type.ONLINE))
              .build());

  private PluginCapabilities() {}

  private static PluginCapability service(PluginCapability.Service.Type t) {
    return PluginCapability.newBuilder()
        .setService(PluginCapability.Service.newBuilder().setType(t))
        .build();
  }
}
