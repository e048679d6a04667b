package io.mycnet.storage.cli.demo;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Classification;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.cli.CliException;
import io.mycnet.storage.cli.LocalClient;
import io.mycnet.storage.cli.Mycnet;
import io.mycnet.storage.cli.StatusView;
import io.mycnet.storage.cli.local.LocalCluster;
import io.mycnet.storage.cli.local.LocalCsi;
import io.mycnet.storage.cli.local.LocalProcesses;
import io.mycnet.storage.cli.local.LocalState;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import java.io.PrintStream;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code mycnet demo}: the tour on top of {@code local up}. Binds the sample claims, writes data to
 * a CRITICAL and a PUBLIC volume, kills a node holding both, shows the re-replication, verifies the
 * data byte for byte on every replica, brings the node back, switches off another node's at-rest
 * encryption (it loses the tiers that require it) and shows that only its replicas of those
 * classifications are evacuated, and prints a summary. Exit code 0 only when every step held.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "A scripted tour on top of `mycnet local up`: bind the sample claims, write data to a"
          + " CRITICAL and a PUBLIC volume, kill a node that holds both, watch the re-replication,"
          + " verify the data byte for byte, lower one node's trust (at-rest encryption off) and"
          + " watch only its CRITICAL replicas being evacuated, and print a summary.",
      "Exits 0 only when every step held. Local mode keeps running afterwards (mycnet local down)."
    })
public final class Demo implements Callable<Integer> {
  @Mixin Mycnet.StateDir stateDir;

  @Option(names = "--topology", paramLabel = "FILE")
  Path topology;

  @Option(names = "--manifests", paramLabel = "DIR")
  Path manifests;

  @Option(
      names = "--step-timeout",
      defaultValue = "300s",
      description = "how long one step may take (default: ${DEFAULT-VALUE})")
  String stepTimeout;

  @Option(names = "--down", description = "stop local mode at the end (the data is kept)")
  boolean down;

  private final PrintStream out = System.out;
  private final List<String[]> summary = new ArrayList<>();
  private Duration timeout;
  private final boolean tty = System.console() != null;

  @Override
  public Integer call() throws Exception {
    long started = System.nanoTime();
    timeout = Mycnet.duration("--step-timeout", stepTimeout);
    LocalState state = stateDir.state();
    boolean ok = false;
    try {
      ok = tour(state);
    } catch (CliException e) {
      out.println();
      out.println("step failed: " + e.getMessage());
    } catch (io.grpc.StatusRuntimeException e) {
      out.println();
      out.println(
          "step failed: volume I/O answered "
              + e.getStatus().getCode()
              + ": "
              + e.getStatus().getDescription());
    }
    out.println();
    out.println("SUMMARY");
    for (String[] s : summary) {
      out.printf("  %-4s %-62s %s%n", s[0], s[1], s[2]);
    }
    long secs = Duration.ofNanos(System.nanoTime() - started).toSeconds();
    out.printf("demo %s in %d s%n", ok ? "PASSED: every step held" : "FAILED", secs);
    if (down) {
      new LocalCluster(state, out).down(false);
    } else {
      out.println("local mode keeps running: mycnet status, mycnet local down");
    }
    return ok ? 0 : 1;
  }

  /**
   * The tour: its steps in order. Each is shown as {@code == N. title} (the title may name what an
   * earlier step chose) and records its lines of the summary; a step that returns false ends the
   * tour as failed, one that throws ends it with its message.
   */
  private List<Step> steps() {
    return List.of(
        new Step(t -> "local mode up", this::localModeUp),
        new Step(t -> "bind the sample claims", this::bindSampleClaims),
        new Step(t -> "write data to a CRITICAL and a PUBLIC volume", this::writeData),
        new Step(t -> "kill a node that holds both", this::killNodeHoldingBoth),
        new Step(t -> "verify the data byte for byte on every replica", this::verifyData),
        new Step(t -> "bring " + t.victim + " back", this::bringVictimBack),
        new Step(t -> "lower one node's trust: at-rest encryption off", this::lowerTrust),
        new Step(t -> "restore " + t.target + "'s encryption", this::restoreEncryption),
        new Step(
            t -> "mount a CRITICAL volume through the CSI driver, kill its primary while writing",
            this::csiFailover),
        new Step(t -> "mount it on an edge node: the trust gate refuses", this::csiRefusal));
  }

  /** One named step of the tour. */
  private record Step(Function<Tour, String> title, Body body) {}

  @FunctionalInterface
  private interface Body {
    /** Runs the step; false when it did not hold (it has recorded why). */
    boolean run(Tour t) throws Exception;
  }

  /** What the steps hand on to the later ones. */
  private static final class Tour implements AutoCloseable {
    final LocalState state;
    LocalClient c;
    List<StorageClaim> claims;
    Allocation critical;
    Allocation open;
    final Map<String, byte[]> written = new LinkedHashMap<>();
    String victim;
    String target;
    CsiTour csi;

    Tour(LocalState state) {
      this.state = state;
    }

    @Override
    public void close() {
      if (csi != null) {
        csi.close(state);
      }
      if (c != null) {
        c.close();
      }
    }
  }

  /** The CSI steps' volume, and the mount directories to clean up whatever happens. */
  private static final class CsiTour {
    final String volumeId;
    final String claim;
    final List<Path> dirs = new ArrayList<>();

    CsiTour(String volumeId, String claim) {
      this.volumeId = volumeId;
      this.claim = claim;
    }

    Path newDir() throws java.io.IOException {
      Path d = java.nio.file.Files.createTempDirectory("mycnet-demo-mnt-");
      dirs.add(d);
      return d;
    }

    /** Unmounts what a failed step left mounted and removes the directories. */
    void close(LocalState state) {
      LocalCsi csi = new LocalCsi(state);
      for (Path d : dirs) {
        try {
          csi.unmount(d, Duration.ofSeconds(60));
          java.nio.file.Files.deleteIfExists(d);
        } catch (RuntimeException | java.io.IOException e) {
          System.out.println("  could not unmount " + d + ": " + e.getMessage());
        }
      }
    }
  }

  private boolean tour(LocalState state) throws Exception {
    try (Tour t = new Tour(state)) {
      List<Step> steps = steps();
      for (int i = 0; i < steps.size(); i++) {
        Step step = steps.get(i);
        section((i + 1) + ". " + step.title().apply(t));
        if (!step.body().run(t)) {
          return false;
        }
      }
      out.println();
      StatusView.print(t.c, out);
      return summary.stream().allMatch(s -> s[0].equals("ok"));
    }
  }

  private boolean localModeUp(Tour t) {
    long t0 = System.nanoTime();
    Mycnet.Local.up(t.state, topology, manifests, Duration.ofSeconds(120), out);
    record(true, "local mode up: etcd, control plane, agents", t0, "");
    t.c = new LocalClient(t.state);
    return true;
  }

  private boolean bindSampleClaims(Tour t) {
    long t0 = System.nanoTime();
    LocalClient c = t.c;
    t.claims =
        await(
            "every sample claim Bound and every replica healthy",
            () -> {
              List<StorageClaim> all =
                  c.kube().resources(StorageClaim.class).inAnyNamespace().list().getItems();
              boolean bound =
                  !all.isEmpty()
                      && all.stream()
                          .allMatch(
                              x ->
                                  x.getStatus() != null
                                      && x.getStatus().getPhase() == ClaimPhase.Bound);
              boolean healthy = allBound(c);
              return bound && healthy ? Optional.of(all) : Optional.empty();
            },
            () -> claimsLine(c));
    for (StorageClaim x : t.claims) {
      Allocation a = c.volumeOf(x);
      out.printf(
          "  %-36s %-9s %s%n",
          x.getMetadata().getNamespace() + "/" + x.getMetadata().getName(),
          cls(a),
          a.getReplicasList().stream().map(Replica::getNodeId).collect(Collectors.joining(" ")));
    }
    record(true, t.claims.size() + " claims bound, every replica healthy", t0, "");
    return true;
  }

  private boolean writeData(Tour t) {
    long t0 = System.nanoTime();
    t.critical = pick(t.c, t.claims, Classification.CLASSIFICATION_CRITICAL);
    t.open = pick(t.c, t.claims, Classification.CLASSIFICATION_PUBLIC);
    Random random = new Random(20261124);
    for (Allocation a : List.of(t.critical, t.open)) {
      byte[] data = new byte[4 << 20];
      random.nextBytes(data);
      t.c.write(a, 0, data);
      t.written.put(a.getVolumeId(), data);
      out.printf(
          "  %s (%s, %s): wrote 4 MiB through primary %s, sha256 %s%n",
          a.getVolumeId(),
          cls(a),
          a.getConsistency().name().replace("CONSISTENCY_LEVEL_", ""),
          a.getPrimaryNodeId(),
          sha(data).substring(0, 16));
    }
    record(
        true,
        "4 MiB written to " + t.critical.getVolumeId() + " and " + t.open.getVolumeId(),
        t0,
        "");
    return true;
  }

  private boolean killNodeHoldingBoth(Tour t) {
    long t0 = System.nanoTime();
    LocalClient c = t.c;
    String victim = chooseVictim(t.critical, t.open);
    t.victim = victim;
    List<String> held = volumesOn(c, victim);
    new LocalCluster(t.state, out).killAgent(victim);
    out.printf(
        "  SIGKILLed the agent of %s, which held %d replicas: %s%n",
        victim, held.size(), String.join(", ", held));
    out.println("  waiting for its lease to lapse, the grace period, and the rebuilds ...");
    await(
        "every volume healthy again without " + victim,
        () -> {
          List<Allocation> vs = c.volumes();
          boolean done =
              vs.stream()
                  .allMatch(
                      v ->
                          v.getState() == VolumeState.VOLUME_STATE_BOUND
                              && !nodes(v).contains(victim));
          return done ? Optional.of(true) : Optional.empty();
        },
        () -> rebuildLine(c, held, victim));
    List<String> moved = new ArrayList<>();
    for (String id : held) {
      Allocation v = c.volume(id).orElseThrow();
      moved.add(id + " -> " + String.join(" ", nodes(v)));
      checkSpread(c, v);
    }
    moved.forEach(m -> out.println("  " + m));
    record(
        true,
        "killed " + victim + "; " + held.size() + " replicas re-replicated",
        t0,
        "spread rules hold");
    return true;
  }

  /** A node holding replicas of both volumes, preferring one that is neither's primary. */
  private static String chooseVictim(Allocation critical, Allocation open) {
    Set<String> both = nodes(critical);
    both.retainAll(nodes(open));
    if (both.isEmpty()) {
      throw new CliException("no node holds replicas of both volumes");
    }
    return both.stream()
        .min(
            Comparator.comparing(
                    (String n) ->
                        n.equals(critical.getPrimaryNodeId()) || n.equals(open.getPrimaryNodeId()))
                .thenComparing(n -> n))
        .orElseThrow();
  }

  private boolean verifyData(Tour t) {
    long t0 = System.nanoTime();
    int copies = 0;
    for (Map.Entry<String, byte[]> e : t.written.entrySet()) {
      Allocation v = t.c.volume(e.getKey()).orElseThrow();
      for (String n : nodes(v)) {
        byte[] back = t.c.read(v, n, 0, e.getValue().length);
        if (!Arrays.equals(back, e.getValue())) {
          record(false, "data of " + v.getVolumeId() + " on " + n + " differs", t0, "");
          return false;
        }
        copies++;
        out.printf(
            "  %s on %s: identical (sha256 %s)%n", v.getVolumeId(), n, sha(back).substring(0, 16));
      }
    }
    record(true, copies + " replicas read back byte-identical", t0, "");
    return true;
  }

  private boolean bringVictimBack(Tour t) {
    long t0 = System.nanoTime();
    String victim = t.victim;
    new LocalCluster(t.state, out).restartAgent(victim, null, Duration.ofSeconds(120));
    await(
        "node " + victim + " live",
        () -> t.c.registry.isLive(victim) ? Optional.of(true) : Optional.empty(),
        () -> "");
    record(true, victim + " restarted and live again", t0, "");
    return true;
  }

  /**
   * Restarts a CRITICAL-tier node holding the CRITICAL volume without at-rest encryption: it drops
   * below SENSITIVE, only its CRITICAL and SENSITIVE replicas are evacuated, and the CRITICAL data
   * stays identical on every replica.
   */
  private boolean lowerTrust(Tour t) {
    long t0 = System.nanoTime();
    LocalClient c = t.c;
    Map<String, String[]> trust = c.trust();
    String target = chooseTrustTarget(c, t.critical, t.victim, trust);
    t.target = target;
    Map<String, Classification> before = replicasOn(c, target);
    out.printf("  %s (tier %s) holds: %s%n", target, trust.get(target)[1], describe(before));
    new LocalCluster(t.state, out).restartAgent(target, false, Duration.ofSeconds(120));
    out.printf("  restarted %s with encryption at rest off%n", target);
    String tier =
        await(
            target + " below SENSITIVE",
            () -> {
              String[] now = c.trust().get(target);
              return now != null
                      && (now[1].equals("STANDARD")
                          || now[1].equals("PUBLIC")
                          || now[1].equals("NONE"))
                  ? Optional.of(now[1])
                  : Optional.empty();
            },
            () -> "");
    out.printf("  %s is now %s:%n", target, tier);
    for (String line : c.explainNode(target).split("\n")) {
      if (line.toLowerCase(Locale.ROOT).contains("encryption") || line.startsWith("node ")) {
        out.println("    " + line.strip());
      }
    }
    return evacuatesOnlyWhatMustMove(c, target, tier, before, t0) && criticalDataIntact(t);
  }

  /** Waits until the replicas {@code target}'s new tier may not hold are gone, and no others. */
  private boolean evacuatesOnlyWhatMustMove(
      LocalClient c, String target, String tier, Map<String, Classification> before, long t0) {
    Set<String> mustMove = new TreeSet<>();
    Set<String> mustStay = new TreeSet<>();
    before.forEach((vol, cl) -> (allowedBelowSensitive(cl) ? mustStay : mustMove).add(vol));
    Map<String, Classification> after =
        await(
            "only " + target + "'s CRITICAL/SENSITIVE replicas evacuated",
            () -> {
              Map<String, Classification> now = replicasOn(c, target);
              return allBound(c) && mustMove.stream().noneMatch(now::containsKey)
                  ? Optional.of(now)
                  : Optional.empty();
            },
            () -> rebuildLine(c, new ArrayList<>(mustMove), target));
    boolean stayed = after.keySet().containsAll(mustStay);
    out.printf("  evacuated: %s%n", mustMove.isEmpty() ? "(none)" : String.join(", ", mustMove));
    out.printf("  stayed:    %s%n", mustStay.isEmpty() ? "(none)" : String.join(", ", mustStay));
    if (!stayed) {
      record(false, "replicas that may stay on " + target + " were moved", t0, "");
      return false;
    }
    record(
        true,
        target
            + " -> "
            + tier
            + ": "
            + mustMove.size()
            + " evacuated, "
            + mustStay.size()
            + " stayed",
        t0,
        "");
    return true;
  }

  private boolean criticalDataIntact(Tour t) {
    long t0 = System.nanoTime();
    Allocation v = t.c.volume(t.critical.getVolumeId()).orElseThrow();
    for (String n : nodes(v)) {
      if (!Arrays.equals(t.c.read(v, n, 0, 4 << 20), t.written.get(v.getVolumeId()))) {
        record(false, "CRITICAL data on " + n + " differs after the evacuation", t0, "");
        return false;
      }
    }
    record(true, "CRITICAL data identical on " + String.join(", ", nodes(v)), t0, "");
    return true;
  }

  private boolean restoreEncryption(Tour t) {
    long t0 = System.nanoTime();
    String target = t.target;
    new LocalCluster(t.state, out).restartAgent(target, true, Duration.ofSeconds(120));
    String restored =
        await(
            target + " back to CRITICAL",
            () -> {
              String[] now = t.c.trust().get(target);
              return now != null && now[1].equals("CRITICAL")
                  ? Optional.of(now[1])
                  : Optional.empty();
            },
            () -> "");
    record(true, target + " encrypts again and is " + restored + " again", t0, "");
    return true;
  }

  /** Files of the CSI step: 64 KiB each, fsynced one by one. */
  static final int FILE_BYTES = 64 << 10;

  /**
   * Mounts a CRITICAL volume as ext4 on a CRITICAL-tier node that is not its primary (the kubelet's
   * RPCs on local mode's CSI sockets), writes a tree of files, then SIGKILLs the volume's primary
   * while a writer keeps writing and fsyncing files; once the primary role has moved and a write
   * has completed on the new primary, the writer stops. Every file whose fsync returned is then
   * read back on another node (unmounted, mounted there: nothing from a page cache) and must be
   * identical, and the writer must have seen no error: the frontend re-sends what the dead primary
   * held within its retry window. Then the killed node comes back.
   */
  private boolean csiFailover(Tour t) throws Exception {
    long t0 = System.nanoTime();
    LocalClient c = t.c;
    // A CRITICAL volume no earlier step wrote raw bytes to: blank, so the node plugin formats it.
    String chosen =
        t.claims.stream()
            .map(c::volumeOf)
            .filter(a -> a.getClassification() == Classification.CLASSIFICATION_CRITICAL)
            .map(Allocation::getVolumeId)
            .filter(id -> !t.written.containsKey(id))
            .max(Comparator.naturalOrder())
            .orElse(t.critical.getVolumeId());
    Allocation v = c.volume(chosen).orElseThrow();
    StorageClaim claim =
        t.claims.stream()
            .filter(x -> c.volumeOf(x).getVolumeId().equals(chosen))
            .findFirst()
            .orElseThrow();
    t.csi =
        new CsiTour(
            v.getVolumeId(),
            claim.getMetadata().getNamespace() + "/" + claim.getMetadata().getName());
    String primary = v.getPrimaryNodeId();
    Map<String, String[]> trust = c.trust();
    Set<String> holders = nodes(v);
    List<String> critical =
        c.nodes().stream()
            .filter(n -> n.getState() == io.mycnet.storage.api.v1.NodeState.NODE_STATE_UP)
            .map(io.mycnet.storage.api.v1.NodeRecord::getNodeId)
            .filter(n -> trust.containsKey(n) && trust.get(n)[1].equals("CRITICAL"))
            .filter(n -> !n.equals(primary))
            .sorted(Comparator.comparing((String n) -> holders.contains(n)).thenComparing(n -> n))
            .toList();
    if (critical.size() < 2) {
      throw new CliException("fewer than two CRITICAL-tier nodes besides the primary " + primary);
    }
    String consumer = critical.get(0);
    LocalCsi csi = new LocalCsi(t.state);
    Path dir = t.csi.newDir();
    out.printf(
        "  %s (claim %s, CRITICAL, primary %s, replicas %s)%n",
        v.getVolumeId(), t.csi.claim, primary, String.join(" ", holders));
    out.printf("  mycnet volume mount %s %s --node %s --fs ext4%n", t.csi.claim, dir, consumer);
    LocalCsi.Mounted m =
        csi.mount(
            new LocalCsi.MountRequest(
                v.getVolumeId(), t.csi.claim, "CRITICAL", consumer, dir, "ext4", false, false),
            Duration.ofSeconds(120));
    m.lines().forEach(l -> out.println("    " + l));

    Map<String, String> sums = new LinkedHashMap<>();
    Random random = new Random(20261201);
    for (int d = 0; d < 10; d++) {
      for (int f = 0; f < 20; f++) {
        String rel = String.format(Locale.ROOT, "d%02d/f%03d", d, f);
        sums.put(rel, writeSynced(dir.resolve(rel), random));
      }
    }
    out.printf(
        "  wrote a tree of %d files in 10 directories (%s), each fsynced%n",
        sums.size(), StatusView.bytes((long) sums.size() * FILE_BYTES));

    Writer writer = new Writer(dir.resolve("live"));
    Thread thread = new Thread(writer, "demo-writer");
    thread.setDaemon(true);
    thread.start();
    await(
        "the writer under way",
        () ->
            writer.done.size() >= 20 || writer.error != null ? Optional.of(true) : Optional.empty(),
        () -> "");
    int before = writer.done.size();
    long killedAt = System.nanoTime();
    new LocalCluster(t.state, out).killAgent(primary);
    out.printf(
        "  SIGKILLed the agent of %s (the primary) while the writer was at file %d%n",
        primary, before);
    String newPrimary =
        await(
            "the primary role moved off " + primary,
            () -> {
              if (writer.error != null) {
                throw new CliException("the writer failed: " + writer.error);
              }
              String p = c.volume(v.getVolumeId()).orElseThrow().getPrimaryNodeId();
              return !p.isEmpty() && !p.equals(primary) ? Optional.of(p) : Optional.empty();
            },
            () -> writerLine(writer, killedAt));
    long movedAt = System.nanoTime();
    await(
        "a write completed on the new primary " + newPrimary,
        () -> {
          if (writer.error != null) {
            throw new CliException("the writer failed: " + writer.error);
          }
          return writer.lastDoneAt > movedAt ? Optional.of(true) : Optional.empty();
        },
        () -> writerLine(writer, killedAt));
    writer.stop = true;
    thread.join(Duration.ofSeconds(60).toMillis());
    double gap = writer.longestNanos / 1e9;
    out.printf(
        Locale.ROOT,
        "  primary %s -> %s %.1f s after the kill; the writer wrote %d files, longest fsync"
            + " wait %.1f s, errors: %s%n",
        primary,
        newPrimary,
        (movedAt - killedAt) / 1e9,
        writer.done.size(),
        gap,
        writer.error == null ? "none" : writer.error);
    if (writer.error != null || thread.isAlive()) {
      record(
          false,
          "the writer failed across the failover: "
              + (writer.error == null ? "still blocked" : writer.error),
          t0,
          "");
      return false;
    }
    writer.done.forEach((rel, sum) -> sums.put("live/" + rel, sum));

    // Read back on another node, after an unmount: what reached the volume, not a page cache.
    csi.unmount(dir, Duration.ofSeconds(120)).forEach(l -> out.println("    " + l));
    String reader =
        critical.stream()
            .filter(n -> !n.equals(consumer) && !n.equals(primary))
            .findFirst()
            .orElse(consumer);
    out.printf("  mycnet volume mount %s %s --node %s%n", t.csi.claim, dir, reader);
    csi.mount(
            new LocalCsi.MountRequest(
                v.getVolumeId(), t.csi.claim, "CRITICAL", reader, dir, "ext4", false, false),
            Duration.ofSeconds(120))
        .lines()
        .forEach(l -> out.println("    " + l));
    List<String> differ = new ArrayList<>();
    for (Map.Entry<String, String> e : sums.entrySet()) {
      Path f = dir.resolve(e.getKey());
      if (!java.nio.file.Files.isRegularFile(f)
          || !sha(java.nio.file.Files.readAllBytes(f)).equals(e.getValue())) {
        differ.add(e.getKey());
      }
    }
    csi.unmount(dir, Duration.ofSeconds(120)).forEach(l -> out.println("    " + l));
    if (!differ.isEmpty()) {
      out.printf("  differ or missing on %s: %s%n", reader, differ);
      record(false, differ.size() + " synced files differ after the failover", t0, "");
      return false;
    }
    out.printf(
        "  every one of the %d synced files is identical on %s (sha256)%n", sums.size(), reader);
    record(
        true,
        sums.size() + " synced files identical after SIGKILL of the primary " + primary,
        t0,
        String.format(Locale.ROOT, "writer waited %.1f s, no error", gap));

    // The killed node comes back; its replicas were replaced when it went DOWN, and those rebuilds
    // go on in the background (step 4 showed them; mycnet status shows their progress).
    new LocalCluster(t.state, out).restartAgent(primary, null, Duration.ofSeconds(120));
    await(
        "node " + primary + " live again",
        () -> c.registry.isLive(primary) ? Optional.of(true) : Optional.empty(),
        () -> "");
    out.printf(
        "  %s restarted and live; the replicas it held are rebuilt elsewhere in the background%n",
        primary);
    return true;
  }

  /** The writer's progress while the failover runs. */
  private static String writerLine(Writer w, long killedAt) {
    long waiting = w.writingSince == 0 ? 0 : System.nanoTime() - w.writingSince;
    return String.format(
        Locale.ROOT,
        "%.0f s after the kill: writer at file %d%s",
        (System.nanoTime() - killedAt) / 1e9,
        w.done.size(),
        waiting > 2_000_000_000L
            ? String.format(Locale.ROOT, ", its write waiting %.0f s", waiting / 1e9)
            : "");
  }

  /** Writes 64 KiB of random bytes to {@code f} and fsyncs it; returns its SHA-256. */
  static String writeSynced(Path f, Random random) throws java.io.IOException {
    byte[] data = new byte[FILE_BYTES];
    random.nextBytes(data);
    java.nio.file.Files.createDirectories(f.getParent());
    try (java.nio.channels.FileChannel ch =
        java.nio.channels.FileChannel.open(
            f,
            java.nio.file.StandardOpenOption.CREATE,
            java.nio.file.StandardOpenOption.TRUNCATE_EXISTING,
            java.nio.file.StandardOpenOption.WRITE)) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(data);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    return sha(data);
  }

  /** Writes and fsyncs file after file until stopped or until a write fails. */
  private static final class Writer implements Runnable {
    final Path dir;
    final Map<String, String> done = new java.util.concurrent.ConcurrentSkipListMap<>();
    volatile boolean stop;
    volatile String error;
    volatile long writingSince;
    volatile long lastDoneAt;
    volatile long longestNanos;

    Writer(Path dir) {
      this.dir = dir;
    }

    @Override
    public void run() {
      Random random = new Random(7);
      for (int i = 0; !stop && i < 100_000; i++) {
        String rel = String.format(Locale.ROOT, "f%05d", i);
        long start = System.nanoTime();
        writingSince = start;
        try {
          String sum = writeSynced(dir.resolve(rel), random);
          long end = System.nanoTime();
          longestNanos = Math.max(longestNanos, end - start);
          done.put(rel, sum);
          lastDoneAt = end;
        } catch (java.io.IOException | RuntimeException e) {
          error = rel + ": " + e;
          return;
        } finally {
          writingSince = 0;
        }
      }
    }
  }

  /**
   * Tries to mount the CSI step's volume on a node whose trust tier does not admit CRITICAL data:
   * ControllerPublishVolume must refuse it with FAILED_PRECONDITION and the node's trust
   * explanation, and nothing may stay mounted.
   */
  private boolean csiRefusal(Tour t) throws Exception {
    long t0 = System.nanoTime();
    LocalClient c = t.c;
    Map<String, String[]> trust = c.trust();
    String edge =
        c.nodes().stream()
            .filter(n -> n.getState() == io.mycnet.storage.api.v1.NodeState.NODE_STATE_UP)
            .map(io.mycnet.storage.api.v1.NodeRecord::getNodeId)
            .filter(n -> trust.containsKey(n) && !trust.get(n)[1].equals("CRITICAL"))
            .sorted()
            .findFirst()
            .orElseThrow(() -> new CliException("no UP node below the CRITICAL tier"));
    Path dir = t.csi.newDir();
    out.printf(
        "  mycnet volume mount %s %s --node %s   (%s: tier %s, score %s)%n",
        t.csi.claim, dir, edge, edge, trust.get(edge)[1], trust.get(edge)[0]);
    LocalCsi csi = new LocalCsi(t.state);
    try {
      csi.mount(
          new LocalCsi.MountRequest(
              t.csi.volumeId, t.csi.claim, "CRITICAL", edge, dir, "ext4", false, false),
          Duration.ofSeconds(60));
    } catch (CliException e) {
      String msg = e.getMessage();
      out.println("  refused:");
      msg.lines().limit(12).forEach(l -> out.println("    " + l));
      boolean trustGate =
          msg.contains("FAILED_PRECONDITION") && msg.contains("does not admit CRITICAL");
      boolean clean = csi.recorded(dir).isEmpty() && LocalCsi.mountsUnder(dir).isEmpty();
      record(
          trustGate && clean,
          trustGate
              ? edge + " refused: tier " + trust.get(edge)[1] + " does not admit CRITICAL"
              : edge + " refused, but not by the trust gate",
          t0,
          clean ? "nothing mounted" : "something stayed mounted");
      return trustGate && clean;
    }
    csi.unmount(dir, Duration.ofSeconds(60));
    record(false, edge + " was allowed to mount CRITICAL data", t0, "");
    return false;
  }

  private static boolean allBound(LocalClient c) {
    return c.volumes().stream().allMatch(v -> v.getState() == VolumeState.VOLUME_STATE_BOUND);
  }

  /** A CRITICAL-tier node holding the CRITICAL volume, preferring one without SENSITIVE data. */
  private String chooseTrustTarget(
      LocalClient c, Allocation critical, String exclude, Map<String, String[]> trust) {
    Allocation now = c.volume(critical.getVolumeId()).orElseThrow();
    // One listing of the volumes: per candidate node, its SENSITIVE and its STANDARD/PUBLIC count.
    Map<String, long[]> held = new LinkedHashMap<>();
    for (Allocation a : c.volumes()) {
      for (String n : nodes(a)) {
        long[] k = held.computeIfAbsent(n, x -> new long[2]);
        if (a.getClassification() == Classification.CLASSIFICATION_SENSITIVE) {
          k[0]++;
        } else if (allowedBelowSensitive(a.getClassification())) {
          k[1]++;
        }
      }
    }
    return nodes(now).stream()
        .filter(n -> !n.equals(exclude))
        .filter(n -> trust.containsKey(n) && trust.get(n)[1].equals("CRITICAL"))
        .min(
            Comparator.comparing((String n) -> held.getOrDefault(n, new long[2])[0])
                .thenComparing(n -> -held.getOrDefault(n, new long[2])[1])
                .thenComparing(n -> n))
        .orElseThrow(
            () -> new CliException("no CRITICAL-tier node holds " + critical.getVolumeId()));
  }

  private static boolean allowedBelowSensitive(Classification c) {
    return c == Classification.CLASSIFICATION_STANDARD || c == Classification.CLASSIFICATION_PUBLIC;
  }

  private static Map<String, Classification> replicasOn(LocalClient c, String node) {
    Map<String, Classification> out = new LinkedHashMap<>();
    for (Allocation a : c.volumes()) {
      if (nodes(a).contains(node)) {
        out.put(a.getVolumeId(), a.getClassification());
      }
    }
    return out;
  }

  private static String describe(Map<String, Classification> m) {
    return m.entrySet().stream()
        .map(e -> e.getKey() + " (" + e.getValue().name().replace("CLASSIFICATION_", "") + ")")
        .collect(Collectors.joining(", "));
  }

  /** Replicas on distinct nodes, and in distinct zones where the pool has enough zones. */
  private static void checkSpread(LocalClient c, Allocation v) {
    List<String> zones = new ArrayList<>();
    for (Replica r : v.getReplicasList()) {
      zones.add(
          StatusView.path(r.getTopologyPath()).get("region")
              + "/"
              + StatusView.path(r.getTopologyPath()).get("zone"));
    }
    if (new TreeSet<>(nodes(v)).size() != v.getReplicasCount()) {
      throw new CliException(v.getVolumeId() + " has two replicas on one node");
    }
    if (new TreeSet<>(zones).size() != zones.size()) {
      throw new CliException(v.getVolumeId() + " has two replicas in one zone: " + zones);
    }
  }

  private static Allocation pick(LocalClient c, List<StorageClaim> claims, Classification cls) {
    return claims.stream()
        .map(c::volumeOf)
        .filter(a -> a.getClassification() == cls)
        .min(Comparator.comparing(Allocation::getVolumeId))
        .orElseThrow(
            () ->
                new CliException(
                    "no bound claim of classification "
                        + cls.name().replace("CLASSIFICATION_", "")));
  }

  private static Set<String> nodes(Allocation a) {
    Set<String> out = new TreeSet<>();
    for (Replica r : a.getReplicasList()) {
      out.add(r.getNodeId());
    }
    return out;
  }

  private static List<String> volumesOn(LocalClient c, String node) {
    return c.volumes().stream()
        .filter(a -> nodes(a).contains(node))
        .map(Allocation::getVolumeId)
        .sorted()
        .toList();
  }

  private static String cls(Allocation a) {
    return a.getClassification().name().replace("CLASSIFICATION_", "");
  }

  private String claimsLine(LocalClient c) {
    List<StorageClaim> all =
        c.kube().resources(StorageClaim.class).inAnyNamespace().list().getItems();
    long bound =
        all.stream()
            .filter(x -> x.getStatus() != null && x.getStatus().getPhase() == ClaimPhase.Bound)
            .count();
    return bound + "/" + all.size() + " claims bound";
  }

  /** Progress of re-replication: volumes done, bytes copied by the rebuilds under way. */
  private String rebuildLine(LocalClient c, List<String> volumes, String away) {
    int done = 0;
    long copied = 0;
    long total = 0;
    for (String id : volumes) {
      Optional<Allocation> v = c.volume(id);
      if (v.isEmpty()) {
        continue;
      }
      Allocation a = v.get();
      if (a.getState() == VolumeState.VOLUME_STATE_BOUND && !nodes(a).contains(away)) {
        done++;
      }
      for (Replica r : a.getReplicasList()) {
        if (r.getState() == ReplicaState.REPLICA_STATE_REBUILDING) {
          try {
            var s = c.stat(a, r.getNodeId());
            copied += s.getRebuildBytesDone();
            total += s.getRebuildBytesTotal();
          } catch (RuntimeException e) {
            // not started yet
          }
        }
      }
    }
    int width = 30;
    int filled = volumes.isEmpty() ? width : width * done / volumes.size();
    return String.format(
        Locale.ROOT,
        "[%s%s] %d/%d volumes%s",
        "#".repeat(filled),
        ".".repeat(width - filled),
        done,
        volumes.size(),
        total > 0
            ? ", rebuilding "
                + StatusView.bytes(copied)
                + " of "
                + StatusView.bytes(total)
                + " scanned"
            : "");
  }

  /** Polls until {@code check} yields, printing {@code progress}; fails after the step timeout. */
  private <T> T await(String what, Supplier<Optional<T>> check, Supplier<String> progress) {
    long deadline = System.nanoTime() + timeout.toNanos();
    long lastPrint = 0;
    String last = "";
    while (true) {
      Optional<T> r;
      try {
        r = check.get();
      } catch (RuntimeException e) {
        r = Optional.empty();
        last = e.getMessage();
      }
      if (r.isPresent()) {
        String p = progress.get();
        if (!p.isEmpty()) {
          out.print(tty ? "\r  " + p + "\n" : "  " + p + "\n");
        }
        return r.get();
      }
      if (System.nanoTime() > deadline) {
        throw new CliException(
            "timed out after "
                + timeout.toSeconds()
                + "s waiting for: "
                + what
                + (last.isEmpty() ? "" : " (" + last + ")"));
      }
      String p = progress.get();
      if (!p.isEmpty()) {
        if (tty) {
          out.print("\r  " + p);
          out.flush();
        } else if (System.nanoTime() - lastPrint > 5_000_000_000L) {
          out.println("  " + p);
          lastPrint = System.nanoTime();
        }
      }
      LocalProcesses.sleep(500);
    }
  }

  private void section(String title) {
    out.println();
    out.println("== " + title);
  }

  private void record(boolean ok, String what, long startedNanos, String note) {
    long ms = Duration.ofNanos(System.nanoTime() - startedNanos).toMillis();
    summary.add(
        new String[] {
          ok ? "ok" : "FAIL", what, String.format(Locale.ROOT, "%5.1f s %s", ms / 1000.0, note)
        });
  }

  private static String sha(byte[] data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
