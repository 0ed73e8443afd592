"""The ``yima`` command (``yima = web.cli:main``): every subcommand is registered by importing its module here.

The CLI stays in ``web/``: like the API and the browse pages it is a delivery layer over the same
services (top of the layers, free to import every domain package), and ``yima serve`` builds the app.
"""

from web.cli import catalog, core, evidence, lineage, requests, standards, worker  # noqa: F401  (each registers its commands)
from web.cli.groups import main, validate

__all__ = ["main", "validate"]
