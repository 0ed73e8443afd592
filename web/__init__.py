"""Delivery: the Flask app factory, the JSON API, the browse pages and the ``yima`` command."""

from web.app import create_app

__all__ = ["create_app"]
