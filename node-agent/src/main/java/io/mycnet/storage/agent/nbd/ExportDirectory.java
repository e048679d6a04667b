package io.mycnet.storage.agent.nbd;

import java.security.cert.X509Certificate;
import java.util.List;

/**
 * What the NBD server may serve to whom: the names a caller may list, and the opening of one of
 * them. The server asks it for every NBD_OPT_LIST, NBD_OPT_INFO, NBD_OPT_GO and
 * NBD_OPT_EXPORT_NAME.
 */
public interface ExportDirectory {

  /**
   * Who is asking. On the node's own Unix socket ({@code local}) the caller is the node itself and
   * has no certificate; on TCP it is the verified client certificate of the TLS session.
   */
  record Caller(boolean local, X509Certificate certificate, String commonName) {
    public static Caller localSocket() {
      return new Caller(true, null, null);
    }
  }

  /** One export as NBD_OPT_LIST shows it. */
  record Export(String name, String description) {}

  /** The exports this caller may open, in a stable order. */
  List<Export> list(Caller caller);

  /**
   * Opens an export for one connection. The opening is read-only when the caller may only read.
   *
   * @throws ExportRefusedException when there is no such export here, or the caller may not open it
   */
  BlockDevice open(String name, Caller caller) throws ExportRefusedException;

  /** A refused opening: its message goes to the client with the NBD error reply. */
  final class ExportRefusedException extends Exception {
    /** True: no such export (NBD_REP_ERR_UNKNOWN); false: not permitted (NBD_REP_ERR_POLICY). */
    private final boolean unknown;

    public ExportRefusedException(boolean unknown, String message) {
      super(message);
      this.unknown = unknown;
    }

    public boolean unknown() {
      return unknown;
    }
  }
}
