package io.mycnet.storage.local;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the etcd binary: {@code MYCNET_ETCD_BIN} first, then {@code PATH}. */
public final class EtcdBinary {
  public static final String ENV = "MYCNET_ETCD_BIN";
  static final String INSTALL_HINT =
      "etcd was not found: set "
          + ENV
          + " to the etcd binary or put etcd on PATH. On Debian/Ubuntu: apt-get install -y"
          + " etcd-server";

  private EtcdBinary() {}

  /**
   * The etcd executable to run.
   *
   * @throws IllegalStateException with installation advice when there is none
   */
  public static Path locate() {
    return locate(System.getenv());
  }

  /** As {@link #locate()}, reading {@code MYCNET_ETCD_BIN} and {@code PATH} from {@code env}. */
  public static Path locate(java.util.Map<String, String> env) {
    String configured = env.get(ENV);
    if (configured != null && !configured.isBlank()) {
      Path p = Path.of(configured);
      if (!Files.isExecutable(p)) {
        throw new IllegalStateException(ENV + "=" + configured + " is not an executable file");
      }
      return p;
    }
    String path = env.get("PATH");
    if (path != null) {
      for (String dir : path.split(File.pathSeparator)) {
        if (dir.isEmpty()) {
          continue;
        }
        Path candidate = Path.of(dir, "etcd");
        if (Files.isExecutable(candidate) && !Files.isDirectory(candidate)) {
          return candidate;
        }
      }
    }
    throw new IllegalStateException(INSTALL_HINT);
  }
}
