"""Every list the API returns is in the contract's envelope ``{"items", "total", "page", "per_page"}``:
checked over the whole OpenAPI document, so a new bare array or half envelope fails here.

The one exception is a cursor feed (``/api/v1/changes``): it is read by ``after_seq`` and answers
``next_seq``/``head_seq`` instead of pages (a page number over a growing log would skip or repeat)."""


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def test_every_list_in_the_openapi_is_in_the_envelope(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    bad = []
    for path, operations in spec["paths"].items():
        op = operations.get("get")
        if not op:
            continue
        content = op["responses"].get("200", {}).get("content", {})
        schema = next((c["schema"] for c in content.values() if "schema" in c), None)
        if schema is None:
            continue
        schema = _resolve(spec, schema)
        props = set(schema.get("properties", {}))
        if {"items", "next_seq"} <= props and "page" not in props:
            continue  # a cursor feed, see the module doc
        if schema.get("type") == "array":
            bad.append(f"{path}: a bare array")
        elif "items" in props and not {"total", "page", "per_page"} <= props:
            bad.append(f"{path}: items without {sorted({'total', 'page', 'per_page'} - props)}")
        elif (
            "page" in {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
            and "items" not in props
        ):
            bad.append(f"{path}: takes ?page= but answers no items")
    assert bad == []
