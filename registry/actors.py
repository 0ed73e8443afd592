"""Who a change is attributed to: a name (``str``) that also carries the organization it acts for and,
when an approval applies it, the change request it comes from.

Services take ``actor: str`` and hand it to ``registry.audit.record`` unchanged; ``Actor`` is a ``str``,
so every service keeps its signature while the audit entry it writes learns the organization (and the
request) with ``getattr``. It is built once, where the caller is known: ``web.context.actor()`` for the
API and the browse pages, the CLI for a command run with a token.
"""

from __future__ import annotations


class Actor(str):
    """A token's (or user's) name with ``organization`` (a code or None) and ``request`` (an id or None)."""

    organization: str | None
    request: int | None

    def __new__(cls, name: str, organization: str | None = None, request: int | None = None) -> Actor:
        self = super().__new__(cls, name)
        self.organization = organization or None
        self.request = request
        return self

    def for_request(self, request: int) -> Actor:
        """The same actor applying change request ``request`` (its audit entries name the request)."""
        return Actor(str(self), self.organization, request)

    def __repr__(self) -> str:
        return f"Actor({str(self)!r}, organization={self.organization!r}, request={self.request!r})"


def organization_of(actor: str) -> str | None:
    """The organization an actor acts for (None for a plain name)."""
    return getattr(actor, "organization", None)


def request_of(actor: str) -> int | None:
    """The change request an actor applies (None for a plain name)."""
    return getattr(actor, "request", None)
