"""Build hook only (metadata lives in setup.cfg): compile the browse pages' message catalogs (.po → .mo).

Babel is a build requirement (pyproject.toml), so every wheel and install carries the compiled
catalogs; the app never writes into its own package folder (web/browse/i18n.py).
"""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py


def compile_catalogs(root: Path) -> None:
    for po in root.glob("*/LC_MESSAGES/*.po"):
        with po.open("rb") as fh:
            catalog = read_po(fh)
        with po.with_suffix(".mo").open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)


class build_py_with_catalogs(build_py):  # noqa: N801 (setuptools command naming)
    def run(self):
        super().run()
        # the source tree too, for an editable install (the .mo files are git-ignored)
        compile_catalogs(Path("web/translations"))
        if not getattr(self, "editable_mode", False):
            compile_catalogs(Path(self.build_lib) / "web" / "translations")


setup(cmdclass={"build_py": build_py_with_catalogs})
