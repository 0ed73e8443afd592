"""Lineage tables: raw OpenLineage events, the datasets and jobs they name, edges with validity intervals, flows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, utcnow

#: node ids (``dataset:{namespace}:{name}``) can carry long URIs as namespaces and paths as names
NODE_ID = 1000


class LineageEvent(Base):
    """One accepted OpenLineage event, kept as received (``body``) with the fields queries need."""

    __tablename__ = "lineage_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: sha256 of the event's canonical JSON: a resent event (client retry) is recognised, not stored twice
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # RunEvent | DatasetEvent | JobEvent
    event_type: Mapped[str | None] = mapped_column(String(20))  # START, RUNNING, COMPLETE, ABORT, FAIL, OTHER
    event_time: Mapped[dt.datetime] = mapped_column(DateTime)
    run_id: Mapped[str | None] = mapped_column(String(64))
    job_namespace: Mapped[str | None] = mapped_column(String(NODE_ID))
    job_name: Mapped[str | None] = mapped_column(String(NODE_ID))
    producer: Mapped[str | None] = mapped_column(String(NODE_ID))
    body: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    #: what intake assumed to read the event (an old spec, no schemaURL, a time without a zone)
    warnings: Mapped[list | None] = mapped_column(JSON)


class LineageNode(Base):
    """A dataset or job seen in an event or named by a declared flow; ``facets`` keeps its latest facets."""

    __tablename__ = "lineage_node"

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(String(NODE_ID), unique=True)
    type: Mapped[str] = mapped_column(String(10))  # dataset | job
    namespace: Mapped[str] = mapped_column(String(NODE_ID))
    name: Mapped[str] = mapped_column(String(NODE_ID))
    facets: Mapped[dict | None] = mapped_column(JSON)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime)
    #: a job's parent job (``job:{namespace}:{name}``), from the newest ``parent`` run facet
    parent: Mapped[str | None] = mapped_column(String(NODE_ID))


class LineageAlias(Base):
    """Another identifier of a dataset node, from its ``symlinks`` facet (a Hive table and its file
    location): queries take either, the graph holds one node."""

    __tablename__ = "lineage_alias"
    __table_args__ = (UniqueConstraint("alias", "node_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alias: Mapped[str] = mapped_column(String(NODE_ID))  # dataset:{namespace}:{name} of the identifier
    node_id: Mapped[str] = mapped_column(String(NODE_ID))  # the dataset whose facet named it
    type: Mapped[str | None] = mapped_column(String(100))  # the identifier's type, e.g. TABLE
    #: the event that first named it
    event_id: Mapped[int | None] = mapped_column(ForeignKey("lineage_event.id"))


class LineageFlow(Base):
    """A flow declared by hand (file drops, database syncs that emit no events), valid until it is ended."""

    __tablename__ = "lineage_flow"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(NODE_ID))
    target: Mapped[str] = mapped_column(String(NODE_ID))
    job: Mapped[str | None] = mapped_column(String(NODE_ID))
    description: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[dt.datetime] = mapped_column(DateTime)
    valid_to: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    #: the flow's column mapping, ``[{"source": field, "target": field, "transformation"}]`` (None: none)
    columns: Mapped[list | None] = mapped_column(JSON)

    def to_dict(self) -> dict:
        out = {
            "id": self.id,
            "source": self.source,
            "target": self.target,
            "job": self.job,
            "description": self.description,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "created_by": self.created_by,
        }
        if self.columns:  # only when set: flows audited before column mappings keep their snapshots
            out["columns"] = self.columns
        return out


class LineageEdge(Base):
    """An edge and the interval ``[valid_from, valid_to)`` in which it existed (``valid_to`` None: still open).

    kinds: ``input`` (dataset → job), ``output`` (job → dataset), ``flow`` (dataset → dataset, declared).
    An edge comes from an event (``event_id``, the run that first listed it) or a declared flow (``flow_id``);
    ``closed_by`` is the event whose run no longer listed it.
    """

    __tablename__ = "lineage_edge"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(NODE_ID))
    target: Mapped[str] = mapped_column(String(NODE_ID))
    kind: Mapped[str] = mapped_column(String(10))
    #: the job node the edge enters or leaves (None for a declared dataset → dataset flow): intake finds
    #: a job's open edges by it. One index, not two on source and target: intake writes fewer pages
    job: Mapped[str | None] = mapped_column(String(NODE_ID), index=True)
    valid_from: Mapped[dt.datetime] = mapped_column(DateTime)
    valid_to: Mapped[dt.datetime | None] = mapped_column(DateTime)
    run_id: Mapped[str | None] = mapped_column(String(64))
    #: not indexed: only audit verify reads edges by event (all at once), and every index costs intake
    event_id: Mapped[int | None] = mapped_column(ForeignKey("lineage_event.id"))
    closed_by: Mapped[int | None] = mapped_column(Integer)
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("lineage_flow.id"))


class LineageColumnEdge(Base):
    """The column edges (source field → target field) one event's ``columnLineage`` facet on one output
    opened, or one flow's column mapping, valid in ``[valid_from, valid_to)`` like a dataset edge: ONE
    row holding every edge that shares the target dataset, the job, the interval and the event (since
    migration 0014; a row per edge made the first column-level question read 400,000 rows of nine
    values each). An event that ends some of a row's edges splits it: the row keeps the open ones and a
    new row (same ``valid_from`` and ``event_id``) holds the ended ones.

    ``edges`` is ``lineage.columns.store.pack``'s JSON: ``[transformations, groups]``, the distinct
    transformation lists (each the canonical JSON text ``facet.canonical`` makes) and, for each run
    of consecutive edges from one source dataset, ``[source dataset id, [source field…], [target
    field or null…], [transformation index…]]``. A null target field is a dataset-wide entry (the
    facet's 1-2-0 ``dataset`` list): the source field shapes every row of ``target_dataset``.
    """

    __tablename__ = "lineage_column_edge"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: intake finds a dataset's open column edges by it (with ``job``)
    target_dataset: Mapped[str] = mapped_column(String(NODE_ID), index=True)
    job: Mapped[str | None] = mapped_column(String(NODE_ID))
    valid_from: Mapped[dt.datetime] = mapped_column(DateTime)
    valid_to: Mapped[dt.datetime | None] = mapped_column(DateTime)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("lineage_event.id"))
    closed_by: Mapped[int | None] = mapped_column(Integer)
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("lineage_flow.id"))
    #: how many edges ``edges`` holds
    edge_count: Mapped[int] = mapped_column(Integer)
    edges: Mapped[str] = mapped_column(Text)
