package io.mycnet.storage.agent.support;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;

/**
 * Logs a repeated failure once: a WARN when a category's message changes, DEBUG while it repeats
 * (every retry of a refused join or a failing connection would otherwise log a line).
 */
public final class LogOnce {
  private final Logger log;
  private final Map<String, String> last = new ConcurrentHashMap<>();

  public LogOnce(Logger log) {
    this.log = log;
  }

  public void warn(String category, String message) {
    String prev = last.put(category, message);
    if (!message.equals(prev)) {
      log.warn("{} (repeats of this are not logged; retrying with backoff)", message);
    } else {
      log.debug("again: {}", message);
    }
  }

  public void clear(String category) {
    last.remove(category);
  }
}
