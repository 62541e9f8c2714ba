"""Every error Tally raises has a problem type, and the HTTP status its class hints is the one served."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import anchoring
import api
import ledger
import tally
from api.problems import PROBLEM_TYPES, problem_body
from ledger.errors import EXIT_CODES, ErrorCategory, ExitCode, TallyError


def _every_error_class() -> list[type[TallyError]]:
    for package in (ledger, anchoring, api, tally):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" not in module.name and not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    found: list[type[TallyError]] = []
    stack: list[type[TallyError]] = [TallyError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__qualname__}")


ERRORS = _every_error_class()


def test_the_walk_finds_the_errors_of_every_layer() -> None:
    modules = {cls.__module__.split(".")[0] for cls in ERRORS}
    assert {"ledger", "anchoring", "api", "tally"} <= modules
    assert len(ERRORS) > 40


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_each_error_has_a_registered_problem_type_with_its_status(cls: type[TallyError]) -> None:
    problem = PROBLEM_TYPES.get(cls.code)
    assert problem is not None, f"{cls.__qualname__}.code {cls.code!r} is not a registered problem type"
    assert problem.status == cls.status, f"{cls.__qualname__}: {cls.status}, /problems/{cls.code}: {problem.status}"
    assert cls.category in EXIT_CODES


def test_a_rendered_problem_carries_the_error_s_extensions() -> None:
    from ledger.intake import DuplicateContributionError

    body = problem_body(DuplicateContributionError(7), "/v1/contributions")
    assert body == {"type": "/problems/duplicate-contribution", "title": "Already contributed", "status": 409,
                    "detail": "this conversation was already contributed as contribution 7",
                    "instance": "/v1/contributions", "existing": 7}


def test_exit_codes_follow_the_category() -> None:
    from anchoring.chain import ChainUnavailableError
    from ledger.conversation import UnknownFormatError

    assert ChainUnavailableError("down").exit_code == ExitCode.UNAVAILABLE == 3
    assert UnknownFormatError("?").exit_code == ExitCode.BAD_INPUT == 2
    assert EXIT_CODES[ErrorCategory.VERIFICATION] == ExitCode.VERIFICATION_FAILED == 1
