"""Merge fields: templates rendered in a sandbox that sees nothing but plain strings.

A template may name only the fields below, ``rep.<field>`` and ``custom.<key>``;
anything else is refused before saving, and the sandbox refuses attribute tricks
at render time, so a template cannot reach Python objects.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

LEAD_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "company",
    "title",
    "email",
    "phone",
    "city",
    "state",
    "country",
    "website",
)
REP_FIELDS = ("name", "email")
KNOWN_NAMES = frozenset({*LEAD_FIELDS, "rep", "custom"})


def _default(value: Any, fallback: str = "") -> Any:
    # Empty strings count as missing: an imported blank first name reads "there".
    return value if value not in (None, "") else fallback


_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_env.filters["default"] = _default
_env.filters["d"] = _default
_env.globals.clear()  # no range(), cycler, joiner, …: a template sees only its merge fields


@dataclass(frozen=True)
class TemplateProblem:
    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def check_template(source: str) -> list[TemplateProblem]:
    """Syntax errors and unknown merge fields, each with its line."""
    try:
        tree = _env.parse(source)
    except TemplateSyntaxError as exc:
        return [TemplateProblem(f"invalid syntax: {exc.message}", exc.lineno)]
    # Every name read must be a merge field or one the template set itself (a loop
    # variable): the environment's globals (range, cycler, …) are not offered either.
    own = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    unknown = {
        n.name: n.lineno
        for n in tree.find_all(nodes.Name)
        if n.ctx == "load" and n.name not in KNOWN_NAMES and n.name not in own
    }
    problems = [
        TemplateProblem(f"unknown merge field {{{{ {name} }}}}", line)
        for name, line in sorted(unknown.items(), key=lambda item: item[1])
    ]
    for node in tree.find_all(nodes.Getattr):
        if (
            isinstance(node.node, nodes.Name)
            and node.node.name == "rep"
            and node.attr not in REP_FIELDS
        ):
            problems.append(
                TemplateProblem(f"unknown merge field {{{{ rep.{node.attr} }}}}", node.lineno)
            )
    for node in tree.find_all(nodes.Name):
        if node.name in ("rep", "custom") and not _used_with_attribute(tree, node):
            problems.append(
                TemplateProblem(
                    f"{{{{ {node.name} }}}} needs a field, e.g. {node.name}.name", node.lineno
                )
            )
    return problems


def _used_with_attribute(tree: nodes.Template, name_node: nodes.Name) -> bool:
    return any(parent.node is name_node for parent in tree.find_all((nodes.Getattr, nodes.Getitem)))


class RenderError(Exception):
    """A template that cannot be rendered for this lead."""


@functools.lru_cache(maxsize=256)
def _compiled(source: str):
    # Compiling costs milliseconds; a cadence sends the same few templates thousands of times.
    return _env.from_string(source)


def render_template_text(source: str, context: dict[str, Any]) -> str:
    try:
        return _compiled(source).render(context)
    except (UndefinedError, SecurityError, TemplateSyntaxError, TypeError) as exc:
        raise RenderError(str(exc)) from None


def merge_context(lead: Any, rep: Any | None) -> dict[str, Any]:
    """The values a template sees: strings only, empty for what the lead lacks."""
    values = {name: _text(getattr(lead, name, None)) for name in LEAD_FIELDS if name != "phone"}
    values["phone"] = _text(lead.phone_e164 or lead.phone_raw)
    values["rep"] = {
        "name": _text(rep.name if rep else None),
        "email": _text(rep.email if rep else None),
    }
    values["custom"] = _CustomFields({k: _text(v) for k, v in (lead.custom_fields or {}).items()})
    return values


class _CustomFields(dict):
    """Custom fields differ per lead; one this lead lacks reads as empty, not an error."""

    def __missing__(self, key: str) -> str:
        return ""

    def __getattr__(self, key: str) -> str:
        return self[key]


def _text(value: Any) -> str:
    return "" if value is None else str(value)
