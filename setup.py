"""Build hook only (metadata lives in setup.cfg): compile the browse pages' message catalogs (.po → .mo).

The app also compiles any missing or stale catalog when it starts (web/browse/i18n.py), so an
install where Babel was not importable at build time still serves English pages.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class build_py_with_catalogs(build_py):  # noqa: N801 (setuptools command naming)
    def run(self):
        super().run()
        try:
            from babel.messages.mofile import write_mo
            from babel.messages.pofile import read_po
        except ImportError:
            return  # compiled at first start instead
        roots = [Path("web/translations")]
        if not getattr(self, "editable_mode", False):
            roots.append(Path(self.build_lib) / "web" / "translations")
        for root in roots:
            for po in root.glob("*/LC_MESSAGES/*.po"):
                with po.open("rb") as fh:
                    catalog = read_po(fh)
                with po.with_suffix(".mo").open("wb") as fh:
                    write_mo(fh, catalog)


setup(cmdclass={"build_py": build_py_with_catalogs})
