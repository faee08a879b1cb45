"""Which release a rollback returns to, from the newest-first history alone."""

from __future__ import annotations

from smartstack.pipeline.ledger import Attempt, live_attempt
from smartstack.pipeline.promotion import rollback_target


def attempt(release: str, outcome: str = "succeeded", kind: str = "deploy") -> Attempt:
    return Attempt("dev", release, "alice", outcome=outcome, kind=kind, versions={"api": release})


def target(*history: Attempt) -> str | None:
    found = rollback_target(list(history))
    return found.release if found else None


def test_the_release_before_the_current_one() -> None:
    assert target(attempt("r2"), attempt("r1"), attempt("r0")) == "r1"


def test_failed_and_rolled_back_attempts_never_count() -> None:
    history = (attempt("r3", "rolled back"), attempt("r2"), attempt("r9", "failed"), attempt("r1"))
    assert target(*history) == "r1"


def test_a_second_rollback_goes_further_back_not_to_the_abandoned_release() -> None:
    history = (attempt("r1", kind="rollback"), attempt("r2"), attempt("r1"), attempt("r0"))
    assert target(*history) == "r0"


def test_a_redeploy_of_an_older_release_rolls_back_to_the_one_it_replaced() -> None:
    assert target(attempt("r1"), attempt("r2"), attempt("r1"), attempt("r0")) == "r2"


def test_nothing_to_go_back_to() -> None:
    assert target() is None
    assert target(attempt("r1")) is None
    assert target(attempt("r1"), attempt("r1")) is None


def test_a_rotation_is_neither_live_nor_a_target() -> None:
    rotation = attempt("r2", kind="rotation")
    assert target(rotation, attempt("r2"), attempt("r1")) == "r1"
    assert target(attempt("r2"), rotation, attempt("r1")) == "r1"
    live = attempt("r1")
    assert live_attempt([rotation, live]) is live
