"""One error shape for every failure: `{"error": {"code", "message", "details"}}`.

Validation errors, HTTP errors, the domain's `TFTError`s and an unreachable database all map here, so a
client parses failures one way and bad input never surfaces as a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.core.errors import DataSourceError, NotFound, TFTError, ValidationFailed

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ErrorBody(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["no ticker 'ZZZZ': GET /api/v1/tickers lists the known ones"])
    details: Any = None


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx response."""

    error: ErrorBody


class ApiError(Exception):
    """Raise from a route for a specific status and code."""

    def __init__(self, status: int, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details
        self.code = code or CODES.get(status, "error")


def error_response(
    status: int, message: str, *, code: str | None = None, details: Any = None, headers: Any = None
) -> JSONResponse:
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


# The error responses every route may return, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": CODES[status].replace("_", " ")}
    for status in (400, 401, 403, 404, 422, 429, 503)
}


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in exc.errors()]


async def _on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    details = _validation_details(exc)
    if any(d["type"] == "json_invalid" for d in details):
        return error_response(
            400, "the request body is not valid JSON", code="malformed_json", details=details
        )
    first = details[0] if details else {"loc": [], "msg": "invalid input"}
    where = ".".join(str(p) for p in first["loc"])
    return error_response(422, f"{where}: {first['msg']}", details=details)


async def _on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))


async def _on_api_error(_: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.message, code=exc.code, details=exc.details)


async def _on_domain(_: Request, exc: TFTError) -> JSONResponse:
    if isinstance(exc, NotFound):
        return error_response(404, str(exc))
    if isinstance(exc, ValidationFailed):
        return error_response(422, str(exc))
    if isinstance(exc, DataSourceError):
        return error_response(503, str(exc))
    return error_response(400, str(exc))


async def _on_database(_: Request, exc: Exception) -> JSONResponse:
    if (
        isinstance(exc, DBAPIError)
        and not isinstance(exc, OperationalError)
        and not exc.connection_invalidated
    ):
        log.exception("database error")
        return error_response(500, "internal error")
    log.warning("database unavailable: %s", exc)
    return error_response(503, "the database is unavailable; try again shortly", code="database_unavailable")


async def _on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, _on_api_error)  # type: ignore[arg-type]
    app.add_exception_handler(TFTError, _on_domain)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _on_database)
    # asyncpg raises OSError (connection refused) before SQLAlchemy wraps anything.
    app.add_exception_handler(ConnectionError, _on_database)
    app.add_exception_handler(OSError, _on_database)
    app.add_exception_handler(Exception, _on_unexpected)
