"""Drives the gridsync console in Debian's chromium through Playwright, as a person would.

Usage: console.py PLAN_JSON. The plan names the server, the account, and what to do: log in
through the form, look at the queue, open a record, take one action through its form, log out.
Prints one JSON object: what the page showed (queue titles, the record's status text, dialogs
opened, console errors, the session cookie before logout), for the Rust test to check against
the server's own state.
"""

import json
import os
import sys
import tempfile

from openpyxl import load_workbook
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"


def main() -> None:
    plan = json.loads(sys.argv[1])
    base = plan["base"]
    shots = plan.get("screenshots")
    out = {"dialogs": [], "errors": [], "injected_images": 0}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        page = context.new_page()
        # A dialog would mean script from user text ran: record it and dismiss it.
        page.on("dialog", lambda d: (out["dialogs"].append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: out["errors"].append(str(e)))
        # The one error a page may log: a record not yet in the workflow has no case (404).
        page.on(
            "console",
            lambda m: out["errors"].append(f'{m.text} ({m.location.get("url", "")})')
            if m.type == "error" and not m.location.get("url", "").endswith("/case")
            else None,
        )

        try:
            page.goto(base + "/")
            page.fill("#username", plan["username"])
            page.fill("#password", plan["password"])
            page.click("button[type=submit]")
            page.wait_for_selector("#queue, main.page .empty")
            out["queue_titles"] = page.locator("#queue td.title").all_inner_texts()
            out["injected_images"] += page.locator('img[src="x"]').count()
            if shots:
                page.screenshot(path=f"{shots}-queue.png", full_page=True)

            if plan.get("grids"):
                page.goto(f"{base}/console/#/grids")
                page.wait_for_selector("#grid-map[data-ready=true]", timeout=30000)
                out["drawn_grids"] = int(page.get_attribute("#grid-map", "data-drawn-grids"))
                attribution = page.locator("#grid-map .map-attribution")
                if attribution.count():
                    out["attribution"] = attribution.inner_text()
                page.wait_for_selector("#register-name")
                out["register"] = page.locator("#register-name").inner_text()
                if shots:
                    page.screenshot(path=f"{shots}-grids.png", full_page=True)
                page.goto(f"{base}/console/#/queue")
                page.wait_for_selector("#queue, main.page .empty")

            if plan.get("city"):
                page.set_viewport_size({"width": 1920, "height": 1080})
                page.goto(f"{base}/console/#/city")
                page.wait_for_selector("#city-map[data-ready=true]", timeout=60000)
                page.wait_for_selector("#city-rates[data-ready=true]", timeout=30000)
                out["city"] = {
                    "drawn_grids": int(page.get_attribute("#city-map", "data-drawn-grids")),
                    "open": int(page.inner_text("#count-open")),
                    "open_hazards": int(page.inner_text("#count-open-hazards")),
                    "latest": page.locator("#city-latest li").count(),
                }
                if shots:
                    page.screenshot(path=f"{shots}-city.png")
                page.set_viewport_size({"width": 1400, "height": 900})

            if plan.get("reports"):
                page.goto(f"{base}/console/#/reports")
                for chart in ("trend", "rates", "hazards", "topics"):
                    page.wait_for_selector(f"#chart-{chart}[data-ready=true]", timeout=30000)
                out["report_tables"] = page.locator("main table.list").count()
                if shots:
                    page.screenshot(path=f"{shots}-reports.png", full_page=True)
                # The workbook as an office opens it: downloaded by the browser, read by openpyxl.
                with page.expect_download() as download:
                    page.click("#download-xlsx")
                with tempfile.TemporaryDirectory() as folder:
                    path = os.path.join(folder, download.value.suggested_filename)
                    download.value.save_as(path)
                    out["workbook_sheets"] = load_workbook(path, read_only=True).sheetnames
                out["workbook_name"] = download.value.suggested_filename

            record = plan.get("record")
            if record:
                link = page.locator(f'#queue tr[data-id="{record}"] td.title a')
                if link.count():
                    link.click()
                else:  # not waiting on this account: opened by its address
                    page.goto(f"{base}/console/#/record/{record}")
                page.wait_for_selector("#record-title")
                out["record_title"] = page.locator("#record-title").evaluate(
                    "e => e.firstChild.textContent"
                )
                out["actions"] = page.locator(".actions button").evaluate_all(
                    "bs => bs.map(b => b.dataset.action)"
                )
                hint = plan.get("duplicate_of")
                if hint:  # the desk takes a duplicate hint: the form opens with the other case
                    page.click(f'#duplicate-hints li[data-id="{hint}"] button')
                    form = page.locator('form.action-form[data-action="link_duplicate"]')
                    form.wait_for()
                    out["prefilled"] = form.locator('[name="duplicate_of"]').input_value()
                    form.locator("button[type=submit]").click()
                    page.wait_for_selector("p.notice")
                    out["notice"] = page.locator("p.notice").inner_text()
                action = plan.get("action")
                if action:
                    page.click(f'.actions button[data-action="{action}"]')
                    form = page.locator(f'form.action-form[data-action="{action}"]')
                    form.wait_for()
                    if form.locator('[name="lead"]').count():  # what the form says the rules give
                        out["lead_blank"] = form.locator('[name="lead"] option').first.inner_text()
                    for name, value in plan.get("fields", {}).items():
                        element = form.locator(f'[name="{name}"]')
                        if element.evaluate("e => e.tagName") == "SELECT":
                            element.select_option(value)
                        else:
                            element.fill(value)
                    for name, paths in plan.get("files", {}).items():
                        form.locator(f'[name="{name}"]').set_input_files(paths)
                    form.locator("button[type=submit]").click()
                    page.wait_for_selector("p.notice")
                    out["notice"] = page.locator("p.notice").inner_text()
                out["record_status"] = page.locator("#record-status").inner_text()
                # The record's photos, each drawn (decoded with a size) by the browser.
                page.wait_for_function(
                    "() => [...document.querySelectorAll('#photos img')].every(i => i.complete)"
                )
                out["photos"] = page.locator("#photos figure").evaluate_all(
                    "fs => fs.filter(f => f.querySelector('img').naturalWidth > 0)"
                    ".map(f => f.dataset.sha256)"
                )
                out["injected_images"] += page.locator('img[src="x"]').count()
                out["events"] = page.locator("ol.timeline li b").all_inner_texts()
                # Values set at once by two people: the timeline marks them apart.
                marked = page.locator("ol.timeline li.conflict")
                out["conflicts"] = marked.evaluate_all(
                    "ls => ls.map(l => l.querySelector('.note').textContent)"
                )
                if marked.count():
                    colour = "e => getComputedStyle(e).color"
                    out["conflict_colour"] = marked.first.locator("b").evaluate(colour)
                    out["event_colour"] = (
                        page.locator("ol.timeline li:not(.conflict) b").first.evaluate(colour)
                    )
                if shots:
                    page.screenshot(path=f"{shots}-record.png", full_page=True)

            if plan.get("supervision"):
                page.goto(f"{base}/console/#/supervision")
                page.wait_for_selector("#notices")
                out["notice_links"] = page.locator("#notices a").evaluate_all(
                    "links => links.map(a => a.getAttribute('href'))"
                )
                if shots:
                    page.screenshot(path=f"{shots}-supervision.png", full_page=True)

            new_user = plan.get("new_user")
            if new_user:
                page.goto(f"{base}/console/#/admin")
                form = page.locator("#new-user")
                form.wait_for()
                page.wait_for_selector("#categories")
                form.locator('[name="username"]').fill(new_user["username"])
                form.locator('[name="password"]').fill(new_user["password"])
                form.locator('[name="role"]').select_option(new_user["role"])
                form.locator('[name="areas"]').fill(new_user["areas"])
                form.locator("button[type=submit]").click()
                page.wait_for_selector(f'#users tr[data-username="{new_user["username"]}"]')
                # Then deactivate the account just made, from its row.
                row = page.locator(f'#users tr[data-username="{new_user["username"]}"]')
                row.locator("button", has_text="停用").click()
                page.wait_for_selector(f'#users tr[data-username="{new_user["username"]}"] .overdue')
                out["admin_notice"] = page.locator("p.notice").inner_text()

            def save(form_id, values, then):
                """Fills an admin form, submits it, and waits for the page to say it saved
                (the notice names what was saved: a row that was there before proves nothing)."""
                form = page.locator(form_id)
                for name, value in values.items():
                    element = form.locator(f'[name="{name}"]')
                    if element.evaluate("e => e.tagName") == "SELECT":
                        element.select_option(value)
                    else:
                        element.fill(value)
                form.locator("button[type=submit]").click()
                page.wait_for_selector(f'p.notice:has-text("{values["name"]} 已保存")')
                page.wait_for_selector(then)
                return page.locator("p.notice").inner_text()

            reset = plan.get("reset_password")
            if reset:  # an admin gives an account a new password from its row
                row = page.locator(f'#users tr[data-username="{reset["username"]}"]')
                row.locator('[name="new-password"]').fill(reset["password"])
                row.locator(f'button[data-reset="{reset["username"]}"]').click()
                page.wait_for_selector('p.notice:has-text("密码已重置")')
                out["reset_notice"] = page.locator("p.notice").inner_text()
            department = plan.get("department")
            if department:
                out["department_notice"] = save(
                    "#department-form", department, f'#departments tr[data-code="{department["code"]}"]'
                )
            category = plan.get("category")
            if category:
                out["category_notice"] = save(
                    "#category-form", category, f'#categories tr[data-code="{category["code"]}"]'
                )
                # Then retire it from its row.
                row = page.locator(f'#categories tr[data-code="{category["code"]}"]')
                row.locator("button", has_text="停用").click()
                page.wait_for_selector(f'#categories tr[data-code="{category["code"]}"] .overdue')
            if new_user and shots:
                page.screenshot(path=f"{shots}-admin.png", full_page=True)

            if plan.get("logout"):
                cookies = [c for c in context.cookies() if c["name"] == "gs_session"]
                out["cookie"] = {k: cookies[0][k] for k in ("value", "httpOnly", "sameSite")}
                page.click("#logout")
                page.wait_for_url("**/console/login")
                out["after_logout"] = page.url
        except Exception:
            # What the page showed when a step failed, for whoever reads the failure.
            if shots:
                page.screenshot(path=f"{shots}-failure.png", full_page=True)
            raise
        browser.close()
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
