"""How the demo tells what happened: timelines, step tables and verdicts, printed with rich."""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from examples.orders import COOLING_OFF_SECONDS, Effect
from examples.scenarios import Recovery, Run
from redwood import OperationStatus, OperationType
from redwood.cli.render import duration, summary

Line = tuple[float, Text]

_STEPS = ("validate", "reserve", "charge", "confirm")
_WAIT = "cooling-off"


def introduction(console: Console, workdir: Path) -> None:
    """What the demo is about to show."""
    console.print(Rule("[bold]Redwood demo: durable order processing[/]"))
    console.print(
        "process_order: [bold]validate[/] → [bold]reserve[/] inventory → [bold]charge[/] a "
        "flaky gateway (declines about half the attempts; retried every 1 s) → "
        f"[bold]wait[/] {COOLING_OFF_SECONDS} s → [bold]confirm[/]."
    )
    console.print(f"Fresh SQLite database: [cyan]{workdir / 'orders.db'}[/]\n")


def embedded(console: Console, run: Run) -> None:
    """Scenario 1: the timeline, the steps, the receipt."""
    console.print(Rule("[bold]1 · One order, with a worker embedded in this process[/]",
                       align="left"))
    _timeline(console, run, _effect_lines(run, {}) + _wait_lines(run) + [_done_line(run)])
    console.print(_steps_table(run))
    _receipt(console, run)


def crash_introduction(console: Console, command: list[str]) -> None:
    """The command scenario 2 runs as a separate process."""
    console.print(Rule("[bold]2 · A worker process killed with SIGKILL in the middle of an "
                       "order[/]", align="left"))
    shown = ["redwood", *command[3:]]
    console.print(Text.assemble("Worker processes run: ", (shlex.join(shown), "cyan")))


def recovery(console: Console, recovery: Recovery) -> None:
    """Scenario 2: the timeline across both processes, what was replayed, and the verdicts."""
    run = recovery.run
    names = {recovery.killed_pid: "worker 1", recovery.restarted_pid: "worker 2"}
    lines = _effect_lines(run, names) + _wait_lines(run) + [_done_line(run)] + [
        (recovery.killed_at, Text(f"kill -9 worker 1 (pid {recovery.killed_pid}); journal: "
                                  f"{_journal(recovery)}", style="bold red")),
        (recovery.restarted_at, Text(f"started worker 2 (pid {recovery.restarted_pid})",
                                     style="bold green")),
    ]
    _timeline(console, run, lines)
    console.print(_replay_table(recovery))
    _verdicts(console, recovery)
    _receipt(console, run)


def closing(console: Console, workdir: Path, seconds: float, kept: bool) -> None:
    """How long it took, and where to look further."""
    console.print(Rule())
    console.print(f"Demo finished in [bold]{seconds:.1f} s[/].")
    database = workdir / "orders.db"
    if kept:
        console.print(f"Explore it: [cyan]redwood list -d {database}[/] and "
                      f"[cyan]redwood show order-1006 -d {database}[/]")
    else:
        console.print("Run with [cyan]--keep[/] to explore the database with "
                      "[cyan]redwood list[/] and [cyan]redwood show[/].")


# --- pieces -----------------------------------------------------------------------------------


def _journal(recovery: Recovery) -> str:
    parts = []
    for op in recovery.journal_at_kill:
        if op.status is OperationStatus.SUCCEEDED:
            parts.append(f"{op.name} ✓")
        elif op.status is OperationStatus.PENDING:
            parts.append(f"{op.name} attempt {op.attempt} ✗ (retry due)")
        else:
            parts.append(f"{op.name} {op.status.value}")
    return ", ".join(parts) or "empty"


def _retry_delays(run: Run) -> dict[tuple[str, int], float]:
    delays = {}
    for event in run.history:
        retry = event.details.get("retry")
        if event.type == "StepFailed" and isinstance(retry, dict) and event.name:
            delays[(event.name, int(event.details.get("attempt", 0)))] = float(retry["delay"])
    return delays


def _effect_lines(run: Run, workers: dict[int, str]) -> list[Line]:
    delays = _retry_delays(run)
    lines = []
    for effect in run.effects:
        text = Text()
        if workers:
            text.append(f"{workers.get(effect.pid, f'pid {effect.pid}'):<9} ", style="dim")
        text.append(f"{effect.step:<9}", style="bold")
        text.append(f"attempt {effect.attempt}  ")
        text.append("✓ " if effect.ok else "✗ ", style="green" if effect.ok else "red")
        text.append(effect.outcome)
        delay = delays.get((effect.step, effect.attempt))
        if delay is not None:
            text.append(f" → retry in {duration(delay)}", style="yellow")
        lines.append((effect.at, text))
    return lines


def _wait_lines(run: Run) -> list[Line]:
    wait = run.operation(_WAIT)
    lines: list[Line] = []
    if wait.started_at is not None:
        lines.append((wait.started_at, Text(
            f"{'':<9}wait {COOLING_OFF_SECONDS} s (suspended: no thread or process held)",
            style="cyan")))
    if wait.ended_at is not None:
        lines.append((wait.ended_at, Text(f"{'':<9}wait over: a worker picks the order up",
                                          style="cyan")))
    return lines


def _done_line(run: Run) -> Line:
    return (run.ended_at, Text(f"SUCCEEDED after {run.invocations} invocations",
                               style="bold green"))


def _timeline(console: Console, run: Run, lines: list[Line]) -> None:
    for at, text in sorted(lines, key=lambda line: line[0]):
        console.print(Text.assemble((f"  +{at - run.created_at:6.3f}s  ", "dim"), text))
    console.print()


def _steps_table(run: Run) -> Table:
    table = Table(title="The journal", title_justify="left", header_style="bold")
    for column in ("operation", "attempts", "retries", "body ran", "took", "result"):
        table.add_column(column, justify="right" if column in ("attempts", "retries",
                                                               "body ran") else "left")
    for op in run.operations:
        if op.type is OperationType.WAIT:
            table.add_row(f"wait {op.name}", "-", "-", "-", _took(op.started_at, op.ended_at), "")
        elif op.type is OperationType.STEP and op.name is not None:
            table.add_row(op.name, str(op.attempt), str(op.attempt - 1),
                          str(len(run.runs(op.name))), _took(op.started_at, op.ended_at),
                          summary(op.result, 40))
    return table


def _took(start: float | None, end: float | None) -> str:
    return duration(end - start) if start is not None and end is not None else "-"


def _replay_table(recovery: Recovery) -> Table:
    run = recovery.run
    table = Table(title="Replayed versus run again", title_justify="left", header_style="bold")
    table.add_column("step")
    table.add_column(f"worker 1 (pid {recovery.killed_pid}, killed)")
    table.add_column(f"worker 2 (pid {recovery.restarted_pid})")
    completed = set(recovery.completed_at_kill())
    for step in _STEPS:
        before = run.runs(step, recovery.killed_pid)
        after = run.runs(step, recovery.restarted_pid)
        if step in completed:
            second = Text("replayed from the journal, not run again", style="green") \
                if not after else Text(f"RAN AGAIN {_times(len(after))}", style="bold red")
        else:
            second = Text(_attempts(after))
        table.add_row(step, _attempts(before), second)
    return table


def _attempts(effects: list[Effect]) -> str:
    if not effects:
        return "-"
    failed = sum(not effect.ok for effect in effects)
    numbers = ", ".join(str(effect.attempt) for effect in effects)
    word = "attempt" if len(effects) == 1 else "attempts"
    declined = f"; {failed} declined" if failed else ""
    return f"ran {_times(len(effects))} ({word} {numbers}{declined})"


def _times(count: int) -> str:
    return {0: "never", 1: "once", 2: "twice"}.get(count, f"{count} times")


def _verdicts(console: Console, recovery: Recovery) -> None:
    run = recovery.run
    completed = recovery.completed_at_kill()
    rerun = [step for step in completed if run.runs(step, recovery.restarted_pid)]
    once_per_attempt = all(
        len(run.runs(op.name)) == op.attempt for op in run.operations
        if op.type is OperationType.STEP and op.name in _STEPS
        and op.status is OperationStatus.SUCCEEDED
    )
    first_after = min((e.at for e in run.effects if e.pid == recovery.restarted_pid),
                      default=recovery.restarted_at)
    checks = [
        (not rerun, f"No completed step ran again after the kill ({', '.join(completed)} were "
                    "replayed from the journal)."),
        (once_per_attempt, "Every step body ran exactly once per recorded attempt."),
        (recovery.restarted_exit_code == 0,
         f"Worker 2 stopped on SIGTERM with exit code {recovery.restarted_exit_code}."),
    ]
    for ok, message in checks:
        console.print(Text.assemble(("  ✓ " if ok else "  ✗ ", "green" if ok else "bold red"),
                                    message))
    console.print(Text(
        f"  Timings: killed {recovery.killed_at - run.created_at:.2f} s into the order; worker 2 "
        f"ran its first step {first_after - recovery.killed_at:.2f} s after the kill (when the "
        f"retry fell due); the order finished {run.ended_at - run.created_at:.2f} s after it "
        "started.", style="dim"))


def _receipt(console: Console, run: Run) -> None:
    console.print(Panel(run.receipt.model_dump_json(indent=2), title="Receipt",
                        title_align="left", expand=False, border_style="green"))
    console.print()
