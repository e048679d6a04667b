package io.mycnet.storage.agent.replication;

import io.mycnet.storage.agent.replica.VolumeReplica;
import io.mycnet.storage.api.v1.ConsistencyLevel;
import io.mycnet.storage.api.v1.ReplicaReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A one-off measurement, not a test: acknowledged STRONG 4 KiB writes per second through a primary
 * and two followers in one JVM (real replica files, {@link InMemoryReplicaLinks}), with 1 and with
 * 32 concurrent writers. Run from the node-agent module after {@code test-compile}: {@code java -cp
 * target/classes:target/test-classes:<dependencies>
 * io.mycnet.storage.agent.replication.ReplicaSetWriteThroughput [dir] [seconds]}.
 */
public final class ReplicaSetWriteThroughput {
  private ReplicaSetWriteThroughput() {}

  public static void main(String[] args) throws Exception {
    Path base = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("replica-set-wps");
    int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    double one = run(base.resolve("w1"), 1, seconds);
    double many = run(base.resolve("w32"), 32, seconds);
    System.out.printf("ratio 32/1 writers: %.2f%n", many / one);
  }

  private static ReplicatedVolume node(Path dir, InMemoryReplicaLinks links, String nodeId)
      throws Exception {
    ReplicaLink link = links.from(nodeId);
    ReplicatedVolume.Context ctx =
        new ReplicatedVolume.Context() {
          @Override
          public String nodeId() {
            return nodeId;
          }

          @Override
          public ReplicaLink link() {
            return link;
          }

          @Override
          public void report(ReplicaReport r) {
            System.out.println(nodeId + " reports " + r.getKind() + ": " + r.getMessage());
          }

          @Override
          public void recordEpoch(String volumeId, long epoch) {}
        };
    ReplicatedVolume v =
        new ReplicatedVolume(VolumeReplica.open("v1", dir.resolve(nodeId), 1 << 20), 1, ctx);
    links.register(nodeId, v);
    return v;
  }

  private static double run(Path dir, int writers, int seconds) throws Exception {
    try (InMemoryReplicaLinks links = new InMemoryReplicaLinks()) {
      List<ReplicatedVolume> vs = new ArrayList<>();
      for (String n : List.of("p1", "f1", "f2")) {
        vs.add(node(dir, links, n));
      }
      for (ReplicatedVolume v : vs) {
        v.assign(
            ReplicaSetTest.assign(
                1, "p1", ConsistencyLevel.CONSISTENCY_LEVEL_STRONG, "p1", "f1", "f2"));
      }
      ReplicatedVolume p1 = vs.get(0);
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong done = new AtomicLong();
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < writers; t++) {
        int id = t;
        threads.add(
            new Thread(
                () -> {
                  byte[] block = new byte[VolumeReplica.BLOCK];
                  long i = id;
                  try {
                    while (!stop.get()) {
                      block[0] = (byte) i;
                      p1.primaryWrite((i % 256) * VolumeReplica.BLOCK, block, 0);
                      done.incrementAndGet();
                      i += writers;
                    }
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  }
                }));
      }
      long start = System.nanoTime();
      threads.forEach(Thread::start);
      Thread.sleep(seconds * 1000L);
      stop.set(true);
      for (Thread th : threads) {
        th.join();
      }
      double secs = (System.nanoTime() - start) / 1e9;
      double wps = done.get() / secs;
      System.out.printf(
          "%d writer(s): %d STRONG 4 KiB writes on 3 replicas in %.1f s = %.0f writes/s%n",
          writers, done.get(), secs, wps);
      vs.forEach(ReplicatedVolume::close);
      return wps;
    }
  }
}
