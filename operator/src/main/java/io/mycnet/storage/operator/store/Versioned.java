package io.mycnet.storage.operator.store;

/**
 * A value read from etcd with the revisions a transaction can be guarded by. {@code modRevision} is
 * 0 for a key that does not exist (see {@link EtcdStore.Txn#requireModRevision}).
 */
public record Versioned<T>(String key, T value, long modRevision, long createRevision) {
  public static <T> Versioned<T> absent(String key) {
    return new Versioned<>(key, null, 0, 0);
  }

  public boolean exists() {
    return modRevision != 0;
  }
}
