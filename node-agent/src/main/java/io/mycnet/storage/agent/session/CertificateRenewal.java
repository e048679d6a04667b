package io.mycnet.storage.agent.session;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.agent.AgentConfig;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.agent.support.LogOnce;
import io.mycnet.storage.api.v1.NodeSessionGrpc;
import io.mycnet.storage.api.v1.RenewCertificateRequest;
import io.mycnet.storage.api.v1.RenewCertificateResponse;
import java.security.KeyPair;
import java.time.Clock;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Renews the node certificate over the open session once it is past its renewal time (a new key
 * pair each time), saves it, and moves the session to a channel with the new certificate. Runs on
 * the agent thread; a failed renewal is retried at the next check (every second).
 */
final class CertificateRenewal {
  private static final Logger LOG = LoggerFactory.getLogger(CertificateRenewal.class);

  private final AgentConfig cfg;
  private final Clock clock;
  private final ScheduledExecutorService loop;
  private final AgentSession session;
  private final LogOnce logOnce = new LogOnce(LOG);
  private boolean renewing;

  CertificateRenewal(
      AgentConfig cfg, Clock clock, ScheduledExecutorService loop, AgentSession session) {
    this.cfg = cfg;
    this.clock = clock;
    this.loop = loop;
    this.session = session;
  }

  /** Starts a renewal when a session is open and the certificate is due (agent thread). */
  void maybeRenew() {
    NodeIdentity id = session.sessionIdentity();
    if (renewing || id == null) {
      return;
    }
    if (clock.instant().isBefore(id.renewAfter())) {
      return;
    }
    renewing = true;
    KeyPair kp = NodeIdentity.generateKeyPair();
    RenewCertificateRequest req =
        RenewCertificateRequest.newBuilder()
            .setCsrDer(ByteString.copyFrom(NodeIdentity.csr(kp, cfg.nodeId())))
            .build();
    NodeSessionGrpc.newStub(session.channel())
        .withDeadlineAfter(AgentSession.CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
        .renewCertificate(
            req,
            new StreamObserver<>() {
              @Override
              public void onNext(RenewCertificateResponse r) {
                loop.execute(() -> renewed(kp, r));
              }

              @Override
              public void onError(Throwable t) {
                loop.execute(
                    () -> {
                      renewing = false;
                      logOnce.warn(
                          "renew",
                          "certificate renewal failed: "
                              + AgentSession.describe(Status.fromThrowable(t)));
                    });
              }

              @Override
              public void onCompleted() {}
            });
  }

  private void renewed(KeyPair kp, RenewCertificateResponse r) {
    renewing = false;
    logOnce.clear("renew");
    NodeIdentity id = NodeIdentity.save(cfg.dataDir(), kp.getPrivate(), r.getCertificate());
    LOG.info("renewed the node certificate: {} valid until {}", id.serial(), id.notAfter());
    session.renewed(id);
  }
}
