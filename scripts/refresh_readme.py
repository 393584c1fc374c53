"""Rerun README.md's tour and rewrite (or, with --check, compare) its output blocks, so a figure in the
README never goes stale. tests/cli/test_readme_tour.py runs the check; `make readme` rewrites.

Usage: .venv/bin/python scripts/refresh_readme.py [--check] [--readme README.md] [--keep DIR]

Which blocks: a ```console fence right after an HTML comment ``<!-- tour -->``. In it, a line starting
with ``$ `` is a command (a trailing backslash continues it on the next line); the lines up to the next
command are its output. Every command of every tour block runs, in README order, in ONE bash session
in a fresh temporary directory (so `cd`, variables and files carry over from one command to the next),
with the venv's bin first on PATH, COLUMNS=100, NO_COLOR=1 and stdout not a terminal (as in a pipe).
A command ending in ``&`` runs in the background with its output discarded; every background process is
stopped at the end. Ports: each port a command names (``--port 9001``, ``localhost:8080``) is swapped for
a free one chosen by the OS while running and swapped back in the output, so the tour runs while the
README's ports are busy.

Abridging: ``<!-- tour {"elide": [[START, END, TEXT], ...]} -->`` replaces, in each command's output, the
lines from the first one matching the regex START up to (not including) the next one matching END (null:
to the end of that output) with the one line TEXT, where ``{lines}`` is the number of lines left out.

Figures that differ on every run are masked on both sides before comparing (MASKS: seconds of solver or
compute time, the current month, response timestamps); everything else must match exactly.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- tour(?P<opts>\s+\{.*?\})?\s*-->\n```console\n(?P<body>.*?)```", re.S)
COMMAND_TIMEOUT_S = 600
MASKS: tuple[tuple[str, str], ...] = (
    (r"\b\d+\.\d+ s\b", "<seconds> s"),  # solver and compute times
    (r"\b20\d\d-(0[1-9]|1[0-2])\b", "<month>"),  # the current month (usage, invoice)
    (r'"created":\s*\d+', '"created":<unix time>'),  # response timestamps
)
_PORT = re.compile(r"(?:--port[ =]|localhost:|127\.0\.0\.1:)(\d{2,5})\b")
_BACKGROUND = re.compile(r"^(?P<cmd>.*[^&])&\s*(?:#[^\n]*)?$", re.S)


@dataclass
class Step:
    command: str  # as written in the README, continuation lines included (without the "$ ")
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    start: int  # span of the block's body in the README text
    end: int
    elide: list[tuple[str, str | None, str]]
    steps: list[Step]


def parse(text: str) -> list[Block]:
    blocks = []
    for m in BLOCK.finditer(text):
        opts = json.loads(m.group("opts")) if m.group("opts") else {}
        steps: list[Step] = []
        continued = False
        for line in m.group("body").splitlines():
            if continued:
                steps[-1].command += "\n" + line
            elif line.startswith("$ "):
                steps.append(Step(line[2:]))
            elif steps:
                steps[-1].expected.append(line)
            else:
                raise SystemExit(f"README.md: tour block at offset {m.start()} has output before its first '$ '")
            continued = bool(steps) and line.endswith("\\") and (continued or line.startswith("$ "))
        blocks.append(Block(m.start("body"), m.end("body"), [tuple(e) for e in opts.get("elide", [])], steps))
    return blocks


def abridge(lines: list[str], elide: list[tuple[str, str | None, str]]) -> list[str]:
    """Apply the block's elisions (module docstring) to one command's output."""
    out = list(lines)
    for start, end, text in elide:
        i = next((k for k, ln in enumerate(out) if re.search(start, ln)), None)
        if i is None:
            continue
        j = len(out) if end is None else next((k for k in range(i + 1, len(out)) if re.search(end, out[k])), len(out))
        out[i:j] = [text.format(lines=j - i)]
    return out


def mask(line: str) -> str:
    for pattern, repl in MASKS:
        line = re.sub(pattern, repl, line)
    return line.rstrip()


class Shell:
    """One bash session; each command's output (stdout and stderr together) up to a unique marker."""

    def __init__(self, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMPUTEMOAT_")}
        env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", COLUMNS="100",
                   NO_COLOR="1", TERM="dumb")
        env.pop("TTY_COMPATIBLE", None)
        env.pop("FORCE_COLOR", None)
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, cwd=cwd, env=env, text=True, bufsize=1, start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")  # end of stream

    def run(self, command: str) -> tuple[int, list[str]]:
        assert self.proc.stdin is not None
        token = uuid.uuid4().hex
        bg = _BACKGROUND.match(command)
        script = f"{{ {bg.group('cmd').strip()}\n}} >/dev/null 2>&1 &" if bg else command
        self.proc.stdin.write(f"{script}\nprintf '\\n{token} %s\\n' \"$?\"\n")
        self.proc.stdin.flush()
        got: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=COMMAND_TIMEOUT_S)
            except queue.Empty:
                raise SystemExit(f"tour: no end after {COMMAND_TIMEOUT_S} s: {command}") from None
            if line == "":
                raise SystemExit(f"tour: the shell ended during: {command}\n{''.join(got)}")
            if line.startswith(token):
                text = "".join(got)
                text = text[:-1] if text.endswith("\n") else text  # the marker's own leading newline
                return int(line.split()[1]), text.splitlines()
            got.append(line)

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)  # the session and every background server in it
        self.proc.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _swap(text: str, mapping: dict[int, int]) -> str:
    for a, b in mapping.items():
        text = re.sub(rf"(?<!\d){a}(?!\d)", str(b), text)
    return text


def run_tour(blocks: list[Block], workdir: Path) -> list[list[list[str]]]:
    """Each block's each command's output, abridged, ports swapped back to the README's."""
    readme_ports = sorted({int(p) for b in blocks for s in b.steps for p in _PORT.findall(s.command)})
    to_free = {p: _free_port() for p in readme_ports}
    back = {v: k for k, v in to_free.items()}
    shell = Shell(workdir)
    outputs: list[list[list[str]]] = []
    try:
        for block in blocks:
            outputs.append([])
            for step in block.steps:
                rc, lines = shell.run(_swap(step.command, to_free))
                lines = [_swap(ln, back) for ln in lines]
                if rc != 0:
                    raise SystemExit(f"tour: exit {rc} from `{step.command}`:\n" + "\n".join(lines[-20:]))
                outputs[-1].append(abridge(lines, block.elide))
    finally:
        shell.close()
    return outputs


def render(block: Block, outputs: list[list[str]]) -> str:
    lines: list[str] = []
    for step, out in zip(block.steps, outputs, strict=True):
        lines.append(f"$ {step.command}")
        lines.extend(ln.rstrip() for ln in out)
    return "\n".join(lines) + "\n"


def refreshed(text: str, keep: Path | None = None) -> tuple[str, list[str]]:
    """The README with every tour block rerun, and one unified diff (masked) per block that differs."""
    blocks = parse(text)
    with tempfile.TemporaryDirectory(prefix="computemoat-tour-") as tmp:
        workdir = keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        # the tour is what a user types at the repository root: examples/ is where it says
        shutil.copytree(ROOT / "examples", workdir / "examples", dirs_exist_ok=True)
        outputs = run_tour(blocks, workdir)
    diffs, new, pos = [], [], 0
    for block, out in zip(blocks, outputs, strict=True):
        body = render(block, out)
        old = text[block.start:block.end]
        a, b = [mask(x) for x in old.splitlines()], [mask(x) for x in body.splitlines()]
        if a != b:
            diffs.append("\n".join(difflib.unified_diff(a, b, "README.md", "fresh run", lineterm="")))
        new += [text[pos:block.start], body]
        pos = block.end
    new.append(text[pos:])
    return "".join(new), diffs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare only; exit 1 and print the diffs if stale")
    ap.add_argument("--readme", type=Path, default=README)
    ap.add_argument("--keep", type=Path, help="run in this directory and keep its files (plan.json, sky/, …)")
    args = ap.parse_args()
    text = args.readme.read_text(encoding="utf-8")
    new, diffs = refreshed(text, args.keep)
    for d in diffs:
        print(d)
    if args.check:
        return 1 if diffs else 0
    args.readme.write_text(new, encoding="utf-8")
    print(f"{args.readme}: {len(parse(text))} tour blocks rerun, {len(diffs)} changed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
