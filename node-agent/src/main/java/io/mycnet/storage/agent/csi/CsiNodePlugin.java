package io.mycnet.storage.agent.csi;

import io.mycnet.storage.agent.frontend.AttachedVolumes;
import io.mycnet.storage.csi.UnixSocketGrpc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CSI node plugin of the agent: Identity and Node on the Unix socket {@code csi-socket}, state
 * under {@code <data dir>/csi/}. {@link #start()} serves the socket and revives, in the background,
 * the staged volumes whose device stack did not survive (the nbdfuse stacks normally do: they run
 * in their own session and wait for the agent's NBD socket while it restarts). {@link #close()}
 * stops serving and leaves every staged volume as it is.
 */
public final class CsiNodePlugin implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(CsiNodePlugin.class);

  private final Path socket;
  private final CsiNodeService node;
  private final CsiIdentityService identity;
  private UnixSocketGrpc.Served served;
  private Thread restore;

  /**
   * @param topology the node's topology path ({@code region=eu/zone=eu-1/rack=r3/node=n17})
   * @param sessionUp whether the agent's session to the control plane is open (Probe)
   */
  public CsiNodePlugin(
      Path socket,
      Path dataDir,
      String nodeId,
      String topology,
      int maxVolumes,
      String version,
      Path nbdSocket,
      AttachedVolumes attached,
      BooleanSupplier sessionUp) {
    this.socket = socket;
    Path csiDir = dataDir.resolve("csi");
    try {
      Files.createDirectories(
          csiDir,
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot create " + csiDir + ": " + e.getMessage(), e);
    }
    this.node =
        new CsiNodeService(
            nodeId,
            topology,
            maxVolumes,
            attached,
            new NodeRecords(csiDir),
            new DeviceStacks(nbdSocket, csiDir));
    this.identity = new CsiIdentityService(version, sessionUp);
  }

  /** Serves Identity and Node on the socket; restores the staged volumes in the background. */
  public CsiNodePlugin start() throws IOException {
    served = UnixSocketGrpc.serve(socket, List.of(identity, node));
    restore = new Thread(node::restore, "csi-restore");
    restore.setDaemon(true);
    restore.start();
    LOG.info("CSI node plugin serving on {}", socket);
    return this;
  }

  public Path socket() {
    return socket;
  }

  @Override
  public void close() {
    if (served != null) {
      served.close();
    }
  }
}
