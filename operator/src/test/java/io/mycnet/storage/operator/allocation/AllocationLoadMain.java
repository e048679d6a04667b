package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The control plane's allocation path as a separate process for the crash test: performs {@code
 * ops} allocations and releases with {@code threads} in parallel and prints {@code A <volume>} or
 * {@code R <volume>} on standard output only after the manager acknowledged the operation ({@code S
 * <volume>} when a release starts). The test kills it with SIGKILL at a random moment.
 *
 * <p>Arguments: endpoints (comma separated), key prefix, round, ops, threads, seed.
 */
public final class AllocationLoadMain {
  private AllocationLoadMain() {}

  public static void main(String[] args) throws Exception {
    List<String> endpoints = Arrays.asList(args[0].split(","));
    String prefix = args[1];
    int round = Integer.parseInt(args[2]);
    int ops = Integer.parseInt(args[3]);
    int threads = Integer.parseInt(args[4]);
    long seed = Long.parseLong(args[5]);
    try (ControlPlaneFixture cp = new ControlPlaneFixture(endpoints, prefix)) {
      for (var n : cp.registry.list()) {
        cp.trust.put(n.getNodeId(), new NodeTrustSource.NodeTrust(TrustTier.CRITICAL, 0.95));
      }
      List<String> releasable = new ArrayList<>();
      for (Allocation a : cp.manager.list()) {
        releasable.add(a.getVolumeId());
      }
      Collections.shuffle(releasable, new Random(seed));
      System.out.println("READY " + releasable.size());
      System.out.flush();
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      Random rnd = new Random(seed);
      for (int i = 0; i < ops; i++) {
        boolean release = !releasable.isEmpty() && rnd.nextInt(10) < 3;
        String id = release ? releasable.remove(releasable.size() - 1) : "r" + round + "-v" + i;
        long size = (1 + rnd.nextInt(64)) * (1L << 20);
        pool.execute(
            () -> {
              try {
                if (release) {
                  say("S " + id); // a release is under way: unacknowledged, it may or may not land
                  cp.manager.release(id);
                  say("R " + id);
                } else {
                  cp.manager.allocate(
                      StorageRequest.of(id, "crash", "default", size, StorageType.SERVICE));
                  say("A " + id);
                }
              } catch (RuntimeException e) {
                say("E " + id + " " + e.getMessage());
              }
            });
      }
      pool.shutdown();
      pool.awaitTermination(5, TimeUnit.MINUTES);
      say("DONE");
    }
  }

  private static synchronized void say(String line) {
    System.out.println(line);
    System.out.flush();
  }
}
