package io.mycnet.storage.agent.nbd;

import static io.mycnet.storage.agent.nbd.Nbd.*;

import io.mycnet.storage.agent.nbd.ExportDirectory.Caller;
import io.mycnet.storage.agent.nbd.ExportDirectory.ExportRefusedException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One NBD connection: negotiation, then the transmission phase. The reader (this runnable's thread)
 * reads requests and hands them to the worker pool; workers answer as they finish, one reply at a
 * time under {@link #writeLock}. The reader stops reading while the connection is at its bound of
 * requests or bytes in flight, and never allocates from a length before checking it.
 */
final class NbdConnection implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(NbdConnection.class);

  /** Largest option payload accepted in negotiation; a longer one ends the connection. */
  static final int MAX_OPTION_BYTES = 64 * 1024;

  /** A TCP client must finish negotiating within this time. */
  static final int NEGOTIATION_TIMEOUT_MS = 60_000;

  /** Largest number of descriptors in one NBD_CMD_BLOCK_STATUS reply. */
  static final int MAX_DESCRIPTORS = 1 << 16;

  /** Smallest hole a read reply sends as a hole chunk. */
  static final int MIN_HOLE_CHUNK = 512;

  private static final int IO_BUFFER = 64 * 1024;
  private static final int MAX_MESSAGE_CHARS = 256;

  /** The accepted connection: a TCP socket or a Unix socket channel, and its streams. */
  record Link(
      Socket socket, SocketChannel channel, InputStream in, OutputStream out, String peer) {}

  private final long id;
  private final Link link;
  private final SSLContext tls;
  private final ExportDirectory exports;
  private final NbdServer.Limits limits;
  private final ExecutorService workers;
  private final Consumer<NbdConnection> onEnd;
  private final CountDownLatch ended = new CountDownLatch(1);
  private final Object writeLock = new Object();
  private final Object budget = new Object();

  private DataInputStream in;
  private DataOutputStream out;
  private Caller caller;
  private boolean tlsDone;
  private boolean noZeroes;
  private boolean structured;
  private String metaExport;
  private boolean metaAllocation;
  private volatile BlockDevice device;
  private String exportName;
  private long size;
  private boolean readOnly;
  private String endReason;
  private int inFlight;
  private long bytesInFlight;
  private long served;
  private volatile boolean aborted;
  private volatile boolean broken;

  NbdConnection(
      long id,
      Link link,
      SSLContext tls,
      ExportDirectory exports,
      NbdServer.Limits limits,
      ExecutorService workers,
      Consumer<NbdConnection> onEnd) {
    this.id = id;
    this.link = link;
    this.tls = tls;
    this.exports = exports;
    this.limits = limits;
    this.workers = workers;
    this.onEnd = onEnd;
    this.caller = tls == null ? Caller.localSocket() : null;
  }

  /** A request violating the protocol: the connection ends. */
  private static final class ProtocolViolation extends IOException {
    ProtocolViolation(String message) {
      super(message);
    }
  }

  @Override
  public void run() {
    LOG.debug("NBD connection #{} from {}", id, link.peer());
    String reason;
    try {
      in = new DataInputStream(new BufferedInputStream(link.in(), IO_BUFFER));
      out = new DataOutputStream(new BufferedOutputStream(link.out(), IO_BUFFER));
      if (negotiate()) {
        transmit();
      }
      reason = endReason != null ? endReason : "ended";
    } catch (ProtocolViolation e) {
      reason = "protocol violation: " + e.getMessage();
    } catch (EOFException e) {
      reason = "client closed the connection";
    } catch (IOException e) {
      reason = aborted ? "closed by the server" : "connection failed: " + e;
    } catch (RuntimeException e) {
      LOG.warn("NBD connection #{} failed", id, e);
      reason = "internal error: " + e;
    }
    try {
      awaitDrained();
    } finally {
      closeLink();
      BlockDevice d = device;
      if (d != null) {
        try {
          d.close();
        } catch (RuntimeException e) {
          LOG.warn("NBD connection #{}: closing export {} failed", id, exportName, e);
        }
      }
      onEnd.accept(this);
      ended.countDown();
      LOG.info(
          "NBD connection #{} ended ({}, {}{}, {} requests): {}",
          id,
          link.peer(),
          describeCaller(),
          exportName == null ? ", no export" : ", export " + exportName,
          served,
          reason);
    }
  }

  /** Ends the connection from outside: its reader and writers fail, its requests drain. */
  void abort() {
    aborted = true;
    synchronized (budget) {
      budget.notifyAll();
    }
    closeLink();
  }

  void awaitEnd(long millis) {
    try {
      ended.await(millis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void closeLink() {
    try {
      if (link.socket() != null) {
        // The plain socket under any TLS layer: closing it cannot block on a stalled peer.
        link.socket().close();
      } else {
        link.channel().close();
      }
    } catch (IOException e) {
      LOG.debug("NBD connection #{}: close: {}", id, e.toString());
    }
  }

  private String describeCaller() {
    if (caller == null) {
      return "no TLS client";
    }
    return caller.local() ? "the node itself" : "client " + caller.commonName();
  }

  // ---------------------------------------------------------------------------------------------
  // Negotiation

  /** Returns true when the transmission phase begins, false when the client ended negotiation. */
  private boolean negotiate() throws IOException {
    if (link.socket() != null) {
      link.socket().setSoTimeout(NEGOTIATION_TIMEOUT_MS);
    }
    out.writeLong(NBDMAGIC);
    out.writeLong(IHAVEOPT);
    out.writeShort(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
    out.flush();
    int clientFlags = in.readInt();
    if ((clientFlags & ~(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES)) != 0) {
      throw new ProtocolViolation("unknown client flags 0x" + Integer.toHexString(clientFlags));
    }
    if ((clientFlags & CLIENT_FLAG_FIXED_NEWSTYLE) == 0) {
      throw new ProtocolViolation("the client does not speak the fixed newstyle negotiation");
    }
    noZeroes = (clientFlags & CLIENT_FLAG_NO_ZEROES) != 0;
    while (true) {
      long magic = in.readLong();
      if (magic != IHAVEOPT) {
        throw new ProtocolViolation("bad option magic 0x" + Long.toHexString(magic));
      }
      int option = in.readInt();
      long length = Integer.toUnsignedLong(in.readInt());
      if (length > MAX_OPTION_BYTES) {
        // Nothing allocated, nothing read: the stream cannot be resynchronised, so it ends here.
        if (option != OPT_EXPORT_NAME) {
          optionReply(
              option,
              REP_ERR_TOO_BIG,
              text("option data of " + length + " bytes exceeds " + MAX_OPTION_BYTES));
        }
        throw new ProtocolViolation("option " + option + " claims " + length + " bytes of data");
      }
      byte[] data = new byte[(int) length];
      in.readFully(data);
      if (tls != null && !tlsDone && option != OPT_STARTTLS && option != OPT_ABORT) {
        if (option == OPT_EXPORT_NAME) {
          throw new ProtocolViolation("NBD_OPT_EXPORT_NAME without TLS: TLS is required");
        }
        optionReply(option, REP_ERR_TLS_REQD, text("TLS is required: send NBD_OPT_STARTTLS"));
        continue;
      }
      switch (option) {
        case OPT_ABORT -> {
          endReason = "client aborted the negotiation";
          try {
            optionReply(option, REP_ACK, new byte[0]);
          } catch (IOException e) {
            // The client need not wait for the acknowledgement.
          }
          return false;
        }
        case OPT_STARTTLS -> startTls(data);
        case OPT_LIST -> list(data);
        case OPT_STRUCTURED_REPLY -> {
          if (data.length != 0) {
            optionReply(option, REP_ERR_INVALID, text("NBD_OPT_STRUCTURED_REPLY takes no data"));
          } else if (structured) {
            optionReply(option, REP_ERR_INVALID, text("structured replies already negotiated"));
          } else {
            structured = true;
            optionReply(option, REP_ACK, new byte[0]);
          }
        }
        case OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT -> metaContext(option, data);
        case OPT_INFO, OPT_GO -> {
          if (infoOrGo(option, data)) {
            return true;
          }
        }
        case OPT_EXPORT_NAME -> {
          exportName(data);
          return true;
        }
        default ->
            optionReply(
                option,
                REP_ERR_UNSUP,
                text("option " + option + " is not supported by this server"));
      }
    }
  }

  private void startTls(byte[] data) throws IOException {
    if (tls == null) {
      optionReply(
          OPT_STARTTLS,
          REP_ERR_POLICY,
          text("TLS is not used on the node's own Unix socket (owner-only permissions guard it)"));
      return;
    }
    if (tlsDone) {
      optionReply(OPT_STARTTLS, REP_ERR_INVALID, text("TLS is already in use"));
      return;
    }
    if (data.length != 0) {
      optionReply(OPT_STARTTLS, REP_ERR_INVALID, text("NBD_OPT_STARTTLS takes no data"));
      return;
    }
    optionReply(OPT_STARTTLS, REP_ACK, new byte[0]);
    Socket plain = link.socket();
    SSLSocket s =
        (SSLSocket)
            tls.getSocketFactory()
                .createSocket(
                    plain, plain.getInetAddress().getHostAddress(), plain.getPort(), true);
    s.setUseClientMode(false);
    s.setNeedClientAuth(true);
    s.startHandshake();
    Certificate[] chain = s.getSession().getPeerCertificates();
    if (chain.length == 0 || !(chain[0] instanceof X509Certificate cert)) {
      throw new ProtocolViolation("the TLS client presented no X.509 certificate");
    }
    in = new DataInputStream(new BufferedInputStream(s.getInputStream(), IO_BUFFER));
    out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), IO_BUFFER));
    caller = new Caller(false, cert, commonName(cert));
    tlsDone = true;
    // What was negotiated in the clear does not carry over.
    structured = false;
    metaExport = null;
    metaAllocation = false;
  }

  private void list(byte[] data) throws IOException {
    if (data.length != 0) {
      optionReply(OPT_LIST, REP_ERR_INVALID, text("NBD_OPT_LIST takes no data"));
      return;
    }
    for (ExportDirectory.Export e : exports.list(caller)) {
      byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
      byte[] desc =
          e.description() == null ? new byte[0] : e.description().getBytes(StandardCharsets.UTF_8);
      ByteBuffer b = ByteBuffer.allocate(4 + name.length + desc.length);
      b.putInt(name.length).put(name).put(desc);
      optionReply(OPT_LIST, REP_SERVER, b.array());
    }
    optionReply(OPT_LIST, REP_ACK, new byte[0]);
  }

  private boolean infoOrGo(int option, byte[] data) throws IOException {
    String name;
    List<Integer> asked = new ArrayList<>();
    try {
      ByteBuffer b = ByteBuffer.wrap(data);
      name = string(b, b.getInt());
      int n = Short.toUnsignedInt(b.getShort());
      if (b.remaining() != 2 * n) {
        throw new BufferUnderflowException();
      }
      for (int i = 0; i < n; i++) {
        asked.add(Short.toUnsignedInt(b.getShort()));
      }
    } catch (BufferUnderflowException | CharacterCodingException e) {
      optionReply(option, REP_ERR_INVALID, text("malformed option data"));
      return false;
    }
    BlockDevice d = open(option, name);
    if (d == null) {
      return false;
    }
    boolean keep = false;
    try {
      long sz = d.sizeBytes();
      int flags = transmissionFlags(d);
      optionReply(
          option,
          REP_INFO,
          ByteBuffer.allocate(12)
              .putShort((short) INFO_EXPORT)
              .putLong(sz)
              .putShort((short) flags)
              .array());
      if (asked.contains(INFO_NAME)) {
        optionReply(option, REP_INFO, info(INFO_NAME, name));
      }
      if (asked.contains(INFO_DESCRIPTION)) {
        String description = description(name);
        if (description != null) {
          optionReply(option, REP_INFO, info(INFO_DESCRIPTION, description));
        }
      }
      optionReply(
          option,
          REP_INFO,
          ByteBuffer.allocate(14)
              .putShort((short) INFO_BLOCK_SIZE)
              .putInt(1)
              .putInt(PREFERRED_BLOCK)
              .putInt(limits.maxPayloadBytes())
              .array());
      optionReply(option, REP_ACK, new byte[0]);
      if (option == OPT_GO) {
        if (metaExport != null && !metaExport.equals(name)) {
          metaAllocation = false; // the contexts were selected for another export
        }
        enter(d, name);
        keep = true;
        return true;
      }
      return false;
    } finally {
      if (!keep) {
        d.close();
      }
    }
  }

  private void exportName(byte[] data) throws IOException {
    String name;
    try {
      name = string(ByteBuffer.wrap(data), data.length);
    } catch (CharacterCodingException e) {
      throw new ProtocolViolation("the export name is not UTF-8");
    }
    BlockDevice d;
    try {
      d = exports.open(name, caller);
    } catch (ExportRefusedException e) {
      throw new ProtocolViolation("export " + name + " refused: " + e.getMessage());
    }
    boolean keep = false;
    try {
      out.writeLong(d.sizeBytes());
      out.writeShort(transmissionFlags(d));
      if (!noZeroes) {
        out.write(new byte[124]);
      }
      out.flush();
      metaAllocation = false; // NBD_OPT_EXPORT_NAME selects no metadata context
      enter(d, name);
      keep = true;
    } finally {
      if (!keep) {
        d.close();
      }
    }
  }

  /** Opens for NBD_OPT_INFO/GO, or answers the refusal and returns null. */
  private BlockDevice open(int option, String name) throws IOException {
    try {
      BlockDevice d = exports.open(name, caller);
      if (d == null) {
        throw new IllegalStateException("the export directory opened nothing for " + name);
      }
      return d;
    } catch (ExportRefusedException e) {
      optionReply(option, e.unknown() ? REP_ERR_UNKNOWN : REP_ERR_POLICY, text(e.getMessage()));
      return null;
    } catch (RuntimeException e) {
      LOG.warn("NBD connection #{}: opening export {} failed", id, name, e);
      optionReply(option, REP_ERR_INVALID, text("cannot open export " + name + ": " + e));
      return null;
    }
  }

  private String description(String name) {
    for (ExportDirectory.Export e : exports.list(caller)) {
      if (e.name().equals(name)) {
        return e.description();
      }
    }
    return null;
  }

  private void metaContext(int option, byte[] data) throws IOException {
    if (option == OPT_SET_META_CONTEXT) {
      // Replaces the selection, also when it fails.
      metaExport = null;
      metaAllocation = false;
    }
    if (!structured) {
      optionReply(option, REP_ERR_INVALID, text("negotiate NBD_OPT_STRUCTURED_REPLY first"));
      return;
    }
    String name;
    List<String> queries = new ArrayList<>();
    try {
      ByteBuffer b = ByteBuffer.wrap(data);
      name = string(b, b.getInt());
      long n = Integer.toUnsignedLong(b.getInt());
      if (n > b.remaining() / 4) {
        throw new BufferUnderflowException();
      }
      for (long i = 0; i < n; i++) {
        queries.add(string(b, b.getInt()));
      }
      if (b.hasRemaining()) {
        throw new BufferUnderflowException();
      }
    } catch (BufferUnderflowException | CharacterCodingException e) {
      optionReply(option, REP_ERR_INVALID, text("malformed option data"));
      return;
    }
    for (String q : queries) {
      if (q.indexOf(':') < 1) {
        optionReply(option, REP_ERR_INVALID, text("query '" + q + "' has no namespace"));
        return;
      }
    }
    if (option == OPT_SET_META_CONTEXT) {
      if (queries.contains(BASE_ALLOCATION)) {
        optionReply(option, REP_META_CONTEXT, metaContextReply(BASE_ALLOCATION_ID));
        metaAllocation = true;
      }
      metaExport = name;
    } else if (queries.isEmpty()
        || queries.contains("base:")
        || queries.contains(BASE_ALLOCATION)) {
      optionReply(option, REP_META_CONTEXT, metaContextReply(0));
    }
    optionReply(option, REP_ACK, new byte[0]);
  }

  private static byte[] metaContextReply(int contextId) {
    byte[] n = BASE_ALLOCATION.getBytes(StandardCharsets.US_ASCII);
    return ByteBuffer.allocate(4 + n.length).putInt(contextId).put(n).array();
  }

  private int transmissionFlags(BlockDevice d) {
    int flags =
        FLAG_HAS_FLAGS | FLAG_SEND_FLUSH | FLAG_SEND_FUA | FLAG_SEND_TRIM | FLAG_SEND_WRITE_ZEROES;
    if (d.readOnly()) {
      flags |= FLAG_READ_ONLY;
    }
    if (d.flushCoversAllConnections()) {
      flags |= FLAG_CAN_MULTI_CONN;
    }
    if (structured) {
      flags |= FLAG_SEND_DF;
    }
    return flags;
  }

  private void enter(BlockDevice d, String name) throws IOException {
    device = d;
    exportName = name;
    size = d.sizeBytes();
    readOnly = d.readOnly();
    if (link.socket() != null) {
      link.socket().setSoTimeout(0);
    }
    LOG.info(
        "NBD connection #{}: {} opened export {} ({} bytes, {}{})",
        id,
        describeCaller(),
        name,
        size,
        readOnly ? "read-only" : "read-write",
        structured ? ", structured replies" : "");
  }

  private void optionReply(int option, int type, byte[] data) throws IOException {
    out.writeLong(OPTION_REPLY_MAGIC);
    out.writeInt(option);
    out.writeInt(type);
    out.writeInt(data.length);
    out.write(data);
    out.flush();
  }

  private static byte[] info(int type, String value) {
    byte[] v = value.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(2 + v.length).putShort((short) type).put(v).array();
  }

  private static byte[] text(String message) {
    return truncate(message).getBytes(StandardCharsets.UTF_8);
  }

  private static String truncate(String message) {
    String m = message == null ? "" : message;
    return m.length() <= MAX_MESSAGE_CHARS ? m : m.substring(0, MAX_MESSAGE_CHARS);
  }

  /** Reads a UTF-8 string of a claimed length, checked against what the option holds. */
  private static String string(ByteBuffer b, int length) throws CharacterCodingException {
    if (length < 0 || length > b.remaining()) {
      throw new BufferUnderflowException();
    }
    ByteBuffer slice = b.slice();
    slice.limit(length);
    b.position(b.position() + length);
    return StandardCharsets.UTF_8
        .newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)
        .decode(slice)
        .toString();
  }

  static String commonName(X509Certificate cert) {
    try {
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if ("CN".equalsIgnoreCase(rdn.getType())) {
          return String.valueOf(rdn.getValue());
        }
      }
    } catch (InvalidNameException e) {
      LOG.debug("unreadable certificate subject: {}", e.toString());
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------------
  // Transmission

  private record Request(int flags, int type, long cookie, long offset, long length) {}

  private record Refusal(int errno, String message) {}

  private void transmit() throws IOException {
    byte[] discard = null;
    while (true) {
      int magic = in.readInt();
      if (magic != REQUEST_MAGIC) {
        throw new ProtocolViolation("bad request magic 0x" + Integer.toHexString(magic));
      }
      int flags = in.readUnsignedShort();
      int type = in.readUnsignedShort();
      long cookie = in.readLong();
      long offset = in.readLong();
      long length = Integer.toUnsignedLong(in.readInt());
      Request r = new Request(flags, type, cookie, offset, length);
      if (type == CMD_DISC) {
        endReason = "client disconnected";
        return;
      }
      if (type == CMD_WRITE) {
        if (length > limits.maxPayloadBytes()) {
          // Consumed through a small buffer, never allocated: the session goes on.
          if (discard == null) {
            discard = new byte[IO_BUFFER];
          }
          for (long left = length; left > 0; ) {
            int n = (int) Math.min(left, discard.length);
            in.readFully(discard, 0, n);
            left -= n;
          }
          replyError(r, EINVAL, "write of " + length + " bytes exceeds the maximum payload");
          continue;
        }
        acquire(length);
        byte[] data;
        try {
          data = new byte[(int) length];
          in.readFully(data);
        } catch (IOException | RuntimeException e) {
          release(length);
          throw e;
        }
        Refusal refusal = check(r);
        if (refusal != null) {
          release(length);
          replyError(r, refusal.errno(), refusal.message());
          continue;
        }
        submit(r, data, length);
        continue;
      }
      Refusal refusal = check(r);
      if (refusal != null) {
        replyError(r, refusal.errno(), refusal.message());
        continue;
      }
      long bytes = type == CMD_READ ? length : 0;
      acquire(bytes);
      submit(r, null, bytes);
    }
  }

  private Refusal check(Request r) {
    int allowed;
    String name;
    switch (r.type()) {
      case CMD_READ -> {
        allowed = structured ? CMD_FLAG_DF : 0;
        name = "READ";
      }
      case CMD_WRITE -> {
        allowed = CMD_FLAG_FUA;
        name = "WRITE";
      }
      case CMD_FLUSH -> {
        allowed = CMD_FLAG_FUA;
        name = "FLUSH";
      }
      case CMD_TRIM -> {
        allowed = CMD_FLAG_FUA;
        name = "TRIM";
      }
      case CMD_WRITE_ZEROES -> {
        allowed = CMD_FLAG_FUA | CMD_FLAG_NO_HOLE;
        name = "WRITE_ZEROES";
      }
      case CMD_BLOCK_STATUS -> {
        allowed = CMD_FLAG_REQ_ONE;
        name = "BLOCK_STATUS";
      }
      default -> {
        return new Refusal(EINVAL, "unknown command " + r.type());
      }
    }
    if ((r.flags() & ~allowed) != 0) {
      return new Refusal(
          EINVAL, "flags 0x" + Integer.toHexString(r.flags()) + " are not valid for " + name);
    }
    boolean writes = r.type() == CMD_WRITE || r.type() == CMD_TRIM || r.type() == CMD_WRITE_ZEROES;
    if (writes && readOnly) {
      return new Refusal(EPERM, "export " + exportName + " is read-only");
    }
    if (r.type() == CMD_READ && r.length() > limits.maxPayloadBytes()) {
      return new Refusal(
          EINVAL,
          "read of "
              + r.length()
              + " bytes exceeds the maximum payload "
              + limits.maxPayloadBytes());
    }
    if (r.type() == CMD_BLOCK_STATUS) {
      if (!structured || !metaAllocation) {
        return new Refusal(EINVAL, "BLOCK_STATUS needs the base:allocation metadata context");
      }
      if (r.length() == 0) {
        return new Refusal(EINVAL, "BLOCK_STATUS of length 0");
      }
    }
    if (r.type() != CMD_FLUSH
        && (r.offset() < 0 || r.offset() > size || r.length() > size - r.offset())) {
      boolean write = r.type() == CMD_WRITE || r.type() == CMD_WRITE_ZEROES;
      return new Refusal(
          write ? ENOSPC : EINVAL,
          name
              + " of "
              + r.length()
              + " bytes at "
              + Long.toUnsignedString(r.offset())
              + " is beyond the end of the export ("
              + size
              + " bytes)");
    }
    return null;
  }

  private void acquire(long bytes) throws IOException {
    synchronized (budget) {
      try {
        while (!aborted
            && (inFlight >= limits.maxRequestsInFlight()
                || (inFlight > 0 && bytesInFlight + bytes > limits.maxBytesInFlight()))) {
          budget.wait();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted");
      }
      if (aborted) {
        throw new IOException("connection closed");
      }
      inFlight++;
      bytesInFlight += bytes;
    }
  }

  private void release(long bytes) {
    synchronized (budget) {
      inFlight--;
      bytesInFlight -= bytes;
      budget.notifyAll();
    }
  }

  /** Waits (bounded) until the requests in flight have finished. */
  private void awaitDrained() {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(NbdServer.CLOSE_WAIT_MS);
    synchronized (budget) {
      while (inFlight > 0) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          LOG.warn("NBD connection #{}: {} requests still running at close", id, inFlight);
          return;
        }
        try {
          budget.wait(left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  /** In-flight counters (requests, bytes), for tests. */
  long[] inFlight() {
    synchronized (budget) {
      return new long[] {inFlight, bytesInFlight};
    }
  }

  private void submit(Request r, byte[] data, long bytes) {
    try {
      workers.execute(() -> serve(r, data, bytes));
    } catch (RejectedExecutionException e) {
      release(bytes);
      replyError(r, ESHUTDOWN, "the server is shutting down");
    }
  }

  private void serve(Request r, byte[] data, long bytes) {
    try {
      BlockDevice d = device;
      boolean fua = (r.flags() & CMD_FLAG_FUA) != 0;
      switch (r.type()) {
        case CMD_READ -> read(d, r);
        case CMD_WRITE -> {
          if (data.length > 0) {
            d.write(r.offset(), data, fua);
          }
          replyOk(r);
        }
        case CMD_FLUSH -> {
          d.flush();
          replyOk(r);
        }
        case CMD_TRIM -> {
          if (r.length() > 0) {
            d.trim(r.offset(), r.length(), fua);
          }
          replyOk(r);
        }
        case CMD_WRITE_ZEROES -> {
          if (r.length() > 0) {
            d.writeZeroes(r.offset(), r.length(), (r.flags() & CMD_FLAG_NO_HOLE) != 0, fua);
          }
          replyOk(r);
        }
        case CMD_BLOCK_STATUS -> blockStatus(d, r);
        default -> replyError(r, EINVAL, "unknown command " + r.type());
      }
    } catch (BlockIoException e) {
      replyError(r, e.kind().errno, e.getMessage());
    } catch (IOException | RuntimeException e) {
      LOG.debug("NBD connection #{}: request failed", id, e);
      replyError(r, EIO, "I/O error: " + e.getMessage());
    } catch (OutOfMemoryError e) {
      // Memory ran out below the device (e.g. a replica link's direct buffers): the request is
      // still answered, or the client would wait for it for ever.
      LOG.error("NBD connection #{}: request failed: {}", id, e.toString());
      replyError(r, EIO, "out of memory: " + e.getMessage());
    } finally {
      synchronized (budget) {
        served++;
      }
      release(bytes);
    }
  }

  private void read(BlockDevice d, Request r) throws IOException {
    int len = (int) r.length();
    if (len == 0) {
      if (structured) {
        send(o -> chunkHeader(o, REPLY_FLAG_DONE, REPLY_TYPE_NONE, r.cookie(), 0));
      } else {
        replyOk(r);
      }
      return;
    }
    byte[] data = d.read(r.offset(), len);
    if (data == null || data.length != len) {
      throw new BlockIoException(
          BlockIoException.Kind.IO,
          "the device returned "
              + (data == null ? "nothing" : data.length + " bytes")
              + " for a read of "
              + len);
    }
    if (!structured) {
      send(
          o -> {
            o.writeInt(SIMPLE_REPLY_MAGIC);
            o.writeInt(0);
            o.writeLong(r.cookie());
            o.write(data);
          });
      return;
    }
    List<long[]> holes = (r.flags() & CMD_FLAG_DF) != 0 ? List.of() : holes(d, r.offset(), data);
    // Chunks in order: data between the holes, each hole as a hole chunk; the last one is DONE.
    List<long[]> chunks = new ArrayList<>(); // {start, length, isHole}
    long pos = 0;
    for (long[] h : holes) {
      if (h[0] > pos) {
        chunks.add(new long[] {pos, h[0] - pos, 0});
      }
      chunks.add(new long[] {h[0], h[1], 1});
      pos = h[0] + h[1];
    }
    if (pos < len) {
      chunks.add(new long[] {pos, len - pos, 0});
    }
    send(
        o -> {
          for (int i = 0; i < chunks.size(); i++) {
            long[] c = chunks.get(i);
            int flags = i == chunks.size() - 1 ? REPLY_FLAG_DONE : 0;
            if (c[2] == 1) {
              chunkHeader(o, flags, REPLY_TYPE_OFFSET_HOLE, r.cookie(), 12);
              o.writeLong(r.offset() + c[0]);
              o.writeInt((int) c[1]);
            } else {
              chunkHeader(o, flags, REPLY_TYPE_OFFSET_DATA, r.cookie(), 8 + (int) c[1]);
              o.writeLong(r.offset() + c[0]);
              o.write(data, (int) c[0], (int) c[1]);
            }
          }
        });
  }

  /**
   * The runs of the read range the device maps as holes and that did read as zeros (a write racing
   * the map is then sent as data), as {start within the range, length}. Empty when the map fails.
   */
  private List<long[]> holes(BlockDevice d, long offset, byte[] data) {
    List<long[]> holes = new ArrayList<>();
    long pos = 0;
    try {
      for (int calls = 0; pos < data.length && calls < 64; calls++) {
        List<BlockDevice.Extent> extents = d.map(offset + pos, data.length - pos);
        if (extents == null || extents.isEmpty()) {
          break;
        }
        for (BlockDevice.Extent e : extents) {
          if (e.length() <= 0 || pos >= data.length) {
            return holes;
          }
          long n = Math.min(e.length(), data.length - pos);
          if (e.hole() && allZero(data, (int) pos, (int) n)) {
            long[] last = holes.isEmpty() ? null : holes.get(holes.size() - 1);
            if (last != null && last[0] + last[1] == pos) {
              last[1] += n;
            } else {
              holes.add(new long[] {pos, n});
            }
          }
          pos += n;
        }
      }
    } catch (IOException | RuntimeException e) {
      LOG.debug("NBD connection #{}: map failed, the read is sent as data: {}", id, e.toString());
      return List.of();
    }
    // A hole chunk costs 32 bytes: smaller holes go as data.
    holes.removeIf(h -> h[1] < MIN_HOLE_CHUNK);
    return holes;
  }

  private static boolean allZero(byte[] b, int from, int length) {
    for (int i = from, end = from + length; i < end; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }

  private void blockStatus(BlockDevice d, Request r) throws IOException {
    boolean one = (r.flags() & CMD_FLAG_REQ_ONE) != 0;
    List<BlockDevice.Extent> extents = d.map(r.offset(), r.length());
    List<long[]> descriptors = new ArrayList<>(); // {length, status}
    long covered = 0;
    if (extents != null) {
      for (BlockDevice.Extent e : extents) {
        if (e.length() <= 0 || covered >= r.length()) {
          break;
        }
        long n = Math.min(e.length(), r.length() - covered);
        int status = e.hole() ? STATE_HOLE | STATE_ZERO : 0;
        long[] last = descriptors.isEmpty() ? null : descriptors.get(descriptors.size() - 1);
        if (last != null && last[1] == status) {
          last[0] += n;
        } else if (descriptors.size() < MAX_DESCRIPTORS) {
          descriptors.add(new long[] {n, status});
        } else {
          break;
        }
        covered += n;
      }
    }
    if (descriptors.isEmpty()) {
      throw new BlockIoException(
          BlockIoException.Kind.IO, "the device mapped nothing at " + r.offset());
    }
    List<long[]> send = one ? descriptors.subList(0, 1) : descriptors;
    send(
        o -> {
          chunkHeader(o, REPLY_FLAG_DONE, REPLY_TYPE_BLOCK_STATUS, r.cookie(), 4 + 8 * send.size());
          o.writeInt(BASE_ALLOCATION_ID);
          for (long[] desc : send) {
            o.writeInt((int) desc[0]);
            o.writeInt((int) desc[1]);
          }
        });
  }

  private void replyOk(Request r) {
    send(
        o -> {
          o.writeInt(SIMPLE_REPLY_MAGIC);
          o.writeInt(0);
          o.writeLong(r.cookie());
        });
  }

  private void replyError(Request r, int errno, String message) {
    if (structured) {
      byte[] m = text(message);
      send(
          o -> {
            chunkHeader(o, REPLY_FLAG_DONE, REPLY_TYPE_ERROR, r.cookie(), 6 + m.length);
            o.writeInt(errno);
            o.writeShort(m.length);
            o.write(m);
          });
    } else {
      send(
          o -> {
            o.writeInt(SIMPLE_REPLY_MAGIC);
            o.writeInt(errno);
            o.writeLong(r.cookie());
          });
    }
  }

  private static void chunkHeader(DataOutputStream o, int flags, int type, long cookie, int length)
      throws IOException {
    o.writeInt(STRUCTURED_REPLY_MAGIC);
    o.writeShort(flags);
    o.writeShort(type);
    o.writeLong(cookie);
    o.writeInt(length);
  }

  private interface Reply {
    void writeTo(DataOutputStream out) throws IOException;
  }

  /** Writes one whole reply; a failed write ends the connection (the client is gone). */
  private void send(Reply reply) {
    synchronized (writeLock) {
      if (broken) {
        return;
      }
      try {
        reply.writeTo(out);
        out.flush();
      } catch (IOException | RuntimeException e) {
        broken = true;
        LOG.debug("NBD connection #{}: reply failed: {}", id, e.toString());
        abort();
      }
    }
  }
}
