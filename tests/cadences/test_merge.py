"""Merge fields: validation with lines, defaults for empty values, and a sandbox that holds."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cadences.merge import RenderError, check_template, merge_context, render_template_text


def _lead(**fields):
    base = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "full_name": None,
        "company": "",
        "title": None,
        "email": "ada@example.com",
        "phone_e164": None,
        "phone_raw": None,
        "city": None,
        "state": None,
        "country": None,
        "website": None,
        "custom_fields": {"plan": "Gold"},
    }
    return SimpleNamespace(**{**base, **fields})


def test_fields_render_with_defaults_for_empty_values():
    rep = SimpleNamespace(name="Rita Rep", email="rita@example.com")
    text = (
        "Hi {{ first_name }} at {{ company | default('your team') }}, {{ rep.name }}"
        " ({{ custom.plan }}{{ custom.missing }})"
    )
    assert (
        render_template_text(text, merge_context(_lead(), rep))
        == "Hi Ada at your team, Rita Rep (Gold)"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hi {{ first_nme }}", "line 1: unknown merge field {{ first_nme }}"),
        ("Hi\n{{ rep.phone }}", "line 2: unknown merge field {{ rep.phone }}"),
        ("Hi\n\n{{ first_name }", "line 3: invalid syntax"),
        ("{{ cycler.__init__.__globals__ }}", "line 1: unknown merge field {{ cycler }}"),
        ("{% for x in range(10**9) %}{% endfor %}", "line 1: unknown merge field {{ range }}"),
    ],
)
def test_problems_name_the_field_and_the_line(source, expected):
    problems = [str(p) for p in check_template(source)]
    assert problems and problems[0].startswith(expected), problems


def test_valid_templates_have_no_problems():
    assert (
        check_template("Hi {{ first_name | default('there') }}, {{ rep.email }} {{ custom.x }}")
        == []
    )


def test_the_sandbox_refuses_reaching_python_internals():
    with pytest.raises(RenderError):
        render_template_text("{{ first_name.__class__.__mro__ }}", merge_context(_lead(), None))
