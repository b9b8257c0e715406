"""Errors and the one place that knows Magento's error envelope.

Hierarchy (HTTP status in brackets), after Magento's ``ErrorProcessor::maskException``
(magento2:lib/internal/Magento/Framework/Webapi/ErrorProcessor.php)::

    MagentoError                       [400]  plain LocalizedException
    ├── NoSuchEntity                   [404]
    ├── Unauthorized                   [401]  AuthenticationException / AuthorizationException
    ├── InputError                     [400]  InputException: one error inline, several in errors[]
    ├── ValidationFailed               [400]  ValidationException: every error in errors[]
    ├── CouldNotSave                   [400]
    ├── CouldNotDelete                 [400]
    ├── RouteNotFound                  [404]  "Request does not match any route."
    ├── NotAcceptable                  [406]
    ├── Conflict                       [409]  openmsi's: an Idempotency-Key still in progress
    └── UnprocessableContent           [422]  openmsi's: an Idempotency-Key used for another request

The envelope is ``{"message", "errors"?, "parameters"?}`` in that order. ``message`` keeps its
``%placeholders``; values travel in ``parameters`` (an object for named placeholders, a list
for positional ones). Each ``errors[]`` entry always carries ``parameters`` (``[]`` if none).
Anything that is not a ``MagentoError`` is a bug: ``runtime.install_handlers`` logs it and
answers with Magento's masked internal-error envelope, never with a stack trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

Parameters = dict[str, Any] | list[Any]


@dataclass(frozen=True)
class ErrorDetail:
    message: str
    parameters: Parameters = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"message": self.message, "parameters": self.parameters}

    def rendered(self) -> str:
        return render_phrase(self.message, self.parameters)


def field_required(field_name: str) -> ErrorDetail:
    return ErrorDetail('"%fieldName" is required. Enter and try again.', {"fieldName": field_name})


def field_empty(field_name: str) -> ErrorDetail:
    return ErrorDetail('"%field" can not be empty.', {"field": field_name})


class MagentoError(Exception):
    status_code = 400

    def __init__(
        self,
        message: str,
        parameters: Parameters | None = None,
        errors: list[ErrorDetail] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.parameters = parameters
        self.errors = errors or []

    def rendered(self) -> list[str]:
        """The message and each of ``errors`` with their values in place, as Magento's admin
        shows them: the details when there are some, else the message."""
        if self.errors:
            return [error.rendered() for error in self.errors]
        return [render_phrase(self.message, self.parameters)]

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.errors:
            body["errors"] = [error.as_json() for error in self.errors]
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class NoSuchEntity(MagentoError):
    status_code = 404


class Unauthorized(MagentoError):
    status_code = 401


class InputError(MagentoError):
    """Magento's InputException: a single error is the message itself, several are listed."""

    MULTIPLE = "One or more input exceptions have occurred."

    @classmethod
    def of(cls, details: list[ErrorDetail]) -> InputError:
        if len(details) == 1:
            return cls(details[0].message, details[0].parameters)
        return cls(cls.MULTIPLE, errors=details)

    @classmethod
    def required(cls, *field_names: str) -> InputError:
        return cls.of([field_required(name) for name in field_names])

    @classmethod
    def invalid_type(cls, value: Any, expected: str, field_name: str | None = None) -> InputError:
        """Magento's TypeProcessor message, sent fully rendered (no placeholders)."""
        text = (
            f'The "{render_value(value)}" value\'s type is invalid. '
            f'The "{expected}" type was expected. Verify and try again.'
        )
        if field_name is not None:
            text = f'Error occurred during "{field_name}" processing. {text}'
        return cls(text)


class ValidationFailed(MagentoError):
    def __init__(self, errors: list[ErrorDetail], message: str = "Validation Failed") -> None:
        super().__init__(message, errors=errors)


class CouldNotSave(MagentoError):
    pass


class CouldNotDelete(MagentoError):
    pass


class RouteNotFound(MagentoError):
    status_code = 404

    def __init__(self) -> None:
        super().__init__("Request does not match any route.")


class NotAcceptable(MagentoError):
    status_code = 406


class Conflict(MagentoError):
    status_code = 409


class UnprocessableContent(MagentoError):
    status_code = 422


class ServiceUnavailable(MagentoError):
    """The database cannot be reached or has no connection to spare (openmsi's own status:
    Magento answers such a failure with its generic 500)."""

    status_code = 503


def not_authorized(resource: str) -> Unauthorized:
    return Unauthorized("The consumer isn't authorized to access %resources.", {"resources": resource})


_PLACEHOLDER = re.compile(r"%(\w+)")


def render_phrase(message: str, parameters: Parameters | None) -> str:
    """A message with its placeholders replaced, as Magento's ``Phrase\\Renderer\\Placeholder``
    does (magento2:lib/internal/Magento/Framework/Phrase/Renderer/Placeholder.php): ``%1``, ``%2``
    for a list, ``%name`` for an object; an unknown placeholder stays as it is."""
    if not parameters:
        return message
    values = (
        {str(index): value for index, value in enumerate(parameters, start=1)}
        if isinstance(parameters, list)
        else {str(key): value for key, value in parameters.items()}
    )

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return render_value(values[name]) if name in values else match.group(0)

    return _PLACEHOLDER.sub(substitute, message)


def render_value(value: Any) -> str:
    """How PHP prints a scalar inside a message: arrays are the word ``array``."""
    if isinstance(value, (dict, list)):
        return "array"
    if value is True:
        return "1"
    if value is False or value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def internal_error_envelope(report_id: str) -> dict[str, Any]:
    return {
        "message": f"Internal Error. Details are available in openmsi's log. Report ID: webapi-{report_id}"
    }
