package io.mycnet.storage.agent.data;

import io.mycnet.storage.api.v1.ReplicaReport;

/** Where the data port's reports of integrity faults go (the agent's session). */
@FunctionalInterface
public interface ReplicaReporter {
  void report(ReplicaReport r);
}
