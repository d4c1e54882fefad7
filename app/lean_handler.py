"""FastAPI's request handling for the API's JSON routes, with its per-route work done once.

For every request FastAPI's handler works out again what never changes for a route: how each
dependency is to be called (coroutine, generator, thread pool, overridden or not), its cache
key, the endpoint's context for error messages, the telemetry hooks, the content type through an
``email.message.Message``. Doing it once took 12 % off a read by id (docs/benchmarks.md,
seventh round).

``lean_handler`` builds, once per route, a handler that does only the per-request part, for the
routes whose shape allows it: a coroutine endpoint with a default JSON response class, whose
dependencies are coroutines that take at most the request (the API key check, the session, the
clock…). It keeps FastAPI's semantics and reuses FastAPI's own validation of path, query, header
and body parameters, so the errors are the same, in the same order. A path, query or header
parameter's request key, error location and whether it takes repeated values are worked out
once, with FastAPI's own helpers (``_Param``); a parameter they cannot describe simply (a model
of parameters, alias choices, a JSON value) goes through FastAPI's ``request_params_to_args``:

1. the body is read and parsed: malformed JSON is a 422 ``json_invalid`` error, an unreadable
   body a 400; a body whose content type is not JSON is handed over as bytes;
2. the dependencies run in declaration order (the API key's 401 and 403 come before any
   parameter's 422);
3. the parameters and the body are validated and every error reported together (a query
   string the route validated before is not validated again: its values are kept,
   ``_QueryValues``);
4. the endpoint's return value is validated and serialised by the route's response model,
   with the status code and headers the endpoint set on its ``Response`` parameter.

Any other shape (a ``def`` endpoint, a generator dependency, cookies, background tasks, a
streamed or custom response class) gets ``None`` and stays on FastAPI's handler, as does every
request while ``app.dependency_overrides`` holds anything. ``tests/api/test_lean_handler.py``
sends the same requests through both handlers and compares the responses.
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from copy import deepcopy
from datetime import date, time
from decimal import Decimal
from enum import Enum
from typing import Any

from fastapi import Request, Response, params
from fastapi import routing as fastapi_routing
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_body_to_args, request_params_to_args
from fastapi.exceptions import HTTPException, RequestValidationError, ResponseValidationError
from fastapi.routing import APIRoute
from fastapi.utils import is_body_allowed_for_status_code
from pydantic_core import PydanticUndefined
from starlette.datastructures import Headers, ImmutableMultiDict

try:  # FastAPI's helpers for a parameter's request key and shape: private, so looked up
    # defensively; without them every parameter goes through ``request_params_to_args``.
    from fastapi._compat import ModelField, field_annotation_is_sequence, get_missing_field_error
    from fastapi.dependencies.utils import _get_param_aliases, _get_param_model, _is_json_field
except ImportError:  # pragma: no cover — a FastAPI release that moved them
    PLANNED_PARAMETERS = False
else:
    PLANNED_PARAMETERS = True

# FastAPI's context variable holding the included version of the route being built: private,
# so looked up defensively; without it every route keeps FastAPI's handler (a test fails then).
_INCLUDED_ROUTE: ContextVar[Any] | None = getattr(
    fastapi_routing, "_effective_route_context_var", None
)

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# A route's path, query or header parameters' values and errors from a request.
Extractor = Callable[[Request], tuple[dict[str, Any], list[Any]]]


_IMMUTABLE = (type(None), bool, int, float, str, bytes, Enum)


class _Param:
    """A path, query or header parameter, with what FastAPI works out for it on every request
    (its request key and error location, whether it takes repeated values) worked out once."""

    __slots__ = (
        "field", "name", "key", "loc", "repeated", "required", "default", "validated", "copied",
    )  # fmt: skip

    def __init__(self, field: ModelField) -> None:
        [(_, key)] = _get_param_aliases(field)
        info = field.field_info
        assert isinstance(info, params.Param)
        self.field = field
        self.name = field.name
        self.key = key
        self.loc = (info.in_.value, key)
        self.repeated = field_annotation_is_sequence(info.annotation)
        self.required = info.is_required()
        self.default = field.default
        self.validated = bool(info.validate_default)
        # FastAPI deep-copies a missing parameter's default on every request; only a mutable
        # one needs it (a list endpoint's dozen absent filters are None).
        self.copied = not isinstance(self.default, _IMMUTABLE)


def _plan(fields: list[ModelField]) -> tuple[_Param, ...] | None:
    """The parameters' plans, or None when one needs FastAPI's general extraction (a model of
    parameters, alias choices, a JSON-encoded value)."""
    if not PLANNED_PARAMETERS:
        return None
    for field in fields:
        if (
            _get_param_model(field) is not None
            or _is_json_field(field)
            or len(_get_param_aliases(field)) != 1
        ):
            return None
    return tuple(_Param(field) for field in fields)


def _extract(plan: tuple[_Param, ...], received: Any) -> tuple[dict[str, Any], list[Any]]:
    """What ``request_params_to_args`` does, only the per-request part."""
    values: dict[str, Any] = {}
    errors: list[Any] = []
    multi = isinstance(received, ImmutableMultiDict | Headers)
    for param in plan:
        value = received.getlist(param.key) if param.repeated and multi else received.get(param.key)
        if value is None or (param.repeated and len(value) == 0):
            if param.required:
                errors.append(get_missing_field_error(loc=param.loc))
                continue
            value = deepcopy(param.default) if param.copied else param.default
            if not param.validated:
                values[param.name] = value
                continue
        checked, field_errors = param.field.validate(value, values, loc=param.loc)
        if field_errors:
            errors.extend(field_errors)
        else:
            values[param.name] = checked
    return values, errors


# How many of a route's query strings, and how long ones, ``_QueryValues`` keeps.
QUERIES_KEPT = 256
LONGEST_QUERY_KEPT = 1024
# The values a kept query string's parameters may have (a list of them is copied for each
# request): none can be changed by the endpoint that receives it (a datetime is a date).
_KEPT_TYPES = (*_IMMUTABLE, uuid.UUID, date, time, Decimal)


class _QueryValues:
    """A route's query parameters' values from a query string it has validated before.

    A list page's dozen filters are validated one by one on every request (parsing the query
    string, a pydantic validation a parameter): ≈ 8 % of a PostgreSQL list page's instructions
    (docs/benchmarks.md, twenty-fifth round), for the same few query strings again and again
    (a counter's screen of ready watches, a boutique's poll of its orders). The values validated
    from a query string depend on it alone (the plan is the route's), so those of a query
    string that passed are kept, up to ``QUERIES_KEPT`` a route, the oldest making room; an
    invalid one, a very long one or one whose values could be changed by the endpoint is
    validated every time. A kept list (repeated parameters) is copied for each request.
    A query parameter's validation must therefore depend on its text alone: a check against
    the clock or the database belongs in the endpoint or the domain, never in its type.
    """

    __slots__ = ("plan", "kept")

    def __init__(self, plan: tuple[_Param, ...]) -> None:
        self.plan = plan
        self.kept: dict[bytes, tuple[dict[str, Any], tuple[str, ...]]] = {}

    def __call__(self, request: Request) -> tuple[dict[str, Any], list[Any]]:
        query: bytes = request.scope.get("query_string", b"")
        kept = self.kept.get(query)
        if kept is None:
            values, errors = _extract(self.plan, request.query_params)
            if errors or len(query) > LONGEST_QUERY_KEPT or not _keepable(values):
                return values, errors
            if len(self.kept) >= QUERIES_KEPT:
                del self.kept[next(iter(self.kept))]
            lists = tuple(name for name, value in values.items() if type(value) is list)
            kept = self.kept[query] = (values, lists)
        values, lists = kept
        values = dict(values)
        for name in lists:
            values[name] = list(values[name])
        return values, []


def _keepable(values: dict[str, Any]) -> bool:
    """Whether no value (nor item of a list) can be changed by the endpoint."""
    return all(
        all(isinstance(item, _KEPT_TYPES) for item in value)
        if type(value) is list
        else isinstance(value, _KEPT_TYPES)
        for value in values.values()
    )


def _extractor(fields: list[ModelField], source: str) -> Extractor:
    """How a request's path, query or header parameters are validated for a route."""
    plan = _plan(fields)
    if plan is None:
        return lambda request: request_params_to_args(fields, getattr(request, source))
    if source == "query_params":
        return _QueryValues(plan)
    return lambda request: _extract(plan, getattr(request, source))


# A dependency as the lean handler calls it: its parameter name in the endpoint (None for a
# route's ``dependencies=[...]``), the callable, the name under which it takes the request.
_Dependency = tuple[str | None, Callable[..., Any], str | None]


def effective_route(route: APIRoute) -> Any:
    """The route FastAPI is building a handler for. When an application includes a router,
    FastAPI builds each route's handler again for the inclusion (its prefix, dependencies and
    dependency overrides), handing the included version over through a context variable while
    it calls ``get_route_handler``."""
    context = _INCLUDED_ROUTE.get() if _INCLUDED_ROUTE is not None else None
    if context is not None and getattr(context, "original_route", None) is route:
        return context
    return route


def lean_handler(route: Any) -> Handler | None:
    """A handler for ``route`` (an ``APIRoute`` or its included version) doing only the
    per-request work, or None when the route's shape needs FastAPI's general handler."""
    dependant = route.dependant
    if not _supported(route, dependant):
        return None
    dependencies = _dependencies(dependant.dependencies)
    endpoint = dependant.call
    assert endpoint is not None
    extractors = [
        _extractor(fields, source)
        for fields, source in (
            (dependant.path_params, "path_params"),
            (dependant.query_params, "query_params"),
            (dependant.header_params, "headers"),
        )
        if fields
    ]
    body_params = dependant.body_params
    embed_body_fields = _embed_body_fields(route)
    request_name = dependant.request_param_name
    response_name = dependant.response_param_name
    response_field = route.response_field
    status_code = route.status_code
    serialise = {
        "include": route.response_model_include,
        "exclude": route.response_model_exclude,
        "by_alias": route.response_model_by_alias,
        "exclude_unset": route.response_model_exclude_unset,
        "exclude_defaults": route.response_model_exclude_defaults,
        "exclude_none": route.response_model_exclude_none,
    }

    async def handle(request: Request) -> Response:
        body = await _json_body(request) if body_params else PydanticUndefined
        values: dict[str, Any] = {}
        for name, call, takes_request_as in dependencies:
            value = await (call(**{takes_request_as: request}) if takes_request_as else call())
            if name is not None:
                values[name] = value
        errors: list[Any] = []
        for extract in extractors:
            params, params_errors = extract(request)
            values.update(params)
            errors.extend(params_errors)
        if body_params:
            body_values, body_errors = await request_body_to_args(
                body_params, body, embed_body_fields
            )
            values.update(body_values)
            errors.extend(body_errors)
        if errors:
            raise RequestValidationError(errors, body=None if body is PydanticUndefined else body)
        if request_name:
            values[request_name] = request
        # The endpoint's ``Response`` parameter, made only for an endpoint that takes one: the
        # headers and status code it sets are copied onto the response (FastAPI starts it
        # without a status code and a content length).
        sub_response = None
        if response_name:
            sub_response = Response()
            del sub_response.headers["content-length"]
            sub_response.status_code = None  # type: ignore[assignment]
            values[response_name] = sub_response
        returned = await endpoint(**values)
        if isinstance(returned, Response):
            return returned
        if response_field is None:
            # Not reached by the API's routes, which all declare their response model.
            raise TypeError(f"{route.path}: an endpoint without a response model")
        value, response_errors = response_field.validate(returned, {}, loc=("response",))
        if response_errors:
            raise ResponseValidationError(errors=response_errors, body=returned)
        set_code = sub_response.status_code if sub_response is not None else None
        code = set_code or status_code or 200
        response = Response(
            content=response_field.serialize_json(value, **serialise),
            media_type="application/json",
            status_code=code,
        )
        if not is_body_allowed_for_status_code(code):
            response.body = b""
        if sub_response is not None:
            response.headers.raw.extend(sub_response.headers.raw)
        return response

    return handle


def _supported(route: Any, dependant: Dependant) -> bool:
    if _INCLUDED_ROUTE is None:
        return False
    if not isinstance(route.response_class, DefaultPlaceholder):
        return False  # a custom or streamed response class
    if not inspect.iscoroutinefunction(dependant.call) or _is_generator(dependant.call):
        return False
    if route.body_field is not None and not _json_body_field(route):
        return False  # a form
    if not isinstance(getattr(route, "_embed_body_fields", None), bool):
        return False  # a FastAPI that no longer works it out the same way
    return not (
        dependant.cookie_params
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.http_connection_param_name
        or dependant.websocket_param_name
        or not all(_plain_dependency(sub) for sub in dependant.dependencies)
        # FastAPI calls a dependency listed twice once per request; none of the API's is.
        or len({id(sub.call) for sub in dependant.dependencies}) < len(dependant.dependencies)
    )


def _plain_dependency(sub: Dependant) -> bool:
    """A coroutine that takes the request or nothing, without dependencies of its own."""
    call = sub.call
    coroutine = inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 — an instance such as the API key check
    )
    return (
        coroutine
        and sub.use_cache
        and sub.concurrency is None
        and not (
            sub.dependencies
            or sub.path_params
            or sub.query_params
            or sub.header_params
            or sub.cookie_params
            or sub.body_params
            or sub.response_param_name
            or sub.background_tasks_param_name
            or sub.security_scopes_param_name
            or sub.http_connection_param_name
            or sub.websocket_param_name
        )
    )


def _dependencies(subs: list[Dependant]) -> tuple[_Dependency, ...]:
    out = []
    for sub in subs:
        assert sub.call is not None
        out.append((sub.name, sub.call, sub.request_param_name))
    return tuple(out)


def _is_generator(call: Any) -> bool:
    return inspect.isasyncgenfunction(call) or inspect.isgeneratorfunction(call)


def _json_body_field(route: Any) -> bool:
    assert route.body_field is not None
    return not isinstance(route.body_field.field_info, params.Form)


def _embed_body_fields(route: Any) -> bool:
    # Whether a single body parameter is read as ``{"name": …}``: FastAPI works it out when it
    # builds the route, and keeps it on a private attribute (checked by ``_supported``).
    embed: bool = route._embed_body_fields
    return embed


async def _json_body(request: Request) -> Any:
    """The request body as FastAPI hands it to validation: parsed when its content type is
    JSON, the bytes otherwise, undefined when empty."""
    try:
        raw = await request.body()
        if not raw:
            return PydanticUndefined
        content_type = request.headers.get("content-type")
        if content_type and _is_json_media_type(content_type):
            return json.loads(raw)
        return raw
    except json.JSONDecodeError as error:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", error.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": error.msg},
                }
            ],
            body=error.doc,
        ) from error
    except HTTPException:
        raise  # the body limit's 413
    except Exception as error:
        raise HTTPException(400, "There was an error parsing the body") from error


def _is_json_media_type(content_type: str) -> bool:
    """``application/json`` or ``application/…+json``, read as ``email.message`` reads a
    Content-Type (parameters dropped, case ignored, anything but one slash is text/plain)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type.count("/") != 1:
        return False
    main, subtype = media_type.split("/")
    return main == "application" and (subtype == "json" or subtype.endswith("+json"))
