"""The static site: ``tracker build`` turns a store into HTML pages that need no server.

Collect (``data.SiteData`` through the query layer) → page models (``pages/``, frozen
dataclasses) → Jinja (``render``) → files (``writer``), orchestrated by ``build.build``.
"""

from __future__ import annotations
