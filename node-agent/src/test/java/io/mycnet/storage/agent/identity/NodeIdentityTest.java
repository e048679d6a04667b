package io.mycnet.storage.agent.identity;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.Signature;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The key an agent joins with: kept across joins (the node id is bound to it), new after a removal.
 */
class NodeIdentityTest {
  @TempDir Path dir;

  @Test
  void theJoinKeyIsStoredBeforeTheJoinAndReusedUntilDiscarded() throws Exception {
    KeyPair first = NodeIdentity.joinKeyPair(dir);
    Path key = dir.resolve("identity/node.key");
    assertThat(key).exists();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
        .isEqualTo("rw-------");

    KeyPair again = NodeIdentity.joinKeyPair(dir);
    assertThat(again.getPublic().getEncoded()).isEqualTo(first.getPublic().getEncoded());
    // The public key derived from the stored private key is really its pair.
    Signature s = Signature.getInstance("SHA256withECDSA");
    s.initSign(again.getPrivate());
    s.update(new byte[] {1, 2, 3});
    byte[] sig = s.sign();
    Signature v = Signature.getInstance("SHA256withECDSA");
    v.initVerify(first.getPublic());
    v.update(new byte[] {1, 2, 3});
    assertThat(v.verify(sig)).isTrue();

    NodeIdentity.discardKey(dir);
    assertThat(key).doesNotExist();
    KeyPair fresh = NodeIdentity.joinKeyPair(dir);
    assertThat(fresh.getPublic().getEncoded()).isNotEqualTo(first.getPublic().getEncoded());
  }

  @Test
  void anUnreadableStoredKeyIsReplaced() throws Exception {
    Files.createDirectories(dir.resolve("identity"));
    Files.writeString(dir.resolve("identity/node.key"), "not a key");
    KeyPair kp = NodeIdentity.joinKeyPair(dir);
    assertThat(NodeIdentity.joinKeyPair(dir).getPublic().getEncoded())
        .isEqualTo(kp.getPublic().getEncoded());
  }
}
