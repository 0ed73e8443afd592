"""The ``yima`` command: every subcommand is registered by importing its module here."""

from web.cli import catalog, core, evidence, lineage, standards  # noqa: F401  (each registers its commands)
from web.cli.groups import main, validate

__all__ = ["main", "validate"]
