"""Measures the console in Debian's chromium (Playwright), for server/benches/console.rs.

Usage: measure.py PLAN_JSON, plan {"base", "city": {"username", "password"},
"leader": {"username", "password"}}. Prints one JSON object:
- city: a cold first load of the city screen at 1920×1080 — milliseconds from navigation
  until every grid is drawn, the grids drawn, the compressed bytes of JavaScript and CSS and of
  everything; then a zoom and a pan with the mouse while every animation frame is timed.
- leader: the leader's pages over Chromium's emulated 2G (250 kbit/s, 800 ms latency) with a
  cold cache and again warm — from submitting the login form until the queue is listed
  (usable), and until the grid map has drawn.
"""

import json
import sys
import time

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
RESOURCES = """() => performance.getEntriesByType('resource').concat(
  performance.getEntriesByType('navigation')).map(e => ({
    name: e.name, type: e.initiatorType, encoded: e.encodedBodySize, transfer: e.transferSize }))"""
FRAMES = """() => { window.__frames = []; const tick = (t) => { window.__frames.push(t);
  window.__frameLoop = requestAnimationFrame(tick); }; window.__frameLoop = requestAnimationFrame(tick); }"""
FRAME_STATS = """() => { cancelAnimationFrame(window.__frameLoop); const f = window.__frames;
  const d = f.slice(1).map((t, i) => t - f[i]).sort((a, b) => a - b);
  const q = (p) => d[Math.min(d.length - 1, Math.floor(p * d.length))];
  return { frames: f.length, seconds: (f[f.length - 1] - f[0]) / 1000, median_ms: q(0.5),
           p95_ms: q(0.95), worst_ms: d[d.length - 1] }; }"""


def login(page, base, account):
    page.goto(base + "/console/login")
    page.fill("#username", account["username"])
    page.fill("#password", account["password"])
    page.click("button[type=submit]")
    page.wait_for_selector("main.page h1")


def city(browser, base, account, outlines):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    login(context.new_page(), base, account)
    page = context.new_page()
    page.goto(f"{base}/console/#/city?outlines={outlines}")
    page.wait_for_selector("#city-map[data-ready=true]", timeout=180000)
    drawn_ms = page.evaluate("performance.now()")
    resources = page.evaluate(RESOURCES)
    code = [r for r in resources if r["name"].split("?")[0].endswith((".js", ".css"))]
    out = {
        "drawn_ms": round(drawn_ms),
        "drawn_grids": int(page.get_attribute("#city-map", "data-drawn-grids")),
        "js_css_compressed_bytes": sum(r["encoded"] for r in code),
        "js_css_files": len(code),
        "all_compressed_bytes": sum(r["encoded"] for r in resources),
        "outlines_bytes": sum(r["encoded"] for r in resources if "/grids/outlines" in r["name"]),
    }
    page.wait_for_selector("#city-rates[data-ready=true]", timeout=60000)
    box = page.locator("#city-map canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.evaluate(FRAMES)  # the screen left alone for two seconds
    page.wait_for_timeout(2000)
    out["idle"] = page.evaluate(FRAME_STATS)
    page.evaluate(FRAMES)
    for _ in range(6):  # zoom in, one wheel notch at a time
        page.mouse.wheel(0, -240)
        page.wait_for_timeout(250)
    page.mouse.down()
    for step in range(30):  # a slow pan across a third of the map
        page.mouse.move(cx - step * box["width"] / 90, cy - step * box["height"] / 90)
        page.wait_for_timeout(33)
    page.mouse.up()
    for _ in range(6):  # and back out
        page.mouse.wheel(0, 240)
        page.wait_for_timeout(250)
    page.wait_for_timeout(500)
    out["pan_zoom"] = page.evaluate(FRAME_STATS)
    page.screenshot(path=account["screenshot"].replace(".png", f"-{outlines}.png"))
    context.close()
    return out


def leader(browser, base, account):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 800,
        "downloadThroughput": 250_000 / 8, "uploadThroughput": 250_000 / 8,
    })
    out = {}
    for visit in ("cold", "warm"):
        started = time.monotonic()
        page.goto(base + "/console/login")
        form_ms = (time.monotonic() - started) * 1000
        page.fill("#username", account["username"])
        page.fill("#password", account["password"])
        submitted = time.monotonic()
        page.click("button[type=submit]")
        page.wait_for_selector("#queue, main.page .empty", timeout=120000)
        usable_ms = (time.monotonic() - submitted) * 1000
        page.goto(base + "/console/#/grids")
        map_started = time.monotonic()
        page.wait_for_selector("#grid-map[data-ready=true]", timeout=180000)
        map_ms = (time.monotonic() - map_started) * 1000
        out[visit] = {"login_form_ms": round(form_ms), "queue_usable_ms": round(usable_ms),
                      "grid_map_drawn_ms": round(map_ms)}
        page.click("#logout")
        page.wait_for_url("**/console/login")
    context.close()
    return out


def main() -> None:
    plan = json.loads(sys.argv[1])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        # Outlines as a line layer against the fill's own edge (the city screen's), in turn.
        out = {"city": [dict(outlines=o, **city(browser, plan["base"], plan["city"], o))
                        for o in ("line", "fill", "line", "fill")]}
        out["leader_2g"] = leader(browser, plan["base"], plan["leader"])
        browser.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
