package io.mycnet.storage.operator.attachment;

/**
 * An attach, detach or fence that was refused and wrote nothing; the message says why and what
 * would help, for a person to read (it becomes the result annotation and a Kubernetes event). The
 * {@link Kind} lets a caller that answers with codes (the CSI controller) tell the refusals apart.
 */
public final class AttachmentRefusedException extends RuntimeException {
  /** What kind of rule refused. */
  public enum Kind {
    /** The request itself is malformed (an id, a missing reason). */
    INVALID,
    /** The volume or the node does not exist. */
    NOT_FOUND,
    /** The volume is not usable yet (or any more), or the node is not UP. */
    NOT_READY,
    /** The node already has the volume attached in the other mode. */
    OTHER_MODE,
    /** Another node holds the volume in a way that excludes this attachment. */
    HELD_ELSEWHERE,
    /** The node's trust tier does not admit the volume's classification. */
    TRUST,
    /** The node's trust is not known yet: retry shortly. */
    TRUST_UNKNOWN
  }

  private final Kind kind;

  public AttachmentRefusedException(String message) {
    this(Kind.INVALID, message);
  }

  public AttachmentRefusedException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}
