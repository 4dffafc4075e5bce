"""Compute-to-data (issue 10): declarative recipes run next to the data; models and metrics leave.

``recipes`` (the recipe language and its checks), ``runner`` (worker process with limits),
``train`` (fitting, metrics, ONNX), ``modelcard`` (card and membership-inference risk), ``jobs``
(records, transitions, charging, restart recovery). See docs/compute.md.
"""

from __future__ import annotations
