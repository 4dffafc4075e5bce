"""Private set intersection (issue 10): members, count and PSI-then-DP over ``openmined-psi``.

``normalize`` (canonical identifiers per type), ``protocol`` (the library's two halves),
``service`` (the node: sessions, the preprocessed set, the log), ``thendp`` (PSI-then-DP on the
node), ``client`` (the consumer's side, in the consumer's process). See docs/psi.md.
"""

from __future__ import annotations
