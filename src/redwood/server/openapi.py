"""The OpenAPI description of the HTTP API, written as data next to the routes it describes.

tests/server/test_api_openapi.py checks that every route is described and every description
has a route, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from redwood.types import BlockedKind, ExecutionStatus

_ERROR_CODES = ["invalid_request", "invalid_json", "unauthorized", "forbidden", "not_found",
                "method_not_allowed", "request_too_large", "unsupported_media_type",
                "unknown_execution", "unknown_function", "unknown_callback",
                "callback_already_completed", "execution_conflict", "payload_too_large",
                "serialization_error", "validation_error", "redwood_error", "internal_error"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {400: "Invalid request", 401: "Missing or wrong bearer token", 404: "Not found",
            409: "Conflicts with the current state", 413: "Body or payload too large",
            415: "Body not sent as application/json", 422: "Refused by Redwood's rules"}
    return {str(s): _json(_ref("Error"), text[s]) for s in (401, *statuses)}


def _param(name: str, where: str, schema: dict[str, Any], description: str,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema, "description": description}


_EXECUTION_ID = _param("execution_id", "path", {"type": "string"}, "The execution id.")
_CALLBACK_ID = _param("callback_id", "path", {"type": "string"},
                      "The callback id (alone it authorises the call when unguessable).")
_NUMBER_OR_TIME = {"oneOf": [{"type": "number"}, {"type": "string", "format": "date-time"}]}
_FILTERS = [
    _param("function", "query", {"type": "string"}, "Only this durable function."),
    _param("status", "query", {"type": "string"},
           "Comma-separated statuses (repeatable): " + ", ".join(ExecutionStatus)),
    _param("blocked_on", "query", {"type": "string", "enum": list(BlockedKind)},
           "Only running executions blocked on this kind now."),
    _param("created_after", "query", _NUMBER_OR_TIME, "Created at or after (epoch s or ISO)."),
    _param("created_before", "query", _NUMBER_OR_TIME, "Created before (epoch s or ISO)."),
    _param("id_contains", "query", {"type": "string"}, "Text the execution id contains."),
]
_PAYLOAD = {"type": "object", "properties": {"payload": {}}, "additionalProperties": False}
_EMPTY = {"type": "object", "additionalProperties": False}


def _body(schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


_CALLBACK_ANSWER = _json(_ref("CallbackAnswer"), "Accepted")
_CALLBACK_ERRORS = _errors(400, 404, 409, 413, 415, 422)

PATHS: dict[str, dict[str, Any]] = {
    "/api/executions": {
        "post": {"summary": "Start an execution (the id is the idempotency key)",
                 "requestBody": _body(_ref("StartRequest"), required=True),
                 "responses": {"201": _json(_ref("ExecutionDetail"), "Started"),
                               "200": _json(_ref("ExecutionDetail"), "The id existed already"),
                               **_errors(400, 409, 413, 415, 422)}},
        "get": {"summary": "List executions, newest first, one page",
                "parameters": [*_FILTERS,
                               _param("limit", "query", {"type": "integer", "minimum": 1,
                                                         "maximum": 500}, "Page size (50)."),
                               _param("cursor", "query", {"type": "string"},
                                      "next_cursor of the previous page.")],
                "responses": {"200": _json(_ref("ExecutionPage"), "One page"),
                              **_errors(400)}},
    },
    "/api/counts": {
        "get": {"summary": "How many executions match the filters, per status",
                "parameters": _FILTERS,
                "responses": {"200": _json(_ref("Counts"), "Counts"), **_errors(400)}},
    },
    "/api/executions/{execution_id}": {
        "get": {"summary": "One execution with payloads, blocked-on and children",
                "parameters": [_EXECUTION_ID],
                "responses": {"200": _json(_ref("ExecutionDetail"), "The execution"),
                              **_errors(404)}},
    },
    "/api/executions/{execution_id}/operations": {
        "get": {"summary": "The journal: every operation in recorded order",
                "parameters": [_EXECUTION_ID],
                "responses": {"200": _json(_ref("Operations"), "The operations"),
                              **_errors(404)}},
    },
    "/api/executions/{execution_id}/history": {
        "get": {"summary": "One page of the history, oldest first",
                "parameters": [
                    _EXECUTION_ID,
                    _param("after", "query", {"type": "integer", "minimum": 0},
                           "Events with a larger id (next_after of the previous page)."),
                    _param("limit", "query", {"type": "integer", "minimum": 1,
                                              "maximum": 1000}, "Page size (200)."),
                    _param("filter", "query",
                           {"type": "string", "enum": ["all", "failed", "pending"]},
                           "failed: failures and retries; pending: unfinished operations.")],
                "responses": {"200": _json(_ref("HistoryPage"), "One page"),
                              **_errors(400, 404)}},
    },
    "/api/executions/{execution_id}/cancel": {
        "post": {"summary": "Cancel: stop at the next operation (at once when nobody runs it)",
                 "parameters": [_EXECUTION_ID], "requestBody": _body(_EMPTY),
                 "responses": {"200": _json(_ref("ExecutionDetail"), "Cancel requested"),
                               **_errors(400, 404, 409, 415)}},
    },
    "/api/executions/{execution_id}/events/{name}": {
        "post": {"summary": "Send a named event to the execution",
                 "parameters": [_EXECUTION_ID,
                                _param("name", "path", {"type": "string"}, "The event name.")],
                 "requestBody": _body(_PAYLOAD),
                 "responses": {"202": _json(_ref("EventAnswer"), "Delivered"),
                               **_errors(400, 404, 409, 413, 415, 422)}},
    },
    "/api/callbacks/{callback_id}/succeed": {
        "post": {"summary": "Complete a callback successfully", "parameters": [_CALLBACK_ID],
                 "requestBody": _body(_PAYLOAD), "security": [{"bearer": []}, {}],
                 "responses": {"202": _CALLBACK_ANSWER, **_CALLBACK_ERRORS}},
    },
    "/api/callbacks/{callback_id}/fail": {
        "post": {"summary": "Fail a callback", "parameters": [_CALLBACK_ID],
                 "requestBody": _body(_ref("CallbackFailure"), required=True),
                 "security": [{"bearer": []}, {}],
                 "responses": {"202": _CALLBACK_ANSWER, **_CALLBACK_ERRORS}},
    },
    "/api/callbacks/{callback_id}/heartbeat": {
        "post": {"summary": "Report that the callback's work is still going on",
                 "parameters": [_CALLBACK_ID], "requestBody": _body(_EMPTY),
                 "security": [{"bearer": []}, {}],
                 "responses": {"202": _CALLBACK_ANSWER, **_CALLBACK_ERRORS}},
    },
    "/openapi.json": {
        "get": {"summary": "This description",
                "responses": {"200": {"description": "OpenAPI 3.1 document"}}},
    },
}

_NULLABLE_NUMBER = {"type": ["number", "null"]}
_NULLABLE_STRING = {"type": ["string", "null"]}
SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string", "enum": _ERROR_CODES},
                       "message": {"type": "string"}}}}},
    "StartRequest": {"type": "object", "required": ["function"], "additionalProperties": False,
                     "properties": {"function": {"type": "string"}, "input": {},
                                    "id": {"type": "string", "maxLength": 256}}},
    "ErrorRecord": {"type": ["object", "null"], "properties": {
        "type": {"type": "string"}, "message": {"type": "string"},
        "traceback": _NULLABLE_STRING}},
    "ExecutionSummary": {"type": "object", "properties": {
        "id": {"type": "string"}, "function": {"type": "string"},
        "status": {"type": "string", "enum": list(ExecutionStatus)},
        "created_at": {"type": "number"}, "ended_at": _NULLABLE_NUMBER,
        "duration": {"type": "number"},
        "blocked_on": {"type": ["string", "null"], "enum": [*BlockedKind, None]},
        "parent_execution_id": _NULLABLE_STRING}},
    "BlockedOn": {"type": "object", "properties": {
        "kind": {"type": "string", "enum": list(BlockedKind)}, "since": _NULLABLE_NUMBER,
        "until": _NULLABLE_NUMBER, "operation_id": _NULLABLE_STRING, "name": _NULLABLE_STRING,
        "attempt": {"type": ["integer", "null"]}, "details": {"type": "object"}}},
    "ExecutionDetail": {"allOf": [_ref("ExecutionSummary"), {"type": "object", "properties": {
        "input": {}, "result": {}, "error": _ref("ErrorRecord"),
        "parent_operation_id": _NULLABLE_STRING, "invocations": {"type": "integer"},
        "cancel_requested": {"type": "boolean"}, "ready_at": _NULLABLE_NUMBER,
        "lease_owner": _NULLABLE_STRING, "lease_expires_at": _NULLABLE_NUMBER,
        "timeout_at": _NULLABLE_NUMBER,
        "blocked": {"type": "array", "items": _ref("BlockedOn")},
        "children": {"type": "array", "items": _ref("ExecutionSummary")}}}]},
    "ExecutionPage": {"type": "object", "properties": {
        "executions": {"type": "array", "items": _ref("ExecutionSummary")},
        "next_cursor": _NULLABLE_STRING}},
    "Counts": {"type": "object", "properties": {
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "total": {"type": "integer"}}},
    "Operation": {"type": "object", "properties": {
        "id": {"type": "string"}, "parent_id": _NULLABLE_STRING, "type": {"type": "string"},
        "subtype": _NULLABLE_STRING, "name": _NULLABLE_STRING, "status": {"type": "string"},
        "attempt": {"type": "integer"}, "result": {}, "error": _ref("ErrorRecord"),
        "due_at": _NULLABLE_NUMBER, "started_at": _NULLABLE_NUMBER, "ended_at": _NULLABLE_NUMBER,
        "details": {"type": "object"}}},
    "Operations": {"type": "object", "properties": {
        "operations": {"type": "array", "items": _ref("Operation")}}},
    "HistoryEvent": {"type": "object", "properties": {
        "id": {"type": "integer"}, "type": {"type": "string"}, "subtype": _NULLABLE_STRING,
        "operation_id": _NULLABLE_STRING, "parent_id": _NULLABLE_STRING,
        "name": _NULLABLE_STRING, "timestamp": {"type": "number"},
        "details": {"type": "object"}}},
    "HistoryPage": {"type": "object", "properties": {
        "events": {"type": "array", "items": _ref("HistoryEvent")},
        "next_after": {"type": ["integer", "null"]}}},
    "EventAnswer": {"type": "object", "properties": {
        "execution_id": {"type": "string"}, "event": {"type": "string"},
        "delivered": {"type": "boolean"}}},
    "CallbackFailure": {"type": "object", "required": ["message"], "additionalProperties": False,
                        "properties": {"message": {"type": "string", "maxLength": 4096},
                                       "error_type": {"type": "string"}}},
    "CallbackAnswer": {"type": "object", "properties": {
        "callback_id": {"type": "string"},
        "outcome": {"type": "string", "enum": ["succeeded", "failed", "heartbeat"]}}},
}


def document(version: str) -> dict[str, Any]:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Redwood", "version": version,
                 "description": "Durable executions: start, follow, cancel, send events, "
                                "complete callbacks. Errors are {\"error\": {\"code\", "
                                "\"message\"}}; see docs/dashboard.md."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def openapi_json(request: Request) -> Response:
    """GET /openapi.json."""
    return JSONResponse(document(request.app.state.version))
