"""Jinja2 environment of the viz pages (templates/) and the assets they inline (assets/)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jinja2

from fincrime.viz.model import format_amount, format_date, local_name


@cache
def asset(name: str) -> str:
    """Text of a bundled asset (``fincrime/viz/assets/<name>``)."""
    return resources.files("fincrime.viz").joinpath("assets").joinpath(name).read_text(encoding="utf-8")


def script_json(value: Any) -> str:
    """JSON safe to place inside ``<script type="application/json">``.

    >>> script_json({"x": "</script>"})
    '{"x":"\\\\u003c/script>"}'
    """
    # \u003c keeps "</script>" and "<!--" out of the script element and is still valid JSON.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("fincrime.viz", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(amount=format_amount, date=format_date, local=local_name, json=script_json)
    env.globals["asset"] = asset
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
