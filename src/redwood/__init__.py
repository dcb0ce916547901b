"""Redwood: durable execution for plain Python functions."""

from __future__ import annotations

from redwood.app import App
from redwood.client import Client, ExecutionHandle
from redwood.clock import Clock, ManualClock, SystemClock
from redwood.engine.registry import DurableFunction
from redwood.engine.worker import Worker
from redwood.errors import (
    CallbackAlreadyCompleted,
    CallbackFailed,
    CallbackHeartbeatTimedOut,
    CallbackTimedOut,
    ConditionNotMet,
    EventTimedOut,
    ExecutionConflict,
    ExecutionFailed,
    LeaseLost,
    NonDeterminism,
    PayloadTooLarge,
    RedwoodError,
    ResultTimeout,
    SerializationError,
    StepFailed,
    StepInterrupted,
    UnknownCallback,
    UnknownExecution,
    UnknownFunction,
    ValidationError,
)
from redwood.model import ErrorRecord, Execution, HistoryEvent, Operation
from redwood.retry import RetryPolicy
from redwood.sdk.callback import AsyncCallback, Callback
from redwood.sdk.condition import WaitStrategy
from redwood.sdk.context import AsyncDurableContext, DurableContext
from redwood.sdk.step import StepContext
from redwood.serde import JsonSerde, Serde
from redwood.types import (
    Durability,
    ExecutionStatus,
    OperationStatus,
    OperationType,
    StepSemantics,
)

__all__ = [
    "App",
    "AsyncCallback",
    "AsyncDurableContext",
    "Callback",
    "CallbackAlreadyCompleted",
    "CallbackFailed",
    "CallbackHeartbeatTimedOut",
    "CallbackTimedOut",
    "Client",
    "Clock",
    "ConditionNotMet",
    "Durability",
    "DurableContext",
    "DurableFunction",
    "ErrorRecord",
    "EventTimedOut",
    "Execution",
    "ExecutionConflict",
    "ExecutionFailed",
    "ExecutionHandle",
    "ExecutionStatus",
    "HistoryEvent",
    "JsonSerde",
    "LeaseLost",
    "ManualClock",
    "NonDeterminism",
    "Operation",
    "OperationStatus",
    "OperationType",
    "PayloadTooLarge",
    "RedwoodError",
    "ResultTimeout",
    "RetryPolicy",
    "Serde",
    "SerializationError",
    "StepContext",
    "StepFailed",
    "StepInterrupted",
    "StepSemantics",
    "SystemClock",
    "UnknownCallback",
    "UnknownExecution",
    "UnknownFunction",
    "ValidationError",
    "WaitStrategy",
    "Worker",
]
