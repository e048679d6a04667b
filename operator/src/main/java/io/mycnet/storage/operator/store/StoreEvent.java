package io.mycnet.storage.operator.store;

import java.nio.charset.StandardCharsets;

/**
 * One change seen by a prefix watch. {@code revision} is the store revision of the change (the
 * key's new mod revision for a put, the deletion's revision for a delete); {@code createRevision}
 * is the key's create revision for a put and 0 for a delete; {@code value} is empty for a delete.
 */
public record StoreEvent(Type type, String key, byte[] value, long revision, long createRevision) {
  public enum Type {
    PUT,
    DELETE
  }

  public boolean isPut() {
    return type == Type.PUT;
  }

  public boolean isDelete() {
    return type == Type.DELETE;
  }

  public String valueString() {
    return new String(value, StandardCharsets.UTF_8);
  }
}
