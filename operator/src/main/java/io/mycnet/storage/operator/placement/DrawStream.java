package io.mycnet.storage.operator.placement;

/**
 * The nodes eligible for one volume, in ascending order of their draw, found without looking at
 * most nodes.
 *
 * <p>The draws: a volume defines a Poisson process of rate 1 per slot width on the placement axis
 * ({@link ClusterView}); node {@code i}'s draw {@code E_i} is the first arrival inside its strip,
 * an exponential variable of rate {@code weight_i}, independent across nodes. Ordering nodes by
 * {@code E_i} is weighted rendezvous hashing (straw2 with {@code E = -ln(u)/w}), and since {@code
 * E_i} depends only on the volume and node {@code i}'s own strip, adding, removing or re-weighting
 * a node leaves every other node's draw unchanged.
 *
 * <p>The process is generated top-down over dyadic intervals of the axis, so that any interval's
 * first arrival is a pure function of (volume, interval): the axis is cut into doubling blocks
 * (slot 0, slots [1,2), [2,4), [4,8), ...), each with an independent first arrival {@code (T, p)}
 * drawn from a hash; inside an interval whose first arrival is {@code (T, p)}, the half holding
 * {@code p} inherits it and the other half's first arrival is {@code T + Exp(rate of that half)} at
 * a uniform position (memorylessness). A best-first search over these intervals, skipping ranges
 * the segment tree proves empty of candidates, yields nodes in draw order in {@code O(log slots)}
 * steps per node.
 */
final class DrawStream {
  private static final int SLOT_BITS = ClusterView.SLOT_BITS;
  private static final double[] SCALE = new double[64];

  static {
    for (int lw = 0; lw < 64; lw++) {
      SCALE[lw] = Math.scalb(1.0, SLOT_BITS - lw);
    }
  }

  private final ClusterView view;
  private final NodeFilter filter;
  private final long volume;
  private final int[] stamp;
  private final int stampId;
  private final Scratch scratch;

  private double[] heapT;
  private long[] heapP;
  private long[] heapStart;
  private byte[] heapLw;
  private int size;
  private double lastDraw;
  private int emitted;

  /** Reusable buffers, one set per thread. */
  static final class Scratch {
    double[] t = new double[64];
    long[] p = new long[64];
    long[] start = new long[64];
    byte[] lw = new byte[64];
    int[] stamp = new int[0];
    int stampId;
  }

  DrawStream(ClusterView view, NodeFilter filter, long volumeHash, Scratch scratch) {
    this.view = view;
    this.filter = filter;
    this.volume = volumeHash;
    if (scratch.stamp.length < view.slotCount) {
      scratch.stamp = new int[Math.max(view.slotCount, scratch.stamp.length * 2)];
      scratch.stampId = 0;
    }
    if (++scratch.stampId == Integer.MAX_VALUE) {
      java.util.Arrays.fill(scratch.stamp, 0);
      scratch.stampId = 1;
    }
    this.scratch = scratch;
    this.stamp = scratch.stamp;
    this.stampId = scratch.stampId;
    this.heapT = scratch.t;
    this.heapP = scratch.p;
    this.heapStart = scratch.start;
    this.heapLw = scratch.lw;
    for (int n : filter.excluded()) {
      stamp[view.slotOf[n]] = stampId;
    }
    // Doubling blocks: slot 0, then slots [2^(k-1), 2^k).
    if (view.slotCount > 0 && filter.rangeMayContain(0, 0)) {
      pushFresh(0L, SLOT_BITS, 0.0);
    }
    for (int k = 1; (1L << (k - 1)) < view.slotCount; k++) {
      if (filter.rangeMayContain(k - 1, 1)) {
        pushFresh(1L << (SLOT_BITS + k - 1), SLOT_BITS + k - 1, 0.0);
      }
    }
  }

  /** Keeps node {@code n} out of this stream (a replica it already holds). */
  void skip(int n) {
    stamp[view.slotOf[n]] = stampId;
  }

  /** The draw {@code E} of the node last returned by {@link #next()}. */
  double lastDraw() {
    return lastDraw;
  }

  /** How many nodes this stream has returned so far. */
  int emitted() {
    return emitted;
  }

  /** The next eligible node in draw order, or -1 when there is none left. */
  int next() {
    while (size > 0) {
      double t = heapT[0];
      long p = heapP[0];
      long start = heapStart[0];
      int lw = heapLw[0];
      pop();
      // Descend through multi-slot intervals towards p, queueing the other halves.
      boolean dead = false;
      while (lw > SLOT_BITS) {
        lw--;
        long right = start + (1L << lw);
        int h = lw - SLOT_BITS;
        if (p >= right) {
          if (filter.rangeMayContain(h, start >>> lw)) {
            pushFresh(start, lw, t);
          }
          start = right;
        } else if (filter.rangeMayContain(h, right >>> lw)) {
          pushFresh(right, lw, t);
        }
        if (!filter.rangeMayContain(h, start >>> lw)) {
          dead = true;
          break;
        }
      }
      if (dead) {
        continue;
      }
      int slot = (int) (start >>> SLOT_BITS);
      if (stamp[slot] == stampId) {
        continue;
      }
      int node = view.nodeAtSlot[slot];
      if (!filter.accepts(node)) {
        stamp[slot] = stampId;
        continue;
      }
      long stripEnd = ((long) slot << SLOT_BITS) + view.stripWidth[node];
      if (p < stripEnd) {
        stamp[slot] = stampId;
        lastDraw = t;
        emitted++;
        return node;
      }
      // p fell in the unowned tail of the slot: queue the parts of the strip.
      while (start < stripEnd) {
        lw--;
        long right = start + (1L << lw);
        if (p >= right) {
          pushFresh(start, lw, t);
          start = right;
        }
      }
    }
    return -1;
  }

  /** Queues interval [start, start + 2^lw) whose first arrival comes after {@code parentT}. */
  private void pushFresh(long start, int lw, double parentT) {
    long id = (1L << (63 - lw)) | (start >>> lw);
    long h1 = PlacementHash.combine(volume, id);
    long h2 = PlacementHash.mix(h1 ^ 0x2545F4914F6CDD1DL);
    double t = parentT + PlacementHash.exp1(h1) * SCALE[lw];
    long p = lw == 0 ? start : start + (h2 >>> (64 - lw));
    push(t, p, start, lw);
  }

  private void push(double t, long p, long start, int lw) {
    if (size == heapT.length) {
      int cap = size * 2;
      heapT = java.util.Arrays.copyOf(heapT, cap);
      heapP = java.util.Arrays.copyOf(heapP, cap);
      heapStart = java.util.Arrays.copyOf(heapStart, cap);
      heapLw = java.util.Arrays.copyOf(heapLw, cap);
      scratch.t = heapT;
      scratch.p = heapP;
      scratch.start = heapStart;
      scratch.lw = heapLw;
    }
    int i = size++;
    while (i > 0) {
      int parent = (i - 1) >>> 1;
      if (!less(t, start, heapT[parent], heapStart[parent])) {
        break;
      }
      move(parent, i);
      i = parent;
    }
    heapT[i] = t;
    heapP[i] = p;
    heapStart[i] = start;
    heapLw[i] = (byte) lw;
  }

  private void pop() {
    int last = --size;
    if (last == 0) {
      return;
    }
    double t = heapT[last];
    long p = heapP[last];
    long start = heapStart[last];
    byte lw = heapLw[last];
    int i = 0;
    int half = last >>> 1;
    while (i < half) {
      int c = 2 * i + 1;
      int r = c + 1;
      if (r < last && less(heapT[r], heapStart[r], heapT[c], heapStart[c])) {
        c = r;
      }
      if (!less(heapT[c], heapStart[c], t, start)) {
        break;
      }
      move(c, i);
      i = c;
    }
    heapT[i] = t;
    heapP[i] = p;
    heapStart[i] = start;
    heapLw[i] = lw;
  }

  private static boolean less(double t1, long s1, double t2, long s2) {
    return t1 < t2 || (t1 == t2 && s1 < s2);
  }

  private void move(int from, int to) {
    heapT[to] = heapT[from];
    heapP[to] = heapP[from];
    heapStart[to] = heapStart[from];
    heapLw[to] = heapLw[from];
  }
}
