"""QGIS itself (Debian's python3-qgis and its OAPIF provider) opening gridsync's OGC API.

Usage: /usr/bin/python3 open_layers.py OGC_URL USERNAME PASSWORD [COLLECTION:FEATURE_ID ...]

Opens `grids`, `regions` and `records` as a GIS officer would in QGIS (Layer > Add WFS / OGC
API - Features Layer, Basic authentication with the account's name and password), reads every
feature, and prints a JSON report for the Rust test (server/tests/api/qgis.rs) to check against
the server's own state: whether each layer is valid, its CRS, QGIS's feature count before
reading, the features read, how many geometries GEOS finds invalid, and for each
COLLECTION:FEATURE_ID asked for, that feature's attributes and geometry as WKT.

Runs with QT_QPA_PLATFORM=offscreen and a throwaway QGIS profile; needs no display.
"""

import json
import os
import shutil
import sys
import tempfile

from qgis.core import (
    QgsApplication,
    QgsDataSourceUri,
    QgsFeatureRequest,
    QgsVectorLayer,
)

COLLECTIONS = ["grids", "regions", "records"]


def layer(url, collection, username, password):
    uri = QgsDataSourceUri()
    uri.setParam("url", url)
    uri.setParam("typename", collection)
    uri.setUsername(username)
    uri.setPassword(password)
    return QgsVectorLayer(uri.uri(False), collection, "OAPIF")


def describe(lyr):
    invalid = 0
    ids = []
    for feature in lyr.getFeatures():
        geometry = feature.geometry()
        if not geometry.isNull() and not geometry.isGeosValid():
            invalid += 1
        ids.append(feature["id"] if "id" in feature.fields().names() else feature.id())
    return {
        "valid": lyr.isValid(),
        "crs": lyr.crs().authid(),
        "geometry_type": lyr.geometryType(),
        "fields": lyr.fields().names(),
        "read": len(ids),
        "invalid_geometries": invalid,
    }


def feature_by_id(lyr, feature_id):
    expression = f"\"id\" = '{feature_id}'"
    for feature in lyr.getFeatures(QgsFeatureRequest().setFilterExpression(expression)):
        attributes = {
            name: (None if value is None else str(value))
            for name, value in zip(feature.fields().names(), feature.attributes())
        }
        return {"attributes": attributes, "wkt": feature.geometry().asWkt(7)}
    return None


def main():
    url, username, password = sys.argv[1], sys.argv[2], sys.argv[3]
    wanted = [a.split(":", 1) for a in sys.argv[4:]]
    profile = tempfile.mkdtemp(prefix="gridsync-qgis-")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QgsApplication([], False, profile)
    app.initQgis()
    messages = []
    QgsApplication.messageLog().messageReceived.connect(
        lambda message, tag, level: messages.append(f"{tag}: {message}")
    )
    report = {"layers": {}, "features": {}}
    layers = {}
    for collection in COLLECTIONS:
        lyr = layer(url, collection, username, password)
        layers[collection] = lyr
        entry = {"count_before_reading": lyr.featureCount() if lyr.isValid() else None}
        if lyr.isValid():
            entry.update(describe(lyr))
        else:
            entry.update({"valid": False, "error": "; ".join(messages[-3:])})
        report["layers"][collection] = entry
    for collection, feature_id in wanted:
        lyr = layers.get(collection)
        found = feature_by_id(lyr, feature_id) if lyr is not None and lyr.isValid() else None
        report["features"][f"{collection}:{feature_id}"] = found
    print(json.dumps(report, ensure_ascii=False))
    sys.stdout.flush()
    shutil.rmtree(profile, ignore_errors=True)
    # QGIS 3.22's teardown crashes now and then (providers' threads outliving the application);
    # what was to be seen has been printed, so leave without it.
    os._exit(0)


if __name__ == "__main__":
    main()
