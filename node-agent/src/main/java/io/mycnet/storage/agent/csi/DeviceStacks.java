package io.mycnet.storage.agent.csi;

import io.mycnet.storage.agent.csi.Exec.CommandException;
import io.mycnet.storage.agent.csi.NodeRecords.Stack;
import io.mycnet.storage.agent.csi.NodeRecords.Staged;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the node's own NBD export of a volume into a block device and back.
 *
 * <p>Kernel nbd when the node has it ({@code /dev/nbd0} exists and {@code nbd-client} is on PATH):
 * {@code nbd-client -unix <nbd socket> -N <volume>} on a free {@code /dev/nbdN}. Otherwise nbdfuse
 * and a loop device: {@code nbdfuse} runs in its own session (it outlives the agent) with its mount
 * point under {@code <data dir>/csi/fuse/<volume>} and serves the file {@code nbd} from an {@code
 * nbdkit --filter=retry nbd} it starts itself, which reaches the agent's NBD Unix socket and, when
 * the agent is gone for a while (a restart), reconnects and sends the request again instead of
 * failing it (one try a second for {@link #RETRIES} seconds); then {@code losetup} puts a loop
 * device (direct I/O) on that file.
 */
final class DeviceStacks {
  private static final Logger LOG = LoggerFactory.getLogger(DeviceStacks.class);

  /** How long nbdfuse's nbdkit keeps re-sending a request while the agent's socket is gone. */
  static final int RETRIES = 120;

  private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

  private final Path nbdSocket;
  private final Path fuseRoot;
  private final boolean kernelNbd;

  DeviceStacks(Path nbdSocket, Path csiDir) {
    this.nbdSocket = nbdSocket;
    this.fuseRoot = csiDir.resolve("fuse");
    this.kernelNbd = Files.exists(Path.of("/dev/nbd0")) && Exec.onPath("nbd-client");
    LOG.info(
        "CSI node plugin: staged volumes become block devices through {}",
        kernelNbd
            ? "the kernel's nbd driver (nbd-client)"
            : "nbdfuse and a loop device (no /dev/nbd0 or no nbd-client here)");
  }

  Stack kind() {
    return kernelNbd ? Stack.KERNEL_NBD : Stack.NBDFUSE_LOOP;
  }

  /** A block device made for a stage, before it is recorded. */
  record Device(Stack stack, String device, Path fuseDir, long helperPid) {}

  /** Makes the block device of {@code volumeId}; on failure nothing is left behind. */
  Device create(String volumeId, boolean readOnly) throws CommandException {
    return kernelNbd ? createKernel(volumeId, readOnly) : createFuse(volumeId, readOnly);
  }

  private Device createFuse(String volumeId, boolean readOnly) throws CommandException {
    Path dir = fuseRoot.resolve(volumeId);
    Path pidFile = fuseRoot.resolve(volumeId + ".pid");
    Path log = fuseRoot.resolve(volumeId + ".log");
    try {
      Files.createDirectories(fuseRoot);
      if (Mounts.isMountPoint(dir)) {
        Exec.run(List.of("umount", dir.toString()));
      }
      Files.createDirectories(dir);
      Files.deleteIfExists(pidFile);
    } catch (IOException e) {
      throw new CommandException("cannot prepare " + dir + ": " + e.getMessage());
    }
    List<String> cmd = new ArrayList<>(List.of("setsid", "nbdfuse"));
    if (readOnly) {
      cmd.add("-r");
    }
    cmd.addAll(List.of("-P", pidFile.toString(), dir.resolve("nbd").toString(), "[", "nbdkit"));
    if (readOnly) {
      cmd.add("-r");
    }
    cmd.addAll(
        List.of(
            "--filter=retry",
            "nbd",
            "socket=" + nbdSocket,
            "export=" + volumeId,
            "retries=" + RETRIES,
            "retry-delay=1",
            "retry-exponential=no",
            "]"));
    Process p;
    try {
      p =
          new ProcessBuilder(cmd)
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
              .redirectErrorStream(true)
              .start();
    } catch (IOException e) {
      throw new CommandException("cannot run nbdfuse: " + e.getMessage());
    }
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    Path file = dir.resolve("nbd");
    while (true) {
      if (Files.exists(pidFile) && Files.isRegularFile(file) && size(file) > 0) {
        break;
      }
      if (!p.isAlive() || System.nanoTime() > deadline) {
        String why = p.isAlive() ? "did not serve " + file + " within 30 s" : "exited";
        p.destroy();
        unmountFuse(dir, p.pid());
        throw new CommandException(
            "nbdfuse for "
                + volumeId
                + " "
                + why
                + ": "
                + tail(log)
                + " ("
                + String.join(" ", cmd)
                + ")");
      }
      sleep(100);
    }
    long pid = readPid(pidFile).orElse(p.pid());
    String loop;
    try {
      loop = losetup(file, readOnly);
    } catch (CommandException e) {
      unmountFuse(dir, pid);
      throw e;
    }
    LOG.info("{} is {} over nbdfuse (pid {}) on {}", volumeId, loop, pid, file);
    return new Device(Stack.NBDFUSE_LOOP, loop, dir, pid);
  }

  /** A read-only loop device over {@code device}. */
  static String readOnlyLoop(String device) throws CommandException {
    return losetup(Path.of(device), true);
  }

  /** Whether {@code loop} is a loop device over {@code backing}. */
  static boolean isLoopOf(String loop, String backing) {
    String b = backingFile(loop);
    return b != null && Path.of(b).equals(Path.of(backing));
  }

  /** Detaches {@code loop} when it is still the loop device of {@code backing}. */
  static void detachLoop(String loop, String backing) {
    String b = backingFile(loop);
    if (b != null && Path.of(b).equals(Path.of(backing))) {
      run(List.of("losetup", "-d", loop));
    }
  }

  private static String losetup(Path file, boolean readOnly) throws CommandException {
    List<String> cmd = new ArrayList<>(List.of("losetup", "--find", "--show", "--direct-io=on"));
    if (readOnly) {
      cmd.add("--read-only");
    }
    cmd.add(file.toString());
    Exec.Result r = Exec.run(cmd);
    if (!r.ok()) {
      // Some backing file systems refuse direct I/O: a loop device without it still works.
      cmd.remove("--direct-io=on");
      r = Exec.check(cmd);
    }
    return r.stdout().strip();
  }

  private Device createKernel(String volumeId, boolean readOnly) throws CommandException {
    for (int i = 0; i < 256; i++) {
      String dev = "/dev/nbd" + i;
      if (!Files.exists(Path.of(dev))) {
        break;
      }
      if (Files.exists(Path.of("/sys/block/nbd" + i + "/pid"))) {
        continue;
      }
      List<String> cmd =
          new ArrayList<>(
              List.of(
                  "nbd-client", "-unix", nbdSocket.toString(), "-N", volumeId, dev, "-persist"));
      if (readOnly) {
        cmd.add("-readonly");
      }
      Exec.check(cmd);
      long pid = readPid(Path.of("/sys/block/nbd" + i + "/pid")).orElse(0L);
      LOG.info("{} is {} (kernel nbd, nbd-client pid {})", volumeId, dev, pid);
      return new Device(Stack.KERNEL_NBD, dev, null, pid);
    }
    throw new CommandException("no free /dev/nbdN device for " + volumeId);
  }

  /** Null when the staged device stack works, else what is broken. */
  String problem(Staged s) {
    if (s.stack() == Stack.KERNEL_NBD) {
      String name = Path.of(s.device()).getFileName().toString();
      return Files.exists(Path.of("/sys/block/" + name + "/pid"))
          ? null
          : s.device() + " is not connected";
    }
    if (!processAlive(s.helperPid(), "nbdfuse")) {
      return "nbdfuse (pid " + s.helperPid() + ") is not running";
    }
    Mounts.Mount m = Mounts.at(s.fuseDir());
    if (m == null || !m.fsType().startsWith("fuse")) {
      return "nbdfuse's mount point " + s.fuseDir() + " is not mounted";
    }
    String backing = backingFile(s.device());
    if (backing == null || !Path.of(backing).equals(s.fuseDir().resolve("nbd"))) {
      return s.device() + " is not the loop device of " + s.fuseDir().resolve("nbd");
    }
    return null;
  }

  /** Removes the device stack (the file system on it is unmounted already). Best effort. */
  void destroy(Staged s) {
    if (s.stack() == Stack.KERNEL_NBD) {
      run(List.of("nbd-client", "-d", s.device()));
      return;
    }
    String backing = backingFile(s.device());
    if (backing != null && Path.of(backing).equals(s.fuseDir().resolve("nbd"))) {
      run(List.of("losetup", "-d", s.device()));
    }
    unmountFuse(s.fuseDir(), s.helperPid());
  }

  /** Unmounts nbdfuse's mount point (nbdfuse then exits), waits for it, removes its files. */
  private void unmountFuse(Path dir, long pid) {
    if (Mounts.isMountPoint(dir)) {
      Exec.Result r = run(List.of("umount", dir.toString()));
      if (r != null && !r.ok()) {
        run(List.of("umount", "-l", dir.toString()));
      }
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (processAlive(pid, "nbdfuse") && System.nanoTime() < deadline) {
      sleep(100);
    }
    if (processAlive(pid, "nbdfuse")) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
    try {
      Files.deleteIfExists(dir);
      String v = dir.getFileName().toString();
      Files.deleteIfExists(fuseRoot.resolve(v + ".pid"));
      Files.deleteIfExists(fuseRoot.resolve(v + ".log"));
    } catch (IOException e) {
      LOG.warn("cannot remove {}: {}", dir, e.toString());
    }
  }

  /** The device's size in bytes, from sysfs. */
  static long deviceSize(String device) throws CommandException {
    String name = Path.of(device).getFileName().toString();
    try {
      return Long.parseLong(Files.readString(Path.of("/sys/class/block/" + name + "/size")).strip())
          * 512;
    } catch (IOException | NumberFormatException e) {
      throw new CommandException("cannot read the size of " + device + ": " + e.getMessage());
    }
  }

  /** Whether {@code pid} runs and its command is {@code name} (a reused pid is not ours). */
  static boolean processAlive(long pid, String name) {
    if (pid <= 0) {
      return false;
    }
    try {
      String comm = Files.readString(Path.of("/proc/" + pid + "/comm")).strip();
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      int close = stat.lastIndexOf(')');
      boolean zombie = close > 0 && close + 2 < stat.length() && stat.charAt(close + 2) == 'Z';
      return comm.equals(name) && !zombie;
    } catch (IOException e) {
      return false;
    }
  }

  private static String backingFile(String device) {
    String name = Path.of(device).getFileName().toString();
    try {
      return Files.readString(Path.of("/sys/block/" + name + "/loop/backing_file")).strip();
    } catch (IOException e) {
      return null;
    }
  }

  private static Optional<Long> readPid(Path f) {
    try {
      return Optional.of(Long.parseLong(Files.readString(f).strip()));
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  private static long size(Path f) {
    try {
      return Files.size(f);
    } catch (IOException e) {
      return 0;
    }
  }

  private static String tail(Path log) {
    try {
      String s = Files.readString(log).strip();
      return s.length() > 2000 ? s.substring(s.length() - 2000) : s;
    } catch (IOException e) {
      return "(no output)";
    }
  }

  private static Exec.Result run(List<String> cmd) {
    try {
      Exec.Result r = Exec.run(cmd);
      if (!r.ok()) {
        LOG.warn("{}", r.describe());
      }
      return r;
    } catch (CommandException e) {
      LOG.warn("{}", e.getMessage());
      return null;
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
