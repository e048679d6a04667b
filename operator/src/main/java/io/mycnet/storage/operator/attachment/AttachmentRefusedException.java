package io.mycnet.storage.operator.attachment;

/**
 * An attach, detach or fence that was refused and wrote nothing; the message says why and what
 * would help, for a person to read (it becomes the result annotation and a Kubernetes event).
 */
public final class AttachmentRefusedException extends RuntimeException {
  public AttachmentRefusedException(String message) {
    super(message);
  }
}
