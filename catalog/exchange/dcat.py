"""The DCAT export: the published resources as a DCAT 3 catalog in JSON-LD (``GET /api/v1/catalog/dcat``,
``yima catalog export --format dcat``), with the DCAT-AP mandatory properties and the context inline."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import categories
from catalog.models import DataResource, Organization

DCAT_CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
}
_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
FREQUENCIES = {
    "realtime": "UPDATE_CONT",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "yearly": "ANNUAL",
}
_ACCESS = "http://publications.europa.eu/resource/authority/access-right/"
ACCESS_RIGHTS = {"unconditional": "PUBLIC", "conditional": "RESTRICTED", "none": "NON_PUBLIC"}


def _zh(text: str | None) -> dict:
    return {"@value": text or "", "@language": "zh"}


def _agent(base: str, org: Organization | None, code: str) -> dict:
    return {
        "@id": f"{base}/api/v1/organizations/{code}",
        "@type": "foaf:Agent",
        "foaf:name": _zh(org.name if org else code),
        "dct:identifier": code,
    }


def dcat_jsonld(session: Session, base_url: str = "http://localhost") -> dict:
    """The published resources as a DCAT 3 catalog in JSON-LD (context inline, so no network is needed).

    DCAT-AP mandatory properties: the catalog's title, description and publisher (the bureau); each
    dataset's title and description; each distribution's accessURL. Also identifier, keywords, theme
    (category), issued, accrualPeriodicity and accessRights (EU vocabularies), contact point, relations.
    """
    base = base_url.rstrip("/")
    orgs = {o.code: o for o in session.scalars(select(Organization))}
    publisher = next((o for o in sorted(orgs.values(), key=lambda o: o.code) if o.kind == "bureau"), None)
    query = select(DataResource).where(DataResource.status == "published").order_by(DataResource.code)
    datasets = [_dataset(base, r, orgs.get(r.provider)) for r in session.scalars(query)]
    pub_code = publisher.code if publisher else "yima"
    return {
        "@context": DCAT_CONTEXT,
        "@id": f"{base}/api/v1/catalog/dcat",
        "@type": "dcat:Catalog",
        "dct:title": [
            _zh(f"{publisher.name if publisher else 'Yima'}数据资源目录"),
            {"@value": "Data resource catalog", "@language": "en"},
        ],
        "dct:description": _zh("政府工程数据资源目录：信息系统、数据资源及其信息项、共享与开放属性。"),
        "dct:publisher": _agent(base, publisher, pub_code),
        "dcat:dataset": datasets,
    }


def _dataset(base: str, r: DataResource, provider: Organization | None) -> dict:
    """One published resource as a ``dcat:Dataset`` with its one distribution (the API address)."""
    url = f"{base}/api/v1/resources/{r.code}"
    ds = {
        "@id": url,
        "@type": "dcat:Dataset",
        "dct:identifier": r.code,
        "dct:title": _zh(r.name),
        "dct:description": _zh(r.summary),
        "dct:publisher": _agent(base, provider, r.provider),
        "dcat:theme": {
            "@id": f"{base}/api/v1/catalog/categories#{r.category}",
            "@type": "skos:Concept",
            "skos:prefLabel": _zh(categories.name(r.category)),
            "skos:notation": r.category,
        },
        "dct:accessRights": {"@id": _ACCESS + ACCESS_RIGHTS.get(r.share_type, "RESTRICTED")},
        "dcat:distribution": [
            {
                "@id": f"{url}#distribution",
                "@type": "dcat:Distribution",
                "dcat:accessURL": {"@id": url},
                "dct:title": _zh(f"{r.name}（{r.share_method or r.format or '接口'}）"),
                "dcat:mediaType": {"@id": "https://www.iana.org/assignments/media-types/application/json"},
                "dct:format": r.format or "",
            }
        ],
    }
    if r.tags:
        ds["dcat:keyword"] = [_zh(t) for t in r.tags]
    if r.published_on:
        ds["dct:issued"] = {"@value": r.published_on.isoformat(), "@type": "xsd:date"}
    if r.update_cycle in FREQUENCIES:
        ds["dct:accrualPeriodicity"] = {"@id": _FREQUENCY + FREQUENCIES[r.update_cycle]}
    if r.steward:
        ds["dcat:contactPoint"] = {"@type": "vcard:Kind", "vcard:fn": r.steward}
    if r.related:
        ds["dct:relation"] = [{"@id": f"{base}/api/v1/resources/{c}"} for c in r.related]
    if r.lineage:
        ds["dct:source"] = {"@id": f"urn:openlineage:{r.lineage_namespace}:{r.lineage_name}"}
    return ds


def dumps_jsonld(document: dict) -> str:
    """The document as the JSON-LD text that is served and written (UTF-8, indented)."""
    return json.dumps(document, ensure_ascii=False, indent=2)


def export_dcat(session: Session, path: Path, base_url: str = "http://localhost") -> dict:
    """Write the DCAT document to ``path``; returns ``{"datasets": n}``."""
    document = dcat_jsonld(session, base_url)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(dumps_jsonld(document), encoding="utf-8")
    return {"datasets": len(document["dcat:dataset"])}
