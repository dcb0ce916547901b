"""A human approval with a three-day deadline that escalates when nobody answers.

The execution tells the approver, then waits for the named event "approval", holding no thread
and no process. Whatever answers (a web handler behind the approve/reject links, a chat bot)
calls ``client.send_event(execution_id, "approval", {...})``. Three days without an answer and
``wait_for_event`` raises EventTimedOut: the request is escalated instead.

    python -m examples.approval
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from redwood import App, DurableContext, DurableFunction, EventTimedOut

APPROVAL_WINDOW = timedelta(days=3)


def notify_approver(request: dict[str, Any], execution_id: str) -> None:
    """Ask for a decision (in real life: an email with links that carry the execution id)."""
    print(f"Approve expense {request['id']} ({request['amount']})? Reply to {execution_id}.")


def escalate(request: dict[str, Any]) -> str:
    """Hand the request to the next level (in real life: open a ticket, page someone)."""
    print(f"Nobody answered for expense {request['id']}: escalating.")
    return "finance-leads"


def request_approval(ctx: DurableContext, request: dict[str, Any]) -> str:
    """Ask, wait up to three days for the decision, escalate if none comes."""
    ctx.step(notify_approver, request, ctx.execution_id)
    try:
        decision = ctx.wait_for_event("approval", timeout=APPROVAL_WINDOW)
    except EventTimedOut:
        team = ctx.step(escalate, request)
        return f"escalated to {team}"
    verdict = "approved" if decision["approved"] else "rejected"
    return f"{verdict} by {decision['by']}"


def register(app: App) -> DurableFunction[dict[str, Any], str]:
    """Register the approval workflow with ``app``."""
    return app.function(request_approval)


def main() -> None:
    """Start one approval and answer it, with an embedded worker on a throw-away database."""
    with tempfile.TemporaryDirectory() as folder, App(Path(folder) / "approval.db") as app:
        approval = register(app)
        with app.run_worker():
            handle = app.start(approval, {"id": "exp-7", "amount": 420}, id="expense-7")
            # The approver clicks "approve"; the web handler behind the link does this:
            app.client.send_event(handle.id, "approval", {"approved": True, "by": "dana"})
            print(handle.result(timeout=30))


if __name__ == "__main__":
    main()
