"""Errors are `{"error", "detail"}` everywhere (unknown routes, wrong methods, validation, a crash),
/docs works, and no route, with no role, ever answers with a value of the raw data."""

from __future__ import annotations

import logging

import numpy as np
from fastapi.testclient import TestClient

from oracle import service
from oracle.api import create_app


def test_an_unknown_route_is_404_in_the_protocol_shape(api) -> None:
    r = api.client.get("/v2/nothing")
    assert r.status_code == 404 and set(r.json()) == {"error", "detail"} and r.json()["error"] == "not_found"


def test_a_wrong_method_is_405_in_the_protocol_shape(api) -> None:
    r = api.client.post("/v1/info")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_the_openapi_page_and_document_are_served(api) -> None:
    docs = api.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = api.client.get("/openapi.json").json()
    for path in ("/v1/info", "/v1/datasets", "/v1/offers", "/v1/specs", "/v1/terms", "/v1/deals/{deal_id}",
                 "/v1/deals/{deal_id}/ciphertext", "/v1/deals/{deal_id}/leaves"):
        assert path in spec["paths"], path
    assert "application/octet-stream" in spec["paths"]["/v1/specs"]["put"]["requestBody"]["content"]


def test_an_unexpected_failure_is_500_without_its_message(api, monkeypatch, caplog) -> None:
    secret = repr(float(api.hub.raw["features"][0, 0]))

    def leak(ctx, deal_id):
        raise ValueError(f"value {secret} of column x0 is out of bounds")  # what privacy's OutOfBounds says

    monkeypatch.setattr(service, "deal_public", leak)
    # raise_server_exceptions: the exception must not leave the app, where a server would log its text
    client = TestClient(create_app(api.hub.ctx), raise_server_exceptions=True)
    with caplog.at_level(logging.DEBUG):
        r = client.get("/v1/deals/1")
    assert r.status_code == 500 and r.json() == {"error": "internal", "detail": r.json()["detail"]}
    assert secret not in r.text
    assert secret not in caplog.text and "ValueError" in caplog.text


def _raw_needles(hub) -> list[bytes]:
    """What must never appear in a response: each raw value as text, and windows of the raw bytes."""
    x, y = hub.raw["features"], hub.raw["label"]
    needles = {repr(float(v)).encode() for v in x.ravel()}
    needles |= {f"{v:.6f}".encode() for v in x.ravel()}
    needles |= {np.asarray(row, dtype="<f8").tobytes() for row in x}
    needles.add(np.asarray(y, dtype="<i8").tobytes()[:64])
    raw = hub.store.raw_data(hub.datasets["census"])
    needles |= {raw[i:i + 64] for i in range(0, len(raw) - 64, 997)}
    return sorted(needles)


def test_no_route_with_any_role_answers_with_raw_data(api) -> None:
    hub = api.hub
    # an exact deal: its release IS the raw data, so its plain bytes are what must not leak
    exact_release = hub.store.raw_data(hub.datasets["census-exact"])
    api.put_deal(1, phase="Quoted", dataset="census-exact", plain=exact_release)
    api.put_deal(2, phase="Revealed", buyer=hub.buyer2)
    api.put_deal(3, phase="Refunded", files=False, reason="declined: the budget has no room")
    spec_ok = api.client.put("/v1/specs", content=hub.spec, headers={"Content-Type": "application/octet-stream"})
    assert spec_ok.status_code == 201
    roles = {"none": None, "buyer": hub.buyer, "other": hub.buyer2, "stranger": hub.stranger}
    needles = _raw_needles(hub)
    bodies = []
    for role, who in roles.items():
        for deal_id in (1, 2, 3, 4):
            auth = {} if who is None else api.headers(deal_id, who)
            for path in ("", "/ciphertext", "/leaves"):
                for rng in (None, "bytes=0-99", "bytes=-10", "bytes=999999999-", "bytes=5-1"):
                    headers = dict(auth) if rng is None else {**auth, "Range": rng}
                    bodies.append(api.client.get(f"/v1/deals/{deal_id}{path}", headers=headers))
        bodies.append(api.client.get("/v1/info"))
        bodies.append(api.client.get("/v1/datasets"))
        bodies.append(api.client.get("/v1/offers", params={"buyer": who or hub.buyer}))
        bodies.append(api.client.get("/v1/offers", params={"buyer": "0xnot-an-address"}))
        bodies.append(api.client.put("/v1/terms", content=hub.terms("mde-dp", buyer=who or hub.buyer)[0]))
        bodies.append(api.client.put("/v1/terms", content=hub.terms("fixed-exact", buyer=who or hub.buyer)[0]))
        bodies.append(api.client.put("/v1/specs", content=b"garbage"))
        bodies.append(api.client.get("/v1/raw"))
        bodies.append(api.client.get(f"/v1/datasets/{hub.datasets['census']}"))
    statuses = {r.status_code for r in bodies}
    assert {200, 201, 206, 400, 401, 403, 404, 409, 416, 422} <= statuses, statuses
    served = 0
    for r in bodies:
        content = r.content
        served += len(content)
        for needle in needles:
            assert needle not in content, (r.request.method, r.request.url, r.status_code)
        assert exact_release[:256] not in content
    assert served > 2 * len(exact_release)  # the walk did download the exact release's ciphertext
