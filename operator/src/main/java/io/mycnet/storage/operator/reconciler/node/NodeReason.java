package io.mycnet.storage.operator.reconciler.node;

import io.mycnet.storage.operator.reconciler.Reason;

/** The reasons of the events about a node's removal and readmission. */
public enum NodeReason implements Reason {
  NODE_REMOVED("NodeRemoved"),
  NODE_READMITTED("NodeReadmitted"),
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
