"""The web console: server-rendered pages (Jinja2 + htmx) over the same services as the API."""

from __future__ import annotations

from dataex.web.app import mount_web

__all__ = ["mount_web"]
