"""``yima worker``: the webhook delivery loop alone (beside or instead of the one in ``yima serve``)."""

from __future__ import annotations

import logging
import signal
import threading

import click

from registry.signed_note import signer_for
from web.cli.groups import get_config, get_db, main
from webhooks import checkpoint_events
from webhooks.settings import WebhookSettings
from webhooks.worker import DeliveryLoop


@main.command()
@click.option(
    "--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Webhooks sent to at once."
)
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (for cron).")
def worker(threads, once):
    """Deliver webhooks until stopped (SIGTERM or Ctrl+C finish the sends in flight first).

    Any number of workers and servers may run on one database: they share the webhooks and never
    send one webhook's events in parallel. One line is printed per change of state.
    """
    stop = threading.Event()

    def _stop(signum, _frame):
        click.echo(f"worker: {signal.Signals(signum).name} received, finishing the sends in flight", err=True)
        stop.set()

    if not once:  # first thing: a stop asked for while starting up is honoured too
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    _log_lines()
    database = get_db()
    config = get_config()
    checkpoint_events.install(database, signer_for(config), config.checkpoint_event_seconds)
    loop = DeliveryLoop(database, WebhookSettings.from_config(config), threads=threads, name="worker")
    if once:
        click.echo(f"delivered {loop.run_once()} messages")
        return
    loop.start()
    click.echo(f"worker: delivering on {database.dialect} with {threads} threads; Ctrl+C stops", err=True)
    while not stop.wait(1.0):
        pass
    loop.stop()
    click.echo(f"worker: stopped ({loop.delivered} delivered)", err=True)


def _log_lines() -> None:
    """The loop's state changes (failing, recovered, disabled, lease lost) as one line each on stderr."""
    logger = logging.getLogger("yima.webhooks")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
