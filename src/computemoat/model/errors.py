"""computemoat's exception family. Every error we raise on purpose is a ``ComputemoatError``; a user's
mistake is a ``UserError`` (every layer raises it, only the CLI turns it into exit 2)."""

from __future__ import annotations


class ComputemoatError(Exception):
    """Base of every exception computemoat raises on purpose (``except ComputemoatError`` catches them)."""


class UserError(ComputemoatError):
    """A problem with user input. Each item of ``lines`` is one self-contained, one-line message
    (``file:line: path.to.field: what is wrong (hint)`` where a file is involved)."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines: tuple[str, ...] = lines


class InfeasibleError(UserError):
    """The scenario admits no plan; the lines say which constraints conflict."""


class TimeLimitError(InfeasibleError):
    """The solver found no plan within the time limit: not proven infeasible, only not solved in time.
    An ``InfeasibleError`` for callers that only ask "is there a plan"; one that would draw a conclusion
    from "no plan" (a deal's "cannot be signed") must tell the two apart."""


def no_plan_in_time(scenario: str, time_limit_s: float, status: str) -> TimeLimitError:
    return TimeLimitError(
        f"scenario {scenario}: no plan found within time_limit_s {time_limit_s:g} s (solver status: {status}; "
        f"not proven infeasible: raise the time limit)"
    )


class MissingExtraError(UserError):
    """A feature needs an optional dependency that is not installed; the message names the extra to
    install (``pip install 'computemoat[gateway]'``)."""

    def __init__(self, extra: str, module: str, feature: str = "") -> None:
        what = feature or f"this needs {module}"
        super().__init__(f"{what}: {module} is not installed (pip install 'computemoat[{extra}]')")
        self.extra = extra
        self.module = module
