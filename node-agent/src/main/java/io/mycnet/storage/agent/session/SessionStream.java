package io.mycnet.storage.agent.session;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.mycnet.storage.api.v1.AgentMessage;
import io.mycnet.storage.api.v1.ControlMessage;
import io.mycnet.storage.api.v1.Pong;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One session stream to the control plane. Pings are answered and heartbeat acknowledgements noted
 * here; the revocation list goes to the agent at once; everything else is handed to the agent
 * thread ({@link AgentSession}).
 */
final class SessionStream implements ClientResponseObserver<AgentMessage, ControlMessage> {
  private static final Logger LOG = LoggerFactory.getLogger(SessionStream.class);

  private final AgentSession session;
  private final Executor agentThread;
  private final Object sendLock = new Object();
  private ClientCallStreamObserver<AgentMessage> requests;
  volatile boolean welcomed;
  volatile long lastAckNanos;
  long intervalMs;
  long sequence;
  ScheduledFuture<?> heartbeatTask;
  ScheduledFuture<?> welcomeTimeout;

  SessionStream(AgentSession session, Executor agentThread) {
    this.session = session;
    this.agentThread = agentThread;
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<AgentMessage> requestStream) {
    this.requests = requestStream;
  }

  void send(AgentMessage m) {
    synchronized (sendLock) {
      try {
        requests.onNext(m);
      } catch (RuntimeException e) {
        LOG.debug("send failed: {}", e.toString());
      }
    }
  }

  void cancel(String why) {
    LOG.warn("dropping the session: {}", why);
    synchronized (sendLock) {
      requests.cancel(why, null);
    }
  }

  void complete() {
    synchronized (sendLock) {
      try {
        requests.onCompleted();
      } catch (RuntimeException e) {
        LOG.debug("complete failed: {}", e.toString());
      }
    }
  }

  void stopTimers() {
    if (heartbeatTask != null) {
      heartbeatTask.cancel(false);
    }
    if (welcomeTimeout != null) {
      welcomeTimeout.cancel(false);
    }
  }

  @Override
  public void onNext(ControlMessage m) {
    switch (m.getKindCase()) {
      case WELCOME -> agentThread.execute(() -> session.onWelcome(this, m.getWelcome()));
      case COMMAND -> agentThread.execute(() -> session.onCommand(this, m.getCommand()));
      case PING ->
          send(
              AgentMessage.newBuilder()
                  .setPong(Pong.newBuilder().setNonce(m.getPing().getNonce()))
                  .build());
      case HEARTBEAT_ACK -> lastAckNanos = System.nanoTime();
      case REVOCATIONS -> session.onRevocations(m.getRevocations());
      default -> LOG.debug("ignoring an empty control message");
    }
  }

  @Override
  public void onError(Throwable t) {
    agentThread.execute(() -> session.ended(this, Status.fromThrowable(t)));
  }

  @Override
  public void onCompleted() {
    agentThread.execute(
        () ->
            session.ended(
                this, Status.UNAVAILABLE.withDescription("the control plane ended the session")));
  }
}
