package io.mycnet.storage.operator.store;

/** A running prefix watch; closing it stops delivery. */
public interface StoreWatch extends AutoCloseable {
  @Override
  void close();
}
