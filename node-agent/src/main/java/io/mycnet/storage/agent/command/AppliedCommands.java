package io.mycnet.storage.agent.command;

import io.mycnet.storage.agent.support.DurableFiles;
import io.mycnet.storage.api.v1.CommandResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The ids of the commands this agent applied, with their results, in an append-only log on disk
 * ({@code state/applied-commands.log}, fsync'd per entry). A command delivered again (after a
 * reconnect or a restart, before the control plane got the result) is answered with the remembered
 * result and not applied a second time.
 *
 * <p>The control plane deletes a command from the queue once it has its result, so only recent ids
 * can come back: the log keeps the last {@link #KEEP} entries and is compacted when it doubles.
 */
public final class AppliedCommands implements AutoCloseable {
  static final int KEEP = 10_000;
  private final Path file;
  private final Map<String, CommandResult> results = new LinkedHashMap<>();
  private FileChannel log;
  private int lines;

  private AppliedCommands(Path file) {
    this.file = file;
  }

  public static AppliedCommands open(Path dataDir) {
    AppliedCommands a =
        new AppliedCommands(dataDir.resolve("state").resolve("applied-commands.log"));
    try {
      Files.createDirectories(a.file.getParent());
      if (Files.exists(a.file)) {
        for (String line : Files.readAllLines(a.file)) {
          String[] p = line.split("\t", -1);
          if (p.length != 3) {
            continue; // a torn last line from a crash: the command was not answered, so it is
            // redone
          }
          a.results.put(
              p[0],
              CommandResult.newBuilder()
                  .setCommandId(p[0])
                  .setOk(p[1].equals("1"))
                  .setMessage(new String(Base64.getDecoder().decode(p[2]), StandardCharsets.UTF_8))
                  .build());
          a.lines++;
        }
      }
      a.log =
          FileChannel.open(
              a.file,
              StandardOpenOption.CREATE,
              StandardOpenOption.WRITE,
              StandardOpenOption.APPEND);
      // Cut a torn last line (crash mid-append) so the next entry starts on a line of its own.
      byte[] all = Files.readAllBytes(a.file);
      int end = all.length;
      while (end > 0 && all[end - 1] != '\n') {
        end--;
      }
      if (end != all.length) {
        a.log.truncate(end);
        a.log.force(true);
      }
    } catch (IOException | IllegalArgumentException e) {
      throw new IllegalStateException("cannot open the applied-command log " + a.file, e);
    }
    return a;
  }

  public synchronized Optional<CommandResult> get(String commandId) {
    return Optional.ofNullable(results.get(commandId));
  }

  public synchronized int size() {
    return results.size();
  }

  /** Records a result durably (returns after fsync). */
  public synchronized void record(CommandResult r) {
    String line =
        r.getCommandId()
            + "\t"
            + (r.getOk() ? "1" : "0")
            + "\t"
            + Base64.getEncoder().encodeToString(r.getMessage().getBytes(StandardCharsets.UTF_8))
            + "\n";
    try {
      log.write(ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8)));
      log.force(false);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the applied-command log " + file, e);
    }
    results.remove(r.getCommandId());
    results.put(r.getCommandId(), r);
    lines++;
    if (lines > 2 * KEEP) {
      compact();
    }
  }

  private void compact() {
    while (results.size() > KEEP) {
      results.remove(results.keySet().iterator().next());
    }
    StringBuilder sb = new StringBuilder();
    for (CommandResult r : results.values()) {
      sb.append(r.getCommandId())
          .append('\t')
          .append(r.getOk() ? "1" : "0")
          .append('\t')
          .append(
              Base64.getEncoder().encodeToString(r.getMessage().getBytes(StandardCharsets.UTF_8)))
          .append('\n');
    }
    try {
      log.close();
      DurableFiles.write(file, sb.toString(), true);
      log = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
      lines = results.size();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot compact the applied-command log " + file, e);
    }
  }

  @Override
  public synchronized void close() {
    try {
      log.close();
    } catch (IOException e) {
      // closing: nothing to do
    }
  }
}
