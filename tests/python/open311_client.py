"""Drives gridsync's Open311 GeoReport v2 endpoint with the real `georeport` client (its read
calls, in JSON and XML) and posts form-encoded requests as civic clients do. Prints one JSON
object with what it saw; server/tests/api/open311.rs asserts on it.

Usage: open311_client.py BASE_URL SERVICE_CODE LAT LONG API_KEY DISPATCHED_ID
"""
import json
import sys

import requests
from georeport import GeoReport

base, service_code, lat, long, api_key, dispatched_id = sys.argv[1:7]
root = f"{base}/open311/v2"
out = {}

# Form-encoded POSTs: one anonymous, one from a trusted client with its API key, one refused.
anonymous = requests.post(f"{root}/requests.json", data={
    "service_code": service_code, "lat": lat, "long": long,
    "description": "路灯不亮，晚上很黑",
})
out["anonymous_status"] = anonymous.status_code
out["anonymous"] = anonymous.json()
trusted = requests.post(f"{root}/requests.xml", data={
    "api_key": api_key, "service_code": service_code, "lat": lat, "long": long,
    "description": "同一处路灯又坏了", "first_name": "张", "last_name": "三", "phone": "13800000000",
})
out["trusted_status"] = trusted.status_code
out["trusted_xml"] = trusted.text
bad_key = requests.post(f"{root}/requests.json", data={
    "api_key": "wrong", "service_code": service_code, "lat": lat, "long": long, "description": "x",
})
out["bad_key_status"] = bad_key.status_code
missing = requests.post(f"{root}/requests.json", data={"service_code": service_code, "description": "x"})
out["missing_location_status"] = missing.status_code
out["missing_location_code"] = missing.json()[0]["code"]
# A service with questions: answered, and with its required answer missing.
construction = {"service_code": "environment.noise.construction", "lat": lat, "long": long,
                "description": "工地夜里施工", "attribute[period]": "night", "attribute[site]": "万达广场工地"}
answered = requests.post(f"{root}/requests.json", data=construction)
out["answered_status"] = answered.status_code
out["answered"] = answered.json()
unanswered = requests.post(f"{root}/requests.json", data={k: v for k, v in construction.items() if k != "attribute[period]"})
out["unanswered_status"] = unanswered.status_code
out["unanswered_code"] = unanswered.json()[0]["code"]

# GeoReport v2's own documents, read with xmltodict as georeport reads them: the discovery
# document and the error format of an XML resource.
import xmltodict

discovery = xmltodict.parse(requests.get(f"{root}/discovery.xml").content)["discovery"]
endpoint = discovery["endpoints"]["endpoint"]
out["discovery_formats"] = endpoint["formats"]["format"]
out["discovery_specification"] = endpoint["specification"]
missing_xml = requests.get(f"{root}/services/no.such.service.xml")
out["missing_service_status"] = missing_xml.status_code
out["missing_service_error"] = xmltodict.parse(missing_xml.content)["errors"]["error"]
refused_xml = requests.post(f"{root}/requests.xml", data={
    "api_key": "wrong", "service_code": service_code, "lat": lat, "long": long, "description": "x",
})
out["refused_status"] = refused_xml.status_code
out["refused_error"] = xmltodict.parse(refused_xml.content)["errors"]["error"]

for fmt in ("json", "xml"):
    client = GeoReport(root, output_format=fmt)
    services = client.get_service_list()
    if isinstance(services, dict):
        services = [services]
    out[f"services_{fmt}"] = [s["service_code"] for s in services]
    out[f"service_details_{fmt}"] = {
        s["service_code"]: [s.get("service_name"), s.get("group"), str(s.get("metadata")).lower()]
        for s in services
    }
    out[f"definition_{fmt}"] = client.get_service_definition(service_code)
    out[f"construction_{fmt}"] = client.get_service_definition("environment.noise.construction")
    listed = client.get_service_requests(service_code=service_code, status="open")
    if isinstance(listed, dict):
        listed = [listed]
    out[f"open_{fmt}"] = sorted(r["service_request_id"] for r in listed)
    closed = client.get_service_requests(status="closed")
    out[f"closed_{fmt}"] = closed if fmt == "json" else (closed or [])
    keys = ("service_request_id", "status", "status_notes", "service_code", "agency_responsible", "expected_datetime")
    one = client.get_service_request(out["anonymous"][0]["service_request_id"])
    out[f"one_{fmt}"] = {k: one.get(k) for k in keys}
    dispatched = client.get_service_request(dispatched_id)
    out[f"dispatched_{fmt}"] = {k: dispatched.get(k) for k in keys}
    by_ids = client.get_service_requests(service_request_id=out["anonymous"][0]["service_request_id"])
    if isinstance(by_ids, dict):
        by_ids = [by_ids]
    out[f"by_ids_{fmt}"] = [r["service_request_id"] for r in by_ids]

print(json.dumps(out, ensure_ascii=False))
