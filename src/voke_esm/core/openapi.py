"""What /openapi.json tells a person about each operation, beyond the types FastAPI reads.

An operation's docs sit in its decorator, in one call:

    @router.get(
        "/plants/{id}",
        response_model=SandboxPlantRead,
        **documented(
            "Read one sandbox plant",          # the summary the docs list it by
            InvalidUuid, SandboxPlantNotFound, # the errors it answers: types, or instances
            answer=PLANT,                      # the success: a model instance or JSON
        ),
    )

- errors: as `error_responses` (core/errors.py) takes them. A type shows its `example()`; an
  instance, such as `ValidationFailed([{"field": "minutes", "message": ...}])`, shows exactly
  what the service answers when it raises that instance. Either way the example is the error's
  own envelope, so it cannot drift from the service.
- `request`: the body's example (operations that take one); `answer`: the success's. Either is
  one value or `{name: Example(summary, value)}` for several (config/update's result codes).
- A route's own error statuses replace its router's for that status (FastAPI merges by status).

tests/core/test_openapi_docs.py holds every operation to this: a summary, an example of each
body and answer, every example valid against its schema, every error example as the service
answers. `polish_openapi` finishes the document as a whole (no 422s, readable titles).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, get_args

from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from starlette.routing import BaseRoute

from voke_esm.core.errors import ErrorDialect, ErrorExample, PayloadTooLarge, error_responses

JSON = "application/json"
_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Example:
    """One named example: `value` is JSON, a pydantic model, or a list of models."""

    summary: str
    value: Any
    description: str | None = None


def documented(
    summary: str,
    *errors: ErrorExample,
    request: Any = None,
    answer: Any = None,
    status: int = 200,
    dialect: ErrorDialect | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for a route decorator: `summary`, `responses` (the success's examples
    and each error's) and, with a `request`, the body's examples (`openapi_extra`)."""
    responses = error_responses(*errors, dialect=dialect)
    if answer is not None:
        responses[status] = {"content": {JSON: {"examples": as_examples(answer, "Success")}}}
    options: dict[str, Any] = {"summary": summary, "responses": responses}
    if request is not None:
        options["openapi_extra"] = {
            "requestBody": {"content": {JSON: {"examples": as_examples(request, "Request")}}}
        }
    if description is not None:
        options["description"] = description
    return options


def as_examples(examples: Any, default_name: str = "Example") -> dict[str, Any]:
    """An OpenAPI `examples` map of one value or of `{name: Example}`."""
    if not isinstance(examples, Mapping) or not all(
        isinstance(example, Example) for example in examples.values()
    ):
        examples = {default_name: Example(default_name, examples)}
    documented: dict[str, Any] = {}
    for name, example in examples.items():
        entry: dict[str, Any] = {"summary": example.summary, "value": as_json(example.value)}
        if example.description is not None:
            entry["description"] = example.description
        documented[name] = entry
    return documented


def as_json(value: Any) -> Any:
    """An example value as the service would send it: models by their JSON (camelCase) names."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    return value


# The finished document ----------------------------------------------------------------------------

# FastAPI's models of its 422, which this service never sends (CONTRACT §2: a 400).
_FASTAPI_422_SCHEMAS = ("HTTPValidationError", "ValidationError")


def polish_openapi(schema: dict[str, Any], routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """What FastAPI cannot know, applied to its whole document: no 422 (the service answers a
    400 envelope) and no schema of it; a 413 on every operation that takes a body (CONTRACT
    §2); titles a person reads ("Client ID", not "Clientid"); and the examples as declared."""
    _restore_examples(schema, routes)
    _restore_model_examples(schema, routes)
    too_large = error_responses(PayloadTooLarge)[413]
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if "requestBody" in operation:
                responses["413"] = {
                    "description": too_large["description"],
                    "content": {
                        JSON: {
                            "schema": {"$ref": "#/components/schemas/ErrorEnvelope"},
                            **too_large["content"][JSON],
                        }
                    },
                }
            for parameter in operation.get("parameters", []):
                _retitle(parameter.get("schema", {}), parameter["name"])
    components = schema.get("components", {}).get("schemas", {})
    for name in _FASTAPI_422_SCHEMAS:
        components.pop(name, None)
    for component in components.values():
        for name, prop in component.get("properties", {}).items():
            _retitle(prop, name)
    return schema


def _restore_examples(schema: dict[str, Any], routes: Sequence[BaseRoute]) -> None:
    """Put each operation's examples back as its route declares them: FastAPI writes the
    document without nulls (`exclude_none`), even inside an example's value, so that
    `{"reason": null}` would show as `{}` and no longer fit its schema."""
    for route in iter_route_contexts(routes):  # with the routers' own, as FastAPI reads them
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            documented = schema["paths"].get(route.path_format, {}).get(method.lower())
            if documented is None:
                continue
            for status, response in route.responses.items():
                for media_type, content in response.get("content", {}).items():
                    if "examples" in content:
                        target = documented["responses"][str(status)]["content"][media_type]
                        target["examples"] = content["examples"]
            body = (route.openapi_extra or {}).get("requestBody", {})
            for media_type, content in body.get("content", {}).items():
                if "examples" in content:
                    target = documented["requestBody"]["content"][media_type]
                    target["examples"] = content["examples"]


def _restore_model_examples(schema: dict[str, Any], routes: Sequence[BaseRoute]) -> None:
    """The examples the models declare, nulls and all (see `_restore_examples`), on their
    components: each body's and answer's model, and the models in them."""
    components = schema.get("components", {}).get("schemas", {})
    models: set[type[BaseModel]] = set()
    for route in iter_route_contexts(routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            for field in (route.body_field, route.response_field):
                models.update(_models_in(field.field_info.annotation if field else None))
    for model in models:
        declared = model.model_json_schema(mode="serialization")
        for name, definition in {model.__name__: declared, **declared.get("$defs", {})}.items():
            if "examples" in definition and name in components:
                components[name]["examples"] = definition["examples"]


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models `annotation` names: itself, or those of a list or union of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in get_args(annotation):
        yield from _models_in(argument)


# Words of the contract's field names as a person writes them.
_WORDS = {
    "id": "ID",
    "ids": "IDs",
    "url": "URL",
    "api": "API",
    "kwh": "kWh",
    "kwp": "kWp",
    "soc": "SoC",
    "esi": "ESI",
    "esm": "ESM",
    "fve": "PV",
    "pv": "PV",
    "ttl": "TTL",
    "ms": "ms",
    "s": "s",
    "p": "P",
    "bat": "battery",
    "req": "request",
    "descr": "description",
    "amqp": "AMQP",
    "etag": "ETag",
}
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def humanize(name: str) -> str:
    """`fvePeakPowerKwp` -> "PV peak power kWp"; `client_id` -> "Client ID"."""
    words = [_WORDS.get(word.lower(), word.lower()) for word in _WORD.findall(name)]
    if not words:
        return name
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])


def _retitle(schema: dict[str, Any], name: str) -> None:
    """Replace a title that pydantic made from the name ("Clientid", "Client Id"); keep one
    someone wrote."""
    title = schema.get("title")
    if title is not None and _squashed(title) == _squashed(name):
        schema["title"] = humanize(name)


def _squashed(text: str) -> str:
    return re.sub(r"[\s_-]", "", text).lower()


def model_example(model: type[_Model], index: int = 0) -> _Model:
    """The `index`th example a model declares in its `json_schema_extra`, validated by it."""
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, Mapping) else None
    if not isinstance(examples, list):
        raise LookupError(f"{model.__name__} declares no examples")
    return model.model_validate(examples[index])
