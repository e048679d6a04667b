package io.mycnet.storage.agent.identity;

import io.mycnet.storage.agent.data.DataServer;
import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The node's current certificate and CA bundle for the data port and peer channels. Follows
 * renewals: TLS contexts built once keep using the newest identity. Before the first join there is
 * no identity and every handshake fails.
 */
public final class IdentityKeys {
  private volatile NodeIdentity identity;

  public void set(NodeIdentity id) {
    this.identity = id;
  }

  NodeIdentity current() {
    return identity;
  }

  public X509ExtendedKeyManager keyManager() {
    return new X509ExtendedKeyManager() {
      @Override
      public String[] getClientAliases(String keyType, Principal[] issuers) {
        return identity == null ? null : new String[] {"node"};
      }

      @Override
      public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return identity == null ? null : "node";
      }

      @Override
      public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine e) {
        return identity == null ? null : "node";
      }

      @Override
      public String[] getServerAliases(String keyType, Principal[] issuers) {
        return identity == null ? null : new String[] {"node"};
      }

      @Override
      public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return identity == null ? null : "node";
      }

      @Override
      public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine e) {
        return identity == null ? null : "node";
      }

      @Override
      public X509Certificate[] getCertificateChain(String alias) {
        NodeIdentity id = identity;
        return id == null ? null : new X509Certificate[] {id.certificate()};
      }

      @Override
      public PrivateKey getPrivateKey(String alias) {
        NodeIdentity id = identity;
        return id == null ? null : id.key();
      }
    };
  }

  /** Trusts certificates signed by the CA bundle (node and client certificates alike). */
  public X509ExtendedTrustManager trustManager() {
    return new X509ExtendedTrustManager() {
      private void check(X509Certificate[] chain) throws CertificateException {
        NodeIdentity id = identity;
        if (id == null) {
          throw new CertificateException("this node has not joined yet: no CA to trust");
        }
        if (chain == null || chain.length == 0) {
          throw new CertificateException("no certificate presented");
        }
        X509Certificate leaf = chain[0];
        leaf.checkValidity();
        for (X509Certificate ca : id.caBundle()) {
          if (leaf.getIssuerX500Principal().equals(ca.getSubjectX500Principal())) {
            try {
              leaf.verify(ca.getPublicKey());
              return;
            } catch (java.security.GeneralSecurityException e) {
              throw new CertificateException("certificate not signed by the control plane's CA");
            }
          }
        }
        throw new CertificateException("certificate not issued by the control plane's CA");
      }

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType, Socket s)
          throws CertificateException {
        check(chain);
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType, Socket s)
          throws CertificateException {
        check(chain);
      }

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine e)
          throws CertificateException {
        check(chain);
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine e)
          throws CertificateException {
        check(chain);
        String expected = e == null ? null : e.getPeerHost();
        String cn = DataServer.commonName(chain[0]);
        if (expected != null && !expected.equals(cn)) {
          throw new CertificateException(
              "peer presented the certificate of '" + cn + "', expected node '" + expected + "'");
        }
      }

      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType)
          throws CertificateException {
        check(chain);
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType)
          throws CertificateException {
        check(chain);
      }

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        NodeIdentity id = identity;
        return id == null ? new X509Certificate[0] : id.caBundle().toArray(X509Certificate[]::new);
      }
    };
  }
}
