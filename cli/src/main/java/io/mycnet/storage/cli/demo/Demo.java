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
        new Step(t -> "restore " + t.target + "'s encryption", this::restoreEncryption));
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

    Tour(LocalState state) {
      this.state = state;
    }

    @Override
    public void close() {
      if (c != null) {
        c.close();
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
