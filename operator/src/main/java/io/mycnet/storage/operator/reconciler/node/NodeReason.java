package io.mycnet.storage.operator.reconciler.node;

import io.mycnet.storage.operator.reconciler.Reason;

/**
 * The reasons of the events about a node's removal and readmission, and the attachments and fences
 * requested on it.
 */
public enum NodeReason implements Reason {
  NODE_REMOVED("NodeRemoved"),
  NODE_READMITTED("NodeReadmitted"),
  /** A volume was attached to the node (read-write or read-only). */
  VOLUME_ATTACHED("VolumeAttached"),
  /** A volume's attachment to the node ended cleanly. */
  VOLUME_DETACHED("VolumeDetached"),
  /** The node's attachments were revoked and their volumes' epochs raised. */
  NODE_FENCED("NodeFenced"),
  /** The requested action was refused; the message says why. */
  NODE_ACTION_REFUSED("NodeActionRefused");

  private final String text;

  NodeReason(String text) {
    this.text = text;
  }

  @Override
  public String text() {
    return text;
  }
}
