package io.mycnet.storage.operator.security;

/** A certificate signing request the CA will not sign; the message says why and what to do. */
public final class CsrRejectedException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /** True when the CSR is well formed but asks for another node's identity. */
  private final boolean identityMismatch;

  public CsrRejectedException(String message, boolean identityMismatch) {
    super(message);
    this.identityMismatch = identityMismatch;
  }

  public boolean identityMismatch() {
    return identityMismatch;
  }
}
