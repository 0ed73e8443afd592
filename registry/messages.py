"""Messages a person reads, as English text that also carries a code and parameters.

A service says ``msg("code.levels", "expected {a}–{b} levels, found {n}", a=3, b=4, n=1)``: the result
*is* the English string (the API and the CLI show it as they always did, ``orjson``/``json`` write it
as text), and it keeps ``key`` and ``params`` so the browse UI can show the same message in the page's
language (``web/browse/labels.py`` holds the translations). A parameter may itself be a ``Msg`` (a
reason inside a sentence); the UI translates it too.
"""

from __future__ import annotations


class Msg(str):
    """English text with the ``key`` and ``params`` it was made from."""

    key: str
    params: dict

    def __new__(cls, key: str, template: str, /, **params):
        self = super().__new__(cls, template.format(**params))
        self.key = key
        self.params = params
        return self

    def __reduce__(self):  # copies and pickles keep what a translation needs
        return (_rebuild, (str(self), self.key, self.params))


def _rebuild(text: str, key: str, params: dict) -> Msg:
    made = str.__new__(Msg, text)
    made.key = key
    made.params = params
    return made


def msg(key: str, template: str, /, **params) -> Msg:
    """A message: ``template.format(**params)`` in English, keyed for translation."""
    return Msg(key, template, **params)
