"""The API's OpenAPI document as checked in: ``docs/openapi.json``.

Refresh it with ``python -m dataex.api.openapi > docs/openapi.json`` (a test regenerates and compares
it). The document is built by ``dataex.api.document`` (FastAPI's, with the error envelope); the web
console adds no operation to it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from dataex.api.app import create_app
from dataex.exchange import Exchange


def render(doc: dict[str, Any]) -> str:
    """The document as checked in: sorted keys, two-space indents, UTF-8, a final newline."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def generate() -> str:
    """The rendered document of the API, built on a throwaway node (the routes need one to exist)."""
    with tempfile.TemporaryDirectory(prefix="dataex-openapi-") as tmp:
        ex, _operator = Exchange.init(home=Path(tmp) / "node")
        try:
            return render(create_app(ex).openapi())
        finally:
            ex.close()


def main() -> None:
    """``python -m dataex.api.openapi > docs/openapi.json``."""
    sys.stdout.write(generate())


if __name__ == "__main__":
    main()
