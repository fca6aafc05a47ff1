"""OWSLib, the OGC client library QGIS's Python tooling uses, against gridsync's OGC API.

Usage: ogc_client.py BASE_URL TOKEN. Reads collections and items, then creates, replaces and
deletes a grid through OGC API - Features Part 4, and prints what it saw as JSON for the Rust
test (server/tests/api/ogc.rs) to check against the server's own state.
"""

import json
import sys

import requests
from owslib.ogcapi.features import Features
from owslib.util import Authentication


class Bearer(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def grid(code, name, bbox):
    x0, y0, x1, y1 = bbox
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
        },
    }


def main():
    base, token = sys.argv[1], sys.argv[2]
    api = Features(base, auth=Authentication(auth_delegate=Bearer(token)))
    report = {}
    conformance = api.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    report["collections"] = [c["id"] for c in api.collections()["collections"]]
    assert api.collection("grids")["itemType"] == "feature"
    feature_collections = api.feature_collections()
    assert "grids" in feature_collections, feature_collections
    items = api.collection_items("grids", bbox=[124.311, 43.101, 124.319, 43.119])
    report["grids_in_bbox"] = [f["id"] for f in items["features"]]
    report["item_a_name"] = api.collection_item("grids", "A")["properties"]["name"]
    report["first_page"] = len(api.collection_items("grids", limit=2)["features"])

    # A new grid outside the village, renamed, then retired.
    area = grid("E", "new grid", [124.40, 43.10, 124.41, 43.11])
    report["created"] = api.collection_item_create("grids", area)
    renamed = grid("E", "新网格", [124.40, 43.10, 124.41, 43.11])
    api.collection_item_update("grids", "E", json.dumps(renamed, ensure_ascii=False).encode())
    report["updated_name"] = api.collection_item("grids", "E")["properties"]["name"]
    report["deleted"] = api.collection_item_delete("grids", "E")
    try:
        api.collection_item("grids", "E")
        report["gone"] = False
    except RuntimeError:
        report["gone"] = True
    assert report["gone"]
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
