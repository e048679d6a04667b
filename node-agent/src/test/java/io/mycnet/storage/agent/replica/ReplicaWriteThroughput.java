package io.mycnet.storage.agent.replica;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A one-off measurement, not a test: durable 4 KiB writes per second on one replica with 1 and with
 * 32 concurrent writers (each {@link VolumeReplica#write} returns only once the write is durable).
 * Run from the node-agent module after {@code test-compile}: {@code java -cp
 * target/classes:target/test-classes:<dependencies>
 * io.mycnet.storage.agent.replica.ReplicaWriteThroughput [dir] [seconds]}. Prints one line per
 * writer count and the ratio; bounded by {@code seconds} per run.
 */
public final class ReplicaWriteThroughput {
  private ReplicaWriteThroughput() {}

  public static void main(String[] args) throws Exception {
    Path base = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("replica-wps");
    int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    double one = run(base.resolve("w1"), 1, seconds);
    double many = run(base.resolve("w32"), 32, seconds);
    System.out.printf("ratio 32/1 writers: %.2f%n", many / one);
  }

  private static double run(Path dir, int writers, int seconds) throws Exception {
    long size = 256L << 20;
    try (VolumeReplica r = VolumeReplica.open("bench", dir, size)) {
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong done = new AtomicLong();
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < writers; t++) {
        int id = t;
        Thread th =
            new Thread(
                () -> {
                  byte[] block = new byte[VolumeReplica.BLOCK];
                  long blocks = size / VolumeReplica.BLOCK;
                  long i = id;
                  try {
                    while (!stop.get()) {
                      block[0] = (byte) i;
                      r.write((i % blocks) * VolumeReplica.BLOCK, block);
                      done.incrementAndGet();
                      i += writers;
                    }
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  }
                });
        threads.add(th);
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
          "%d writer(s): %d durable 4 KiB writes in %.1f s = %.0f writes/s%n",
          writers, done.get(), secs, wps);
      return wps;
    }
  }
}
