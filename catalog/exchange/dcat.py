"""The DCAT export: the published resources as a DCAT 3 catalog in JSON-LD (``GET /api/v1/catalog/dcat``,
``yima catalog export --format dcat``), conforming to the DCAT-AP 3.0.1 SHACL shapes, context inline.

Values from controlled vocabularies (EU authority tables, IANA media types, ADMS publisher types) are
IRIs typed inline with the class DCAT-AP expects (``dct:Frequency``, ``dct:RightsStatement`` …), so
the shapes' class checks pass without fetching the vocabularies. The mapping: docs/catalog.md "DCAT".
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog import categories
from catalog.models import SHARE_TYPES, DataResource, Organization, ResourceRevision

DCAT_CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "adms": "http://www.w3.org/ns/adms#",
}
_EU = "http://publications.europa.eu/resource/authority/"
_FREQUENCY = _EU + "frequency/"
FREQUENCIES = {
    "realtime": "UPDATE_CONT",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "yearly": "ANNUAL",
}
_ACCESS = _EU + "access-right/"
ACCESS_RIGHTS = {"unconditional": "PUBLIC", "conditional": "RESTRICTED", "none": "NON_PUBLIC"}
#: 信息资源格式 → (EU file-type, IANA media type or None): 电子文件 are documents (PDF), 自描述格式 the
#: guide's XML/JSON (XML first, as the guide lists it), 服务接口 an API (REST; no one media type)
FORMATS = {
    "电子文件": ("PDF", "application/pdf"),
    "电子表格": ("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "数据库": ("SQL", "application/sql"),
    "图形图像": ("JPEG", "image/jpeg"),
    "流媒体": ("MPEG4", "video/mp4"),
    "自描述格式": ("XML", "application/xml"),
    "服务接口": ("REST", None),
}
_FILE_TYPE = _EU + "file-type/"
_MEDIA_TYPE = "https://www.iana.org/assignments/media-types/"
#: the language of every title and description Yima writes
LANGUAGE = {"@id": _EU + "language/ZHO", "@type": "dct:LinguisticSystem"}
#: the bureau's jurisdiction, Shenzhen, as GeoNames names it (the catalog is the city bureau's)
SPATIAL = {"@id": "http://sws.geonames.org/1795565/", "@type": "dct:Location", "skos:prefLabel": "深圳市"}
#: organization kind → ADMS publisher type (kinds that may be either, owner and other, get none)
_PUBLISHER_TYPE = "http://purl.org/adms/publishertype/"
PUBLISHER_TYPES = {
    "bureau": "LocalAuthority",
    "contractor": "Company",
    "supervisor": "Company",
    "designer": "Company",
    "assessor": "Company",
    "supplier": "Company",
}


def _zh(text: str | None) -> dict:
    return {"@value": text or "", "@language": "zh"}


def _datetime(value) -> dict:
    return {"@value": value.replace(microsecond=0).isoformat() + "Z", "@type": "xsd:dateTime"}


def _agent(base: str, org: Organization | None, code: str) -> dict:
    agent = {
        "@id": f"{base}/api/v1/organizations/{code}",
        "@type": "foaf:Agent",
        "foaf:name": _zh(org.name if org else code),
        "dct:identifier": code,
    }
    kind = PUBLISHER_TYPES.get(org.kind) if org else None
    if kind:
        agent["dct:type"] = {"@id": _PUBLISHER_TYPE + kind, "@type": "skos:Concept", "skos:prefLabel": kind}
    return agent


def _taxonomy(base: str) -> dict:
    return {
        "@id": f"{base}/api/v1/catalog/categories",
        "@type": "skos:ConceptScheme",
        "dct:title": _zh("政务信息资源分类（类、项、目）"),
    }


def dcat_jsonld(session: Session, base_url: str = "http://localhost") -> dict:
    """The published resources as a DCAT 3 catalog in JSON-LD (context inline, so no network is needed)
    that has no DCAT-AP 3.0.1 SHACL violation.

    Catalog: title, description, publisher (the bureau, with its ADMS publisher type), language,
    spatial coverage, theme taxonomy (the category tree), homepage, issued and modified. Each
    dataset: identifier, title, description, publisher, theme, access rights, frequency, issued
    (published_on), modified (its newest revision), language, spatial, keywords, contact point,
    landing page, relations, its lineage identity (``adms:identifier``), and one distribution.
    """
    base = base_url.rstrip("/")
    orgs = {o.code: o for o in session.scalars(select(Organization))}
    publisher = next((o for o in sorted(orgs.values(), key=lambda o: o.code) if o.kind == "bureau"), None)
    query = select(DataResource).where(DataResource.status == "published").order_by(DataResource.code)
    published = list(session.scalars(query))
    modified = dict(
        session.execute(
            select(ResourceRevision.resource_code, func.max(ResourceRevision.at))
            .where(ResourceRevision.resource_code.in_([r.code for r in published]))
            .group_by(ResourceRevision.resource_code)
        ).all()
    )
    datasets = [_dataset(base, r, orgs.get(r.provider), modified.get(r.code)) for r in published]
    pub_code = publisher.code if publisher else "yima"
    catalog = {
        "@context": DCAT_CONTEXT,
        "@id": f"{base}/api/v1/catalog/dcat",
        "@type": "dcat:Catalog",
        "dct:title": [
            _zh(f"{publisher.name if publisher else 'Yima'}数据资源目录"),
            {"@value": "Data resource catalog", "@language": "en"},
        ],
        "dct:description": _zh("政府工程数据资源目录：信息系统、数据资源及其信息项、共享与开放属性。"),
        "dct:publisher": _agent(base, publisher, pub_code),
        "dct:language": LANGUAGE,
        "dct:spatial": SPATIAL,
        "dcat:themeTaxonomy": _taxonomy(base),
        "foaf:homepage": {"@id": f"{base}/catalog", "@type": "foaf:Document"},
        "dcat:dataset": datasets,
    }
    issued = [r.published_on for r in published if r.published_on]
    if issued:
        catalog["dct:issued"] = {"@value": min(issued).isoformat(), "@type": "xsd:date"}
    if modified:
        catalog["dct:modified"] = _datetime(max(modified.values()))
    return catalog


def _dataset(base: str, r: DataResource, provider: Organization | None, modified) -> dict:
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
            "skos:inScheme": {"@id": f"{base}/api/v1/catalog/categories"},
        },
        "dct:accessRights": _access_rights(r),
        "dct:language": LANGUAGE,
        "dct:spatial": SPATIAL,
        "dcat:landingPage": {"@id": f"{base}/catalog/{r.code}", "@type": "foaf:Document"},
        "dcat:distribution": [_distribution(url, r)],
    }
    if r.tags:
        ds["dcat:keyword"] = [_zh(t) for t in r.tags]
    if r.published_on:
        ds["dct:issued"] = {"@value": r.published_on.isoformat(), "@type": "xsd:date"}
    if modified is not None:
        ds["dct:modified"] = _datetime(modified)
    if r.update_cycle in FREQUENCIES:
        ds["dct:accrualPeriodicity"] = {
            "@id": _FREQUENCY + FREQUENCIES[r.update_cycle],
            "@type": "dct:Frequency",
        }
    if r.steward:
        ds["dcat:contactPoint"] = {"@type": "vcard:Kind", "vcard:fn": r.steward}
    if r.related:
        ds["dct:relation"] = [{"@id": f"{base}/api/v1/resources/{c}"} for c in r.related]
    if r.lineage:
        # the dataset's own identity in the lineage graph: another identifier of it, not a source
        ds["adms:identifier"] = {
            "@type": "adms:Identifier",
            "skos:notation": f"dataset:{r.lineage_namespace}:{r.lineage_name}",
            "adms:schemaAgency": "OpenLineage",
        }
    return ds


def _access_rights(r: DataResource) -> dict:
    """The EU access-right value, typed, with the resource's own share (or open) condition as its label."""
    rights = {"@id": _ACCESS + ACCESS_RIGHTS.get(r.share_type, "RESTRICTED"), "@type": "dct:RightsStatement"}
    condition = r.share_condition or (r.open_condition if r.open_to_public else None)
    if condition:
        rights["skos:prefLabel"] = _zh(condition)
    return rights


def _offer(r: DataResource) -> str:
    """How the resource is shared, as the catalog says it: 以接口方式有条件共享：仅向参建单位共享。"""
    way = f"以{r.share_method}方式" if r.share_method else ""
    text = f"{way}{SHARE_TYPES.get(r.share_type, r.share_type)}"
    return f"{text}：{r.share_condition}" if r.share_condition else text


def _distribution(url: str, r: DataResource) -> dict:
    """The resource as offered (``share_method``), its format an EU file-type IRI mapped from 信息资源格式."""
    dist = {
        "@id": f"{url}#distribution",
        "@type": "dcat:Distribution",
        "dcat:accessURL": {"@id": url},
        "dct:title": _zh(f"{r.name}（{r.share_method or r.format or '接口'}）"),
        "dct:description": _zh(_offer(r)),
    }
    file_type, media_type = FORMATS.get(r.format or "", (None, None))
    if file_type:
        dist["dct:format"] = {"@id": _FILE_TYPE + file_type, "@type": "dct:MediaTypeOrExtent"}
    if media_type:
        dist["dcat:mediaType"] = {"@id": _MEDIA_TYPE + media_type, "@type": "dct:MediaType"}
    return dist


def dumps_jsonld(document: dict) -> str:
    """The document as the JSON-LD text that is served and written (UTF-8, indented)."""
    return json.dumps(document, ensure_ascii=False, indent=2)


def export_dcat(session: Session, path: Path, base_url: str = "http://localhost") -> dict:
    """Write the DCAT document to ``path``; returns ``{"datasets": n}``."""
    document = dcat_jsonld(session, base_url)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(dumps_jsonld(document), encoding="utf-8")
    return {"datasets": len(document["dcat:dataset"])}
