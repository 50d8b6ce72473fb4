# ruff: noqa: F811 (the fixtures imported from tests/test_console.py are parameters here)
"""The merchant console at chain scale, end to end in Chromium against `nearby serve --demo`
(the demo owner has 967 stores, more than a page): stores created and edited on the map,
server-side search by name and by store number, a store list uploaded with its progress and
rejected rows, an offer edited and ended now while its codes stay redeemable.

Each step is checked against the API's own answer. Screenshots go to test-artifacts/console/
(the ones in docs/screenshots/ were taken from there).
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path

import pytest
from playwright.async_api import Dialog, Page

from tests.test_console import (  # noqa: F401 (console: the console's server)
    ConsoleServer,
    click_map,
    console,
    message,
    open_console,
    set_view,
    shot,
    sign_in,
)

SIGNED_IN = "() => window.nearby.modes.merchant.signedIn === true"


async def signed_in(page: Page, console: ConsoleServer) -> None:
    await open_console(page, console)
    await sign_in(page, console.owner_key)
    await page.wait_for_function(SIGNED_IN)


async def listed_names(page: Page) -> list[str]:
    return list(await page.locator("#stores > li .name").all_text_contents())


async def filtered(page: Page, text: str) -> None:
    """Type into the store search and wait for the list to show that search's answer."""
    await page.locator("#store-filter").fill(text)
    await page.wait_for_function(
        "text => document.getElementById('stores').dataset.query === text.trim()", arg=text
    )


async def on_map(page: Page, store_id: str) -> bool:
    return bool(
        await page.evaluate("id => window.nearby.modes.merchant.list.markers.has(id)", store_id)
    )


async def test_the_list_pages_from_the_server_and_counts_every_store(
    page: Page, console: ConsoleServer
) -> None:
    await signed_in(page, console)
    summary = await page.locator("#stores-summary").inner_text()
    assert summary.startswith("967 stores")
    first = console.get("/v1/merchants", limit=50)
    await page.locator("#stores > li").nth(49).wait_for()
    assert await page.locator("#stores > li").evaluate_all("els => els.map(e => e.dataset.id)") == [
        s["id"] for s in first["results"]
    ]
    await page.locator("#more-stores").click()
    await page.locator("#stores > li").nth(99).wait_for()
    second = console.get("/v1/merchants", limit=50, cursor=first["next_cursor"])
    ids = await page.locator("#stores > li").evaluate_all("els => els.map(e => e.dataset.id)")
    assert ids[50:] == [s["id"] for s in second["results"]]
    # Zoomed out, the map shows the owner's stores as clusters, whose counts add up.
    await set_view(page, 60.17, 24.94, 11)
    await page.wait_for_function("() => document.querySelectorAll('.store-cluster').length > 0")
    await shot(page, "20-stores-clusters")


async def test_a_store_beyond_the_first_page_is_found_by_name_and_by_number(
    page: Page, console: ConsoleServer
) -> None:
    await signed_in(page, console)
    # The last store in the API's order: far beyond the first page of the list.
    cursor, last = None, None
    while True:
        body = console.get("/v1/merchants", limit=100, **({"cursor": cursor} if cursor else {}))
        last = body["results"][-1]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert last is not None and last["external_id"]
    first_page = await listed_names(page)
    assert last["name"] not in first_page or len(first_page) == 50

    fragment = last["name"][1:-1] if len(last["name"]) > 3 else last["name"]
    await filtered(page, fragment.upper())
    expected = console.get("/v1/merchants", q=fragment.upper(), limit=50)["results"]
    ids = await page.locator("#stores > li").evaluate_all("els => els.map(e => e.dataset.id)")
    assert ids == [s["id"] for s in expected]  # the server's matches, case ignored

    await filtered(page, last["external_id"])
    assert (await page.locator("#stores > li").first.get_attribute("data-id")) == last["id"]
    await page.locator("#stores > li").first.click()
    await page.locator("#store-name").filter(has_text=last["name"]).wait_for()
    await shot(page, "21-stores-search-by-number")

    await page.locator("#store-filter").fill("no store is called this 无")
    await page.locator("#no-stores").wait_for()


async def test_a_store_is_created_on_the_map_and_edited(page: Page, console: ConsoleServer) -> None:
    await signed_in(page, console)
    await set_view(page, 60.1699, 24.9384, 17)
    await page.locator("#new-store").click()
    await page.locator("#sf-name").fill("Kahvila <b>Uusi</b> 新店")
    await page.locator("#sf-external-id").fill("E2E-0001")
    await page.locator("#sf-category").fill("coffee")
    clicked = await click_map(page, 40, -30)
    assert float(await page.locator("#sf-lat").input_value()) == pytest.approx(
        clicked["lat"], abs=1e-6
    )
    await page.locator("#save-store").click()
    await message(page, 'Saved "Kahvila <b>Uusi</b> 新店"')
    [made] = console.get("/v1/merchants", external_id="E2E-0001")["results"]
    assert made["name"] == "Kahvila <b>Uusi</b> 新店" and made["timezone"] == "Europe/Helsinki"
    assert (made["location"]["lat"], made["location"]["lng"]) == pytest.approx(
        (clicked["lat"], clicked["lng"]), abs=1e-6
    )
    # In the list (selected), on the map, and its details shown.
    await page.locator(f'#stores > li.selected[data-id="{made["id"]}"]').wait_for()
    await page.wait_for_function(
        "id => window.nearby.modes.merchant.list.markers.has(id)", arg=made["id"]
    )
    await page.locator("#store-name").filter(has_text="Kahvila <b>Uusi</b> 新店").wait_for()
    await shot(page, "22-store-created")

    # Edit every field, and move it by dragging its marker.
    await page.locator("#edit-store").click()
    edits = {
        "#sf-name": "Kahvila Uusi 新店 (moved)",
        "#sf-category": "bakery",
        "#sf-address": "Aleksanterinkatu 1",
        "#sf-phone": "+358 9 123 456",
        "#sf-tags": "wifi; terrace",
        "#sf-hours": "Mo-Fr 07:00-19:00",
        "#sf-timezone": "Europe/Helsinki",
    }
    for selector, value in edits.items():
        await page.locator(selector).fill(value)
    pin = page.locator(".store-pin")
    box = await pin.bounding_box()
    assert box is not None
    start = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.move(*start)
    await page.mouse.down()
    for step in range(1, 11):
        await page.mouse.move(start[0] - 8 * step, start[1] + 6 * step)
    await page.mouse.up()
    dragged = (
        float(await page.locator("#sf-lat").input_value()),
        float(await page.locator("#sf-lng").input_value()),
    )
    assert dragged[0] < clicked["lat"] and dragged[1] < clicked["lng"]
    await page.locator("#save-store").click()
    await message(page, 'Saved "Kahvila Uusi 新店 (moved)"')
    edited = console.get(f"/v1/merchants/{made['id']}")
    assert {
        k: edited[k] for k in ("name", "category", "address", "phone", "tags", "opening_hours")
    } == {
        "name": "Kahvila Uusi 新店 (moved)",
        "category": "bakery",
        "address": "Aleksanterinkatu 1",
        "phone": "+358 9 123 456",
        "tags": ["wifi", "terrace"],
        "opening_hours": "Mo-Fr 07:00-19:00",
    }
    assert (edited["location"]["lat"], edited["location"]["lng"]) == pytest.approx(
        dragged, abs=1e-6
    )
    await page.locator("#stores > li.selected", has_text="(moved)").wait_for()
    await page.locator("#store-details").filter(has_text="Aleksanterinkatu 1").wait_for()
    await shot(page, "23-store-edited")
    console.api.delete(f"/v1/merchants/{made['id']}", headers=console.owner)


def store_list() -> bytes:
    rows = [
        {"external_id": f"UP-{n}", "name": f"Uploaded {n}", "category": "kiosk",
         "lat": 60.17 + n / 1000, "lng": 24.95, "timezone": "Europe/Helsinki"}
        for n in range(1, 7)
    ]  # fmt: skip
    rows[1]["lat"] = 95  # off the globe
    rows[3]["timezone"] = "Europe/Espoo"  # no such zone
    rows[4]["name"] = ""  # missing
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


async def test_a_store_list_is_uploaded_with_progress_and_its_rejected_rows(
    page: Page, console: ConsoleServer, tmp_path: Path
) -> None:
    await signed_in(page, console)
    await page.locator("#open-upload").click()
    path = tmp_path / "kiosks.csv"
    path.write_bytes(store_list())
    await page.locator("#upload-file").set_input_files(str(path))
    await page.locator("#upload-set").fill("tags=kiosk;e2e")
    await page.locator("#start-upload").click()
    await message(page, "Imported kiosks.csv: 3 stores stored, 3 rows rejected.")
    [job] = console.get("/v1/imports", limit=1)["results"]
    assert (job["filename"], job["status"], job["constants"]) == (
        "kiosks.csv",
        "done",
        {"tags": ["kiosk", "e2e"]},
    )
    full = console.get(f"/v1/imports/{job['id']}")
    cells = await page.locator("#upload-errors tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert cells == [
        [str(e["row"]), e["external_id"] or "", e["field"], e["msg"]] for e in full["errors"]
    ]
    assert [c[:3] for c in cells] == [
        ["2", "UP-2", "lat"],
        ["4", "UP-4", "timezone"],
        ["5", "UP-5", "name"],
    ]
    progress = page.locator("#upload-progress")
    assert await progress.get_attribute("value") == await progress.get_attribute("max")
    assert (
        "done: 6 rows read, 3 rejected, 3 stored"
        in await page.locator("#upload-counts").inner_text()
    )
    await page.locator("#upload-errors").scroll_into_view_if_needed()
    await shot(page, "24-upload-rejected-rows")

    # errors.csv, fetched with the key, saved as a download.
    async with page.expect_download() as waiting:
        await page.locator("#upload-errors-csv").click()
    download = await waiting.value
    saved = await asyncio.to_thread(Path(await download.path()).read_text)
    assert saved.splitlines()[0] == "row,field,msg,external_id" and len(saved.splitlines()) == 4
    # The stores are there: searched for by name on the server.
    await filtered(page, "uploaded")
    assert sorted(await listed_names(page)) == ["Uploaded 1", "Uploaded 3", "Uploaded 6"]

    # A column every row fails is said once, with the fix.
    bad_zones = tmp_path / "zones.ndjson"
    bad_zones.write_text(
        "\n".join(
            f'{{"external_id": "Z-{n}", "name": "Zone {n}", "category": "c", "lat": 60.1,'
            f' "lng": 24.9, "timezone": "GMT+02:00 Europe/Helsinki"}}'
            for n in range(12)
        )
    )
    await page.locator("#upload-file").set_input_files(str(bad_zones))
    await page.locator("#upload-set").fill("")
    await page.locator("#start-upload").click()
    await message(page, "Imported zones.ndjson: 0 stores stored, 12 rows rejected.")
    fixes = await page.locator("#upload-columns li").all_text_contents()
    assert len(fixes) == 1 and "set=timezone=Asia/Shanghai" in fixes[0]
    assert await page.locator("#upload-errors").is_hidden()
    await page.locator("#upload-columns").scroll_into_view_if_needed()
    await shot(page, "25-upload-whole-column")
    for store in console.get("/v1/merchants", q="Uploaded")["results"]:
        console.api.delete(f"/v1/merchants/{store['id']}", headers=console.owner)


async def test_an_offer_is_edited_and_ended_now_and_its_code_still_redeems(
    page: Page, console: ConsoleServer
) -> None:
    [store] = console.get("/v1/merchants", q="Stockmann", limit=1)["results"]
    made = console.api.post(
        f"/v1/merchants/{store['id']}/offers",
        json={"title": "E2E: coffee for one", "quantity": 5},
        headers=console.owner,
    ).json()
    claim = console.api.post(
        f"/v1/offers/{made['id']}/claims",
        json={"user_id": "e2e-ender", **store["location"]},
        headers={"Authorization": f"Bearer {console.app_key}"},
    )
    assert claim.status_code == 201, claim.text
    dialogs: list[str] = []

    async def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    await signed_in(page, console)
    await page.locator("#store-filter").fill(store["external_id"])
    await page.locator(f'#stores > li[data-id="{store["id"]}"]').click()
    item = page.locator(f'#offers > li[data-id="{made["id"]}"]')
    await item.wait_for()
    qr = item.locator("a.print-qr")
    assert await qr.get_attribute("href") == f"/v1/offers/{made['id']}/qr.svg"

    await item.locator(".edit-offer").click()
    assert await page.locator("#oe-title").input_value() == "E2E: coffee for one"
    await page.locator("#oe-title").fill("E2E: coffee for two")
    await page.locator("#oe-quantity").fill("8")
    await page.locator("#save-offer-edit").click()
    await message(page, 'Saved "E2E: coffee for two".')
    edited = console.get(f"/v1/offers/{made['id']}")
    assert (edited["title"], edited["quantity"], edited["status"]) == (
        "E2E: coffee for two",
        8,
        "active",
    )
    await item.filter(has_text="remaining 7").wait_for()
    await shot(page, "26-offer-edited")

    await item.locator(".end-offer").click()
    await message(page, 'Ended "E2E: coffee for two"; its 1 claimed codes stay redeemable.')
    assert dialogs and "stay redeemable" in dialogs[0]
    await item.locator(".distance").filter(has_text=re.compile("^ended$")).wait_for()
    assert console.get(f"/v1/offers/{made['id']}")["status"] == "ended"
    assert await item.locator(".end-offer").is_disabled()
    await shot(page, "27-offer-ended")
    redeemed = console.api.post(f"/v1/claims/{claim.json()['code']}/redeem", headers=console.owner)
    assert redeemed.status_code == 200, redeemed.text
    late = console.api.post(
        f"/v1/offers/{made['id']}/claims",
        json={"user_id": "e2e-late", **store["location"]},
        headers={"Authorization": f"Bearer {console.app_key}"},
    )
    assert late.status_code == 409
    console.api.delete(f"/v1/offers/{made['id']}", headers=console.owner)
