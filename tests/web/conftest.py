"""Fixtures shared by the browser tests of tests/web."""

from tests.web.axe import axe_source  # noqa: F401 (axe-core, installed at test time)
