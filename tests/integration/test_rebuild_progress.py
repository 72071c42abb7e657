"""The rebuild's progress bar: on a terminal, nothing printed while or after it is drawn
(log lines, the CLI's result) lands on the bar's line; on a pipe or in a CI log, plain lines
with no control characters."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from adapters.cli import main
from adapters.readmodels.progress import ProgressBar
from adapters.readmodels.rebuild import RebuildProgress, RebuildResult

CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")


class Terminal(io.StringIO):
    """A stream that says it is a terminal, to be read back with :func:`screen`."""

    def isatty(self) -> bool:
        return True


def screen(output: str) -> list[str]:
    """The lines a terminal shows after ``output``: enough of one (carriage return, line
    feed, cursor up, erase in line; colours ignored) to see what ended up on which line."""
    rows: list[list[str]] = [[]]
    row = col = 0
    at = 0
    while at < len(output):
        escape = CSI.match(output, at)
        if escape:
            at = escape.end()
            params, command = escape.groups()
            count = int(params) if params.isdigit() else None
            if command == "A":
                row = max(0, row - (count or 1))
            elif command == "K":
                line = rows[row]
                rows[row] = [] if count == 2 else line[:col]
            elif command == "G":
                col = (count or 1) - 1
            continue
        char = output[at]
        at += 1
        if char == "\r":
            col = 0
        elif char == "\n":
            row, col = row + 1, 0
            while len(rows) <= row:
                rows.append([])
        else:
            line = rows[row]
            line.extend(" " * (col - len(line)))
            line[col : col + 1] = [char]
            col += 1
    return ["".join(line).rstrip() for line in rows if "".join(line).strip()]


def progress(position: int, head: int = 1000) -> RebuildProgress:
    return RebuildProgress("flow", 2, position, head, records=position, elapsed=position / 500)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    # A capable terminal, whatever the environment running the tests says.
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    return Terminal()


@pytest.fixture
def restored_root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def log_to(stream: io.StringIO, root: logging.Logger) -> None:
    """As adapters.logging does: one handler on the root logger, bound to the stream."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def test_on_a_terminal_log_lines_and_the_next_print_get_lines_of_their_own(
    terminal: Terminal, restored_root_logger: logging.Logger
) -> None:
    log_to(terminal, restored_root_logger)
    bar = ProgressBar(terminal)
    bar.update(progress(400))
    logging.getLogger("projections").warning("between batches")
    bar.update(progress(1000))
    logging.getLogger("projections").info("after the last batch")
    bar.close()
    print("rebuilt", file=terminal)

    lines = screen(terminal.getvalue())
    assert "between batches" in lines and "after the last batch" in lines
    assert lines[-1] == "rebuilt"
    [final] = [line for line in lines if "100%" in line]
    assert "1,000/1,000" in final and "records/s" in final and "ETA" in final
    # The bar was the last thing drawn before the print, on the line above it.
    assert lines.index(final) == len(lines) - 2


def test_on_a_pipe_it_writes_whole_plain_lines_with_rate_and_eta(
    restored_root_logger: logging.Logger,
) -> None:
    pipe = io.StringIO()
    log_to(pipe, restored_root_logger)
    bar = ProgressBar(pipe)
    bar.update(progress(400))
    logging.getLogger("projections").warning("between batches")
    bar.update(progress(1000))
    bar.close()
    print("rebuilt", file=pipe)

    output = pipe.getvalue()
    assert "\r" not in output and "\x1b" not in output
    lines = output.splitlines()
    assert lines[0].startswith("flow g2 ") and "40%" in lines[0]
    assert "records/s" in lines[0] and "ETA" in lines[0]
    assert lines[1:] == ["between batches", lines[2], "rebuilt"]
    assert "100%" in lines[2]


def test_the_rebuild_command_ends_the_bar_before_its_log_lines_and_result(
    terminal: Terminal,
    restored_root_logger: logging.Logger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the CLI, with its own logging set up on a terminal's stderr: the rebuild logs
    after its last progress report (`projection.rebuild_switched`), then the CLI prints."""

    def rebuild(database, factory, *, batch_size, progress):  # noqa: ANN001, ANN202
        progress(RebuildProgress("flow", 2, 1000, 1000, records=1000, elapsed=2.0))
        structlog.get_logger("projections").info("projection.rebuild_switched")
        return RebuildResult("flow", 2, 1, 1000, 1000, 2.0)

    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LOG_FORMAT", "console")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr("adapters.readmodels.rebuild.rebuild", rebuild)
    monkeypatch.setattr("sys.stderr", terminal)

    assert main(["rebuild", "flow"]) == 0

    lines = screen(terminal.getvalue())
    [logged] = [line for line in lines if "projection.rebuild_switched" in line]
    assert "100%" not in logged
    assert lines[-1].startswith("patient-services: flow rebuilt as generation 2")
    assert any("100%" in line and "ETA" in line for line in lines)
