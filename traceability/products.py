"""Products: a GTIN (check digit verified, stored as GTIN-14) that carries one valid, assignable szgws-me code."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from registry import audit
from registry.errors import Invalid, NotFound
from registry.paging import Page, paginate
from standards.validation import Validator, get_validator
from traceability import gs1
from traceability.access import acting_organization
from traceability.errors import check_text, conflict, invalid, issue, not_found
from traceability.files import PRODUCT_COLUMNS, read_rows
from traceability.models import PRODUCT_SCHEME, Item, Product

ENTITY = "trace_product"


def _validator(session: Session) -> Validator:
    try:
        return get_validator(session, PRODUCT_SCHEME)
    except NotFound:
        raise invalid("code", "trace.no_release", scheme=PRODUCT_SCHEME) from None


def code_issue(validator: Validator, result: dict) -> dict | None:
    """The refusal for a code's validation result (None when the code is valid and assignable)."""
    if result["valid"]:
        return None
    error = result["errors"][0]
    kind, code = error["type"], result["code"] or result["input"]
    if kind == "deprecated":
        successor = result.get("successor")
        return issue(
            "trace.code_deprecated",
            code=code,
            successor=successor,
            successor_zh=f"，请改用 {successor}" if successor else "",
            successor_en=f"; use {successor} instead" if successor else "",
        )
    if kind == "not_assignable":
        return issue("trace.code_not_assignable", code=code, name=result.get("name"))
    if kind == "unknown":
        return issue("trace.code_unknown", code=code, scheme=validator.scheme, release=validator.release)
    return issue(
        "trace.code_malformed", code=str(result["input"]), scheme=validator.scheme, detail=error["message"]
    )


def check_code(session: Session, code) -> tuple[str, str | None]:
    """(the canonical code, the release it was checked in) for a valid, assignable code of the current
    published szgws-me release. Raises Invalid naming the field ``code`` otherwise."""
    if not isinstance(code, str) or not code.strip():
        raise invalid("code", "trace.required", field="code")
    validator = _validator(session)
    result = validator.validate_one(code)
    problem = code_issue(validator, result)
    if problem is not None:
        raise Invalid(problem["message_en"], {"code": [problem]})
    return result["code"], validator.release


def _values(values: dict) -> dict:
    return {
        "name": check_text(values, "name", 200, required=True),
        "manufacturer": check_text(values, "manufacturer", 200),
    }


def register(
    session: Session,
    gtin,
    code,
    name,
    *,
    manufacturer=None,
    actor: str,
    organization: str | None = None,
    commit: bool = True,
) -> Product:
    """Register a product: its GTIN (any of GTIN-8/12/13/14) carries ``code`` (szgws-me, valid and assignable).

    One audit entry. Raises GS1Invalid/Invalid (422: bad GTIN, code, name), Conflict (the GTIN is registered),
    Forbidden (``organization`` is not a registered organization).
    """
    gtin14 = gs1.normalise_gtin(gtin)
    values = _values({"name": name, "manufacturer": manufacturer})
    canonical, release = check_code(session, code)
    org = acting_organization(session, organization)
    existing = session.scalar(select(Product).where(Product.gtin == gtin14))
    if existing is not None:
        raise conflict("gtin", "trace.gtin_registered", gtin=gtin14, name=existing.name, code=existing.code)
    product = Product(
        gtin=gtin14,
        scheme=PRODUCT_SCHEME,
        code=canonical,
        release=release,
        organization=org.code if org else None,
        **values,
    )
    session.add(product)
    audit.record_change(
        session, actor=actor, entity_type=ENTITY, entity_key=gtin14, before=None, after=product.to_dict()
    )
    if commit:
        session.commit()
    return product


def get(session: Session, gtin) -> Product:
    """The product with this GTIN (typed in any of its forms). Raises GS1Invalid (not a GTIN) or NotFound."""
    gtin14 = gs1.normalise_gtin(gtin)
    product = session.scalar(select(Product).where(Product.gtin == gtin14))
    if product is None:
        raise not_found("gtin", "trace.product_unknown", gtin=gtin14)
    return product


def for_link(session: Session, link: str) -> Product:
    """The product a scanned Digital Link names (by its GTIN, whatever its lot or serial): what a validation call
    given a link in place of a code answers with. Raises GS1Invalid (not a Digital Link), NotFound."""
    return get(session, gs1.parse_link(link).gtin)


def item_counts(session: Session, product_ids: list[int]) -> dict[int, int]:
    """How many items each product has (one grouped query)."""
    if not product_ids:
        return {}
    query = (
        select(Item.product_id, func.count())
        .where(Item.product_id.in_(product_ids))
        .group_by(Item.product_id)
    )
    return dict(session.execute(query).all())


def to_dict(product: Product, items: int | None = None) -> dict:
    """The product as the API shows it (``item_count``: how many items it has, when counted)."""
    out = product.to_dict()
    if items is not None:
        out["item_count"] = items
    return out


def list_(
    session: Session, *, q: str | None = None, code: str | None = None, page: int = 1, per_page: int = 50
) -> Page:
    """Products by GTIN, optionally those of one code or matching ``q`` (GTIN, name or manufacturer); each with
    its item count."""
    query = select(Product).order_by(Product.gtin)
    if code:
        query = query.where(Product.code == code)
    if q:
        like = f"%{q}%"
        query = query.where(
            or_(Product.gtin.like(like), Product.name.like(like), Product.manufacturer.like(like))
        )
    result = paginate(session, query, page, per_page)
    counts = item_counts(session, [p.id for p in result.items])
    result.items = [to_dict(p, counts.get(p.id, 0)) for p in result.items]
    return result


# --- bulk import of a supplier's product list ---------------------------------------------------


@dataclass
class ImportReport:
    """What a product import did (or, with ``dry_run``, would do), and every bad row."""

    file: str
    rows: int = 0
    added: int = 0
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "rows": self.rows,
            "added": self.added,
            "unchanged": self.unchanged,
            "errors": list(self.errors),
            "dry_run": self.dry_run,
        }


def _row_error(row: int, column: str, found: dict) -> dict:
    return {"row": row, "column": column, **found}


def _check_rows(session: Session, rows, report: ImportReport) -> list[dict]:
    """The rows to add, each checked (GTIN, code, name, duplicates); every bad row goes to ``report.errors``."""
    validator = _validator(session)
    results = validator.validate([r.values.get("code") or "" for r in rows])
    seen: dict[str, int] = {}
    good = []
    for r, result in zip(rows, results, strict=True):
        errors = []
        gtin, problem = gs1.gtin_problem(gs1.clean_gtin(r.values.get("gtin") or ""))
        if problem is not None:
            errors.append(_row_error(r.row, "gtin", problem.to_dict()))
        if not r.values.get("code"):
            errors.append(_row_error(r.row, "code", issue("trace.required", field="code")))
        elif (found := code_issue(validator, result)) is not None:
            errors.append(_row_error(r.row, "code", found))
        try:
            values = _values(r.values)
        except Invalid as exc:
            ((column, found),) = exc.errors.items()
            errors.append(_row_error(r.row, column, found[0]))
        if gtin is not None and gtin in seen:
            found = issue("trace.gtin_duplicate_row", gtin=gtin, other=seen[gtin])
            errors.append(_row_error(r.row, "gtin", found))
        elif gtin is not None:
            seen[gtin] = r.row
        if errors:
            report.errors.extend(errors)
        else:
            good.append((r.row, {"gtin": gtin, "code": result["code"], **values}))
    return _against_registered(session, good, report)


def _against_registered(session: Session, good: list[tuple[int, dict]], report: ImportReport) -> list[dict]:
    """Drop rows already registered exactly so (a re-import); a GTIN registered otherwise is a bad row."""
    gtins = [values["gtin"] for _, values in good]
    registered = {p.gtin: p for p in session.scalars(select(Product).where(Product.gtin.in_(gtins)))}
    out = []
    for row, values in good:
        old = registered.get(values["gtin"])
        if old is None:
            out.append(values)
        elif (old.code, old.name, old.manufacturer) == (
            values["code"],
            values["name"],
            values["manufacturer"],
        ):
            report.unchanged += 1
        else:
            found = issue("trace.gtin_registered", gtin=old.gtin, name=old.name, code=old.code)
            report.errors.append(_row_error(row, "gtin", found))
    return out


def import_file(
    session: Session,
    name: str,
    data: bytes,
    *,
    actor: str,
    organization: str | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Register the products of a supplier's list (CSV/XLSX: GTIN, code, name, manufacturer): all rows or none.

    A row already registered with the same values counts as unchanged. With ``dry_run`` nothing is written and
    the report lists every bad row; without it, any bad row raises Invalid (422) with every row's errors
    (``errors["rows"]``). One audit entry per product added. Raises Invalid (unreadable file), Forbidden
    (unknown organization).
    """
    rows = read_rows(name, data, PRODUCT_COLUMNS, ("gtin",))
    report = ImportReport(name, rows=len(rows), dry_run=dry_run)
    org = acting_organization(session, organization)
    good = _check_rows(session, rows, report)
    report.errors.sort(key=lambda e: e["row"])
    if dry_run:
        report.added = len(good)
        session.rollback()
        return report
    if report.errors:
        raise Invalid(
            f"{len({e['row'] for e in report.errors})} row(s) of {name} are not valid; nothing was imported",
            {"rows": report.errors},
        )
    release = _validator(session).release
    for values in good:
        product = Product(
            scheme=PRODUCT_SCHEME, release=release, organization=org.code if org else None, **values
        )
        session.add(product)
        audit.record_change(
            session,
            actor=actor,
            entity_type=ENTITY,
            entity_key=product.gtin,
            before=None,
            after=product.to_dict(),
        )
    report.added = len(good)
    session.commit()
    return report


# --- current state, for audit verification ------------------------------------------------------


def _snapshot(session: Session, key: str) -> dict | None:
    product = session.scalar(select(Product).where(Product.gtin == key))
    return None if product is None else product.to_dict()


def _snapshot_all(session: Session) -> dict[str, dict]:
    return {p.gtin: p.to_dict() for p in session.scalars(select(Product))}


audit.register_entity(
    ENTITY, _snapshot, lambda s: s.scalars(select(Product.gtin)), _snapshot_all, tables=("trace_product",)
)
