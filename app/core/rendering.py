"""One template source for a page and its fragments (HTMX)."""

from __future__ import annotations

from flask import current_app, request
from flask.typing import ResponseReturnValue


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def render(template: str, fragment: str | None = None, **context: object) -> ResponseReturnValue:
    """Render the full page, or for an HTMX request only the named block of the same
    template: ``fragment`` if given, else the block named like the request's target
    (``HX-Target``), else ``content``."""
    env = current_app.jinja_env
    tmpl = env.get_or_select_template(template)
    if not is_htmx():
        from flask import render_template

        return render_template(template, **context)
    block = fragment or request.headers.get("HX-Target", "").replace("-", "_")
    if block not in tmpl.blocks:
        block = "content"
    current_app.update_template_context(context)
    ctx = tmpl.new_context(context)
    return "".join(tmpl.blocks[block](ctx))
