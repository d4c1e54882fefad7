"""The committed contract is the served one, and every operation is fully documented."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

import app.schemas
from app.contract import CONTRACT_PATH, render, served_contract
from app.schemas.common import ApiModel


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    return served_contract()


def _operations(contract: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in contract["paths"].items()
        for method, operation in item.items()
    ]


def test_served_schema_matches_the_committed_contract(served: dict[str, Any]) -> None:
    committed = CONTRACT_PATH.read_text(encoding="utf-8")
    assert render(served) == committed, (
        "openapi.json drifted from the code: run `make openapi`, review and commit the diff"
    )


def test_every_operation_has_id_summary_tag_and_problem_responses(served: dict[str, Any]) -> None:
    ids = []
    for method, path, operation in _operations(served):
        ids.append(operation["operationId"])
        assert operation.get("summary"), f"{method} {path} has no summary"
        assert operation.get("tags"), f"{method} {path} has no tag"
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (method, path)
        if path.startswith("/v1/") and not path.startswith("/v1/tracking/"):
            assert "401" in operation["responses"], f"{method} {path} does not document 401"
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_no_framework_validation_schema_is_served(served: dict[str, Any]) -> None:
    text = json.dumps(served)
    assert "HTTPValidationError" not in text


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return own + [
            p for key, value in node.items() if key != "pattern" for p in _patterns(value)
        ]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


# Class escapes that ECMA-262 (how JSON Schema, and so every client of the contract, reads a
# pattern) and Python or pydantic (how the API checks it) read differently: `\s` (U+001C–U+001F,
# U+0085, U+FEFF), `\d` and `\w` (ASCII against Unicode), `\b` (built on `\w`).
_AMBIGUOUS = re.compile(r"(?<!\\)(?:\\\\)*\\[sSdDwWbB]")


def test_every_pattern_means_the_same_to_the_api_and_its_clients(served: dict[str, Any]) -> None:
    patterns = _patterns(served)
    assert len(patterns) > 10
    assert [p for p in patterns if _AMBIGUOUS.search(p)] == []


def _request_models() -> list[type[Any]]:
    """Every request model: ``ApiModel``'s subclasses, once every schema module is loaded."""
    for module in pkgutil.iter_modules(app.schemas.__path__):
        importlib.import_module(f"app.schemas.{module.name}")
    found: list[type[Any]] = []
    pending: list[type[Any]] = [ApiModel]
    while pending:
        for subclass in pending.pop().__subclasses__():
            found.append(subclass)
            pending.append(subclass)
    return found


def _kinds(annotation: Any) -> set[Any]:
    """The types a field takes, out of its optional and annotated wrappings."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _kinds(typing.get_args(annotation)[0])
    arguments = typing.get_args(annotation)
    if arguments and typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set().union(*(_kinds(argument) for argument in arguments))
    return {annotation}


def _refused_by_every_field(
    takes: Callable[[set[Any]], bool], loose: tuple[Any, ...], kept: tuple[Any, ...] = ()
) -> int:
    """Check that every request model's field whose kinds ``takes`` refuses each ``loose``
    value and keeps each ``kept`` one as it is; how many fields were checked."""
    checked = 0
    for model in _request_models():
        for name, field in model.model_fields.items():
            if not takes(_kinds(field.annotation)):
                continue
            checked += 1
            adapter = TypeAdapter(field.rebuild_annotation())
            for value in kept:
                assert adapter.validate_python(value) is value
            for value in loose:
                with pytest.raises(ValidationError):
                    adapter.validate_python(value)
                    pytest.fail(f"{model.__name__}.{name} took {value!r}")
    return checked


def test_every_boolean_a_request_carries_is_a_json_boolean_only() -> None:
    """The contract's `boolean` takes true and false: pydantic's lax mode would also take 0, 1
    and words such as "yes" (contract fuzzing found `contact_consent: 0` accepted)."""
    checked = _refused_by_every_field(
        lambda kinds: bool in kinds, (0, 1, "true", "yes"), kept=(True,)
    )
    assert checked >= 22  # every request model's flags, found through ApiModel's subclasses


def test_every_date_a_request_carries_is_text_never_seconds_since_1970() -> None:
    """The contract's `date` and `date-time` are RFC 3339 text: pydantic would also read a
    number, or digits, as seconds since 1970 ("20260101" as 1970-08-23; contract fuzzing found
    `updated_after=0.5` accepted)."""
    checked = _refused_by_every_field(
        lambda kinds: bool(kinds & {date, datetime}), (0, 0.5, "0.5", "20260101")
    )
    assert checked >= 8


def test_every_number_a_request_carries_is_a_json_number_only() -> None:
    """The contract's `number` and `integer` take numbers: pydantic's lax mode would also read
    `true` as 1 and "3" as 3 (contract fuzzing found `false` taken for a tolerance limit)."""
    checked = _refused_by_every_field(
        lambda kinds: bool(kinds & {int, float}) and not kinds & {bool, str}, (True, "3")
    )
    assert checked >= 45


def test_an_operation_that_answers_428_requires_if_match(served: dict[str, Any]) -> None:
    """428 Precondition Required is the answer to a missing If-Match: the contract must then
    call the header required (contract fuzzing found the PUT of a tolerance profile calling it
    optional)."""
    answering_428 = [
        (method, path, operation)
        for method, path, operation in _operations(served)
        if "428" in operation.get("responses", {})
    ]
    assert answering_428
    for method, path, operation in answering_428:
        if_match = [p for p in operation.get("parameters", []) if p["name"] == "If-Match"]
        assert if_match and if_match[0]["required"] is True, (method, path)
