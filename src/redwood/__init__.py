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
    ChildContextFailed,
    CompensationFailed,
    ConditionNotMet,
    EventTimedOut,
    ExecutionConflict,
    ExecutionFailed,
    ExecutionTimedOut,
    InvokeFailed,
    LeaseLost,
    NonDeterminism,
    OperationFailed,
    PayloadTooLarge,
    RedwoodError,
    ResultTimeout,
    SerializationError,
    StepFailed,
    StepInterrupted,
    StepTimedOut,
    UnknownCallback,
    UnknownExecution,
    UnknownFunction,
    ValidationError,
)
from redwood.model import ErrorRecord, Execution, HistoryEvent, Operation
from redwood.retry import RetryPolicy
from redwood.sdk.batch import BatchItem, BatchResult, CompletionReason, ItemStatus
from redwood.sdk.callback import AsyncCallback, Callback
from redwood.sdk.condition import WaitStrategy
from redwood.sdk.context import AsyncDurableContext, DurableContext
from redwood.sdk.saga import Saga
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
    "BatchItem",
    "BatchResult",
    "Callback",
    "CallbackAlreadyCompleted",
    "CallbackFailed",
    "CallbackHeartbeatTimedOut",
    "CallbackTimedOut",
    "ChildContextFailed",
    "Client",
    "Clock",
    "CompensationFailed",
    "CompletionReason",
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
    "ExecutionTimedOut",
    "HistoryEvent",
    "InvokeFailed",
    "ItemStatus",
    "JsonSerde",
    "LeaseLost",
    "ManualClock",
    "NonDeterminism",
    "Operation",
    "OperationFailed",
    "OperationStatus",
    "OperationType",
    "PayloadTooLarge",
    "RedwoodError",
    "ResultTimeout",
    "RetryPolicy",
    "Saga",
    "Serde",
    "SerializationError",
    "StepContext",
    "StepFailed",
    "StepInterrupted",
    "StepSemantics",
    "StepTimedOut",
    "SystemClock",
    "UnknownCallback",
    "UnknownExecution",
    "UnknownFunction",
    "ValidationError",
    "WaitStrategy",
    "Worker",
]
