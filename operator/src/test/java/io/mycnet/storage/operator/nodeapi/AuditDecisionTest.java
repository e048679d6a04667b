package io.mycnet.storage.operator.nodeapi;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.operator.nodeapi.AuditCoordinator.Answer;
import io.mycnet.storage.operator.nodeapi.AuditCoordinator.Verdict;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The audit's decision over the replicas' answers, each pinned to the (epoch, write sequence) it
 * covers: only answers at the same place are compared, so a replica that is merely behind (or
 * ahead) is never failed.
 */
class AuditDecisionTest {
  static final String GOOD = "aa".repeat(32);
  static final String BAD = "bb".repeat(32);
  static final String OTHER = "cc".repeat(32);

  static Map<String, Answer> answers(Object... nodeAndAnswer) {
    Map<String, Answer> m = new LinkedHashMap<>();
    for (int i = 0; i < nodeAndAnswer.length; i += 2) {
      m.put((String) nodeAndAnswer[i], (Answer) nodeAndAnswer[i + 1]);
    }
    return m;
  }

  static Answer at(long epoch, long sequence, String digest) {
    return Answer.digest(digest, epoch, sequence);
  }

  @Test
  void everyReplicaAtTheSameSequenceWithTheSameDigestAgrees() {
    Verdict v =
        AuditCoordinator.decide(
            answers("p", at(3, 40, GOOD), "f1", at(3, 40, GOOD), "f2", at(3, 40, GOOD)));
    assertThat(v.note()).isEqualTo("all agree");
    assertThat(v.agreeing()).containsExactly("p", "f1", "f2");
    assertThat(v.failed()).isEmpty();
    assertThat(v.inconclusive()).isEmpty();
    assertThat(v.majority()).isEqualTo(at(3, 40, GOOD));
  }

  @Test
  void aReplicaWithAnotherDigestAtTheMajoritysSequenceFails() {
    Verdict v =
        AuditCoordinator.decide(
            answers("p", at(3, 40, GOOD), "f1", at(3, 40, BAD), "f2", at(3, 40, GOOD)));
    assertThat(v.note()).isEqualTo("failed");
    assertThat(v.failed()).containsExactly("f1");
    assertThat(v.agreeing()).containsExactly("p", "f2");
    assertThat(v.inconclusive()).isEmpty();
  }

  @Test
  void aReplicaBehindAtAnotherSequenceIsNotFailedButInconclusive() {
    // An EVENTUAL follower two writes behind: its state differs, and rightly so.
    Verdict v =
        AuditCoordinator.decide(
            answers("p", at(3, 40, GOOD), "f1", at(3, 38, OTHER), "f2", at(3, 40, GOOD)));
    assertThat(v.failed()).isEmpty();
    assertThat(v.inconclusive()).containsExactly("f1");
    assertThat(v.agreeing()).containsExactly("p", "f2");
    assertThat(v.note())
        .startsWith("inconclusive for [f1]")
        .contains("epoch 3 write 40")
        .contains("nothing failed");
  }

  @Test
  void anAnswerAtAnotherEpochIsNotComparedEither() {
    // Same sequence number, but the replica had not learnt the new epoch yet.
    Verdict v =
        AuditCoordinator.decide(
            answers("p", at(4, 40, GOOD), "f1", at(3, 40, OTHER), "f2", at(4, 40, GOOD)));
    assertThat(v.failed()).isEmpty();
    assertThat(v.inconclusive()).containsExactly("f1");
  }

  @Test
  void twoSequencesWithOneAnswerEachAreInconclusiveAndFailNobody() {
    Verdict v = AuditCoordinator.decide(answers("p", at(3, 41, GOOD), "f1", at(3, 40, OTHER)));
    assertThat(v.majority()).isNull();
    assertThat(v.failed()).isEmpty();
    assertThat(v.agreeing()).isEmpty();
    assertThat(v.inconclusive()).containsExactly("p", "f1");
    assertThat(v.note())
        .startsWith("inconclusive for [p, f1]")
        .contains("2 different write sequences");
  }

  @Test
  void threeSequencesOneAnswerEachAreInconclusive() {
    Verdict v =
        AuditCoordinator.decide(
            answers("p", at(3, 42, GOOD), "f1", at(3, 40, OTHER), "f2", at(3, 41, BAD)));
    assertThat(v.majority()).isNull();
    assertThat(v.failed()).isEmpty();
    assertThat(v.inconclusive()).containsExactly("p", "f1", "f2");
  }

  @Test
  void theMajorityCountsEveryAnsweringReplicaNotOnlyThoseAtItsSequence() {
    // Two of five agree at write 40, one disagrees there: 2 is no majority of 5 answers.
    Verdict v =
        AuditCoordinator.decide(
            answers(
                "a", at(3, 40, GOOD),
                "b", at(3, 40, GOOD),
                "c", at(3, 40, BAD),
                "d", at(3, 41, OTHER),
                "e", at(3, 42, OTHER)));
    assertThat(v.majority()).isNull();
    assertThat(v.failed()).isEmpty();
    assertThat(v.inconclusive()).containsExactly("a", "b", "c", "d", "e");
  }

  @Test
  void twoReplicasDisagreeingAtOneSequenceHaveNoMajority() {
    Verdict v = AuditCoordinator.decide(answers("p", at(3, 40, GOOD), "f1", at(3, 40, BAD)));
    assertThat(v.note()).isEqualTo("no majority: nothing failed");
    assertThat(v.failed()).isEmpty();
    assertThat(v.inconclusive()).isEmpty();
  }

  @Test
  void anErrorAnswerFailsWhenAMajorityAgreesAndNotOtherwise() {
    Verdict v =
        AuditCoordinator.decide(
            answers(
                "p",
                at(3, 40, GOOD),
                "f1",
                Answer.error("audit failed: EIO"),
                "f2",
                at(3, 40, GOOD)));
    assertThat(v.failed()).containsExactly("f1");
    // Without a majority at one sequence an error fails nobody.
    Verdict none =
        AuditCoordinator.decide(
            answers(
                "p",
                at(3, 40, GOOD),
                "f1",
                Answer.error("audit failed: EIO"),
                "f2",
                at(3, 41, BAD)));
    assertThat(none.majority()).isNull();
    assertThat(none.failed()).isEmpty();
  }

  @Test
  void theSameDigestAtAnotherSequenceAgreesTheRangeDidNotChangeBetween() {
    // Writes elsewhere in the volume: the audited range is the same at writes 38 and 40.
    Verdict v =
        AuditCoordinator.decide(
            answers("p", at(3, 40, GOOD), "f1", at(3, 38, GOOD), "f2", at(3, 40, GOOD)));
    assertThat(v.note()).isEqualTo("all agree");
    assertThat(v.agreeing()).containsExactly("p", "f1", "f2");
    Verdict two = AuditCoordinator.decide(answers("p", at(3, 41, GOOD), "f1", at(3, 40, GOOD)));
    assertThat(two.note()).isEqualTo("all agree");
    assertThat(two.agreeing()).containsExactly("p", "f1");
  }

  @Test
  void aMajorityOfOneDigestAcrossSequencesFailsNobody() {
    // p and f1 hold the same bytes at different writes; f2 differs at a third: not comparable.
    Verdict v =
        AuditCoordinator.decide(
            answers(
                "p",
                at(3, 42, GOOD),
                "f1",
                at(3, 40, GOOD),
                "f2",
                at(3, 41, BAD),
                "f3",
                Answer.error("EIO")));
    // Two of four answers are no majority.
    assertThat(v.majority()).isNull();
    assertThat(v.failed()).isEmpty();
    assertThat(v.inconclusive()).containsExactly("p", "f1", "f2");
    Verdict three =
        AuditCoordinator.decide(
            answers("p", at(3, 42, GOOD), "f1", at(3, 40, GOOD), "f2", at(3, 41, BAD)));
    assertThat(three.agreeing()).containsExactly("p", "f1");
    assertThat(three.failed()).isEmpty();
    assertThat(three.inconclusive()).containsExactly("f2");
    assertThat(three.note()).startsWith("inconclusive for [f2]").contains("nothing failed");
  }

  @Test
  void agentsThatDoNotPinAnswerAtSequenceZeroAndAreComparedAsBefore() {
    Verdict v =
        AuditCoordinator.decide(
            answers("p", at(0, 0, GOOD), "f1", at(0, 0, BAD), "f2", at(0, 0, GOOD)));
    assertThat(v.failed()).containsExactly("f1");
  }
}
