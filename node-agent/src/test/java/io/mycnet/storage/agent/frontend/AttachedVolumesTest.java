package io.mycnet.storage.agent.frontend;

import static io.mycnet.storage.agent.frontend.FrontendAgents.VOLUME;
import static io.mycnet.storage.agent.frontend.FrontendAgents.attachment;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.agent.data.CallerIdentity;
import io.mycnet.storage.agent.nbd.BlockDevice;
import io.mycnet.storage.agent.nbd.BlockIoException;
import io.mycnet.storage.agent.nbd.ExportDirectory.Caller;
import io.mycnet.storage.agent.nbd.ExportDirectory.Export;
import io.mycnet.storage.agent.nbd.ExportDirectory.ExportRefusedException;
import io.mycnet.storage.api.v1.AccessGrant;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.AttachVolume;
import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.api.v1.DetachVolume;
import io.mycnet.storage.api.v1.RevocationList;
import io.mycnet.storage.operator.security.CertificateAuthority;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The volumes attached to a node as the NBD server sees them: who may list and open which, in which
 * mode; generations of attach and detach; the record that survives a restart. Real agents (n0
 * attached, n1 the volume's only replica and primary), real certificates of a real CA.
 */
class AttachedVolumesTest {
  static final Duration WINDOW = Duration.ofSeconds(60);
  @TempDir Path dir;
  FrontendAgents agents;
  FrontendAgents.Agent n0;
  AttachedVolumes attached;

  @BeforeEach
  void start() throws Exception {
    agents = new FrontendAgents(dir, "n0", "n1");
    n0 = agents.agent("n0");
    attached = open();
  }

  @AfterEach
  void stop() {
    attached.close();
    agents.close();
  }

  AttachedVolumes open() throws Exception {
    return AttachedVolumes.open(
        n0.dataDir, "n0", n0.store, n0.local, n0.peers, n0.revocations, WINDOW);
  }

  /** The volume, owned by "app", shared read-only with "reader" and read-write with "writer". */
  AssignReplica assignment(long epoch, Attachment at) {
    return agents.assignment(epoch, "n1", List.of("n1"), at).toBuilder()
        .addGrants(AccessGrant.newBuilder().setNamespace("reader").setReadOnly(true))
        .addGrants(AccessGrant.newBuilder().setNamespace("writer").setReadOnly(false))
        .build();
  }

  AttachVolume attach(Attachment at) throws Exception {
    AssignReplica a = assignment(1, at);
    if (agents.agent("n1").volume() == null) {
      agents.agent("n1").replica(a);
    } else {
      agents.agent("n1").volume().assign(a);
    }
    return AttachVolume.newBuilder()
        .setVolumeId(VOLUME)
        .setAttachment(at)
        .setAssignment(a)
        .setClaim("team-a/data")
        .build();
  }

  Caller tls(X509Certificate cert) {
    return new Caller(false, cert, CallerIdentity.commonName(cert));
  }

  Caller client(String namespace) {
    return tls(agents.client(namespace));
  }

  /** The opening's mode, or the refusal. */
  String mode(Caller c) {
    try {
      BlockDevice d = attached.open(VOLUME, c);
      try {
        return d.readOnly() ? "ro" : "rw";
      } finally {
        d.close();
      }
    } catch (ExportRefusedException e) {
      return (e.unknown() ? "unknown: " : "policy: ") + e.getMessage();
    }
  }

  @Test
  void eachCallerListsAndOpensWhatItMayInTheModeItMay() throws Exception {
    assertThat(attached.attach(attach(attachment("n0", false, 1))).ok()).isTrue();
    Export export = new Export(VOLUME, "team-a/data");

    assertThat(attached.list(Caller.localSocket())).containsExactly(export);
    assertThat(mode(Caller.localSocket())).isEqualTo("rw");
    assertThat(attached.list(client("app"))).containsExactly(export);
    assertThat(mode(client("app"))).isEqualTo("rw");
    assertThat(mode(client("writer"))).isEqualTo("rw");
    assertThat(attached.list(client("reader"))).containsExactly(export);
    assertThat(mode(client("reader"))).isEqualTo("ro");
    // Anyone else does not see the volume and may not open it.
    assertThat(attached.list(client("other"))).isEmpty();
    assertThat(mode(client("other"))).startsWith("policy: ").contains("not shared");
    X509Certificate node =
        agents
            .ca
            .signNode(
                agents.ca.checkCsr(
                    io.mycnet.storage.agent.identity.NodeIdentity.csr(
                        io.mycnet.storage.agent.identity.NodeIdentity.generateKeyPair(), "n5"),
                    "n5"),
                "n5")
            .certificate();
    assertThat(attached.list(tls(node))).isEmpty();
    assertThat(mode(tls(node))).startsWith("policy: ").contains("not a client:<namespace>");
    assertThat(mode(new Caller(false, null, null))).startsWith("policy: ");
    // A revoked certificate of the owner is refused; another of the same namespace is not.
    X509Certificate revoked = agents.client("app");
    n0.revocations.update(
        RevocationList.newBuilder().addSerials(CertificateAuthority.serialHex(revoked)).build());
    assertThat(attached.list(tls(revoked))).isEmpty();
    assertThat(mode(tls(revoked))).startsWith("policy: ").contains("revoked");
    assertThat(mode(client("app"))).isEqualTo("rw");
    // A volume not attached here is unknown.
    assertThatThrownBy(() -> attached.open("app.other", Caller.localSocket()))
        .isInstanceOfSatisfying(
            ExportRefusedException.class, e -> assertThat(e.unknown()).isTrue());
  }

  @Test
  void aReadOnlyAttachmentOpensReadOnlyForEveryone() throws Exception {
    attached.attach(attach(attachment("n0", true, 1)));
    assertThat(mode(Caller.localSocket())).isEqualTo("ro");
    assertThat(mode(client("app"))).isEqualTo("ro");
    assertThat(mode(client("writer"))).isEqualTo("ro");
  }

  @Test
  void theOpeningServesTheVolumeAndADetachEndsIt() throws Exception {
    attached.attach(attach(attachment("n0", false, 2)));
    BlockDevice d = attached.open(VOLUME, Caller.localSocket());
    d.write(0, new byte[] {1, 2, 3}, true);
    assertThat(agents.agent("n1").volume().replica().read(0, 3)).containsExactly(1, 2, 3);

    // An older generation's detach or attach changes nothing.
    assertThat(detach(1, false).message()).contains("ignored");
    assertThat(attached.attach(attach(attachment("n0", true, 1))).message()).contains("ignored");
    assertThat(d.read(0, 3)).containsExactly(1, 2, 3);
    assertThat(attached.list(Caller.localSocket())).hasSize(1);

    assertThat(detach(2, false).ok()).isTrue();
    assertThatThrownBy(() -> d.read(0, 1))
        .isInstanceOfSatisfying(
            BlockIoException.class,
            e -> assertThat(e.kind()).isEqualTo(BlockIoException.Kind.SHUTDOWN));
    assertThat(attached.list(Caller.localSocket())).isEmpty();
    assertThat(detach(2, false).message()).contains("not attached"); // idempotent

    attached.attach(attach(attachment("n0", false, 3)));
    BlockDevice e = attached.open(VOLUME, client("app"));
    assertThat(detach(3, true).message()).contains("fenced");
    assertThatThrownBy(() -> e.write(0, new byte[1], false))
        .isInstanceOfSatisfying(
            BlockIoException.class,
            x -> assertThat(x.kind()).isEqualTo(BlockIoException.Kind.NOT_PERMITTED));
  }

  AttachedVolumes.Outcome detach(long generation, boolean fenced) {
    return attached.detach(
        DetachVolume.newBuilder()
            .setVolumeId(VOLUME)
            .setGeneration(generation)
            .setReason("test")
            .setFenced(fenced)
            .build());
  }

  @Test
  void anAttachmentAndItsNewestAssignmentSurviveARestart() throws Exception {
    attached.attach(attach(attachment("n0", false, 1)));
    AssignReplica newer = assignment(2, attachment("n0", false, 1));
    agents.agent("n1").volume().assign(newer);
    assertThat(attached.assign(newer).message()).contains("epoch 2");
    assertThat(attached.assign(assignment(1, attachment("n0", false, 1))).message())
        .contains("newer");
    assertThat(attached.assign(newer.toBuilder().setVolumeId("app.other").build())).isNull();
    attached.close();

    attached = open();
    assertThat(attached.list(Caller.localSocket()))
        .containsExactly(new Export(VOLUME, "team-a/data"));
    assertThat(attached.frontend(VOLUME).epoch()).isEqualTo(2);
    BlockDevice d = attached.open(VOLUME, Caller.localSocket());
    d.write(4096, new byte[] {9}, false);
    assertThat(agents.agent("n1").volume().replica().read(4096, 1)).containsExactly(9);
  }

  @Test
  void anAttachmentForAnotherNodeOrWithoutAssignmentIsRefused() throws Exception {
    AttachVolume good = attach(attachment("n0", false, 1));
    assertThat(attached.attach(good.toBuilder().setAttachment(attachment("n9", false, 1)).build()))
        .satisfies(
            o -> {
              assertThat(o.ok()).isFalse();
              assertThat(o.message()).contains("names node 'n9', not this node (n0)");
            });
    assertThat(attached.attach(good.toBuilder().clearAssignment().build()).ok()).isFalse();
    assertThat(attached.attach(good.toBuilder().setVolumeId("Bad Id").build()).ok()).isFalse();
    assertThat(attached.list(Caller.localSocket())).isEmpty();
  }
}
