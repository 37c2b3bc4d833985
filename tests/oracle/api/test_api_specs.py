"""PUT /v1/specs: 201 with the keccak of the bundle; 413 over the limit (declared or streamed);
422 naming the reason for a pickle or a malformed bundle; never unpickled."""

from __future__ import annotations

import io
import pickle

import numpy as np
from eth_hash.auto import keccak

OCTET = {"Content-Type": "application/octet-stream"}


class _Boom:
    """Unpickling this would call os.system: the hub must refuse the bytes without loading them."""

    def __reduce__(self):
        import os
        return (os.system, ("touch /tmp/spartacus-pwned",))


def test_spec_upload_answers_201_with_its_keccak_and_stores_it(api) -> None:
    hub = api.hub
    r = api.client.put("/v1/specs", content=hub.spec, headers=OCTET)
    assert r.status_code == 201, r.text
    assert r.json() == {"specHash": "0x" + keccak(hub.spec).hex()}
    assert hub.store.get_spec(r.json()["specHash"]) == hub.spec
    again = api.client.put("/v1/specs", content=hub.spec, headers=OCTET)
    assert again.status_code == 201 and again.json() == r.json()


def test_a_pickled_spec_is_422_and_never_loaded(api, tmp_path) -> None:
    marker = "/tmp/spartacus-pwned"
    import os
    if os.path.exists(marker):
        os.remove(marker)
    r = api.client.put("/v1/specs", content=pickle.dumps(_Boom()), headers=OCTET)
    assert r.status_code == 422
    assert r.json()["error"] == "unprocessable" and "pickle" in r.json()["detail"]
    assert not os.path.exists(marker)


def test_a_torch_save_zip_is_422_naming_the_pickle(api) -> None:
    r = api.client.put("/v1/specs", content=b"PK\x03\x04" + b"\x00" * 200, headers=OCTET)
    assert r.status_code == 422 and "pickle" in r.json()["detail"]


def test_a_malformed_bundle_is_422_naming_what_is_wrong(api) -> None:
    r = api.client.put("/v1/specs", content=b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}", headers=OCTET)
    assert r.status_code == 422
    assert "MalformedBundle" in r.json()["detail"]
    from safetensors.numpy import save
    no_manifest = save({"w": np.zeros(3)})
    r = api.client.put("/v1/specs", content=no_manifest, headers=OCTET)
    assert r.status_code == 422 and "manifest" in r.json()["detail"]


def test_a_spec_over_the_limit_is_413_by_its_content_length(api) -> None:
    api.hub.ctx.max_spec_bytes = 1000
    r = api.client.put("/v1/specs", content=b"\x00" * 1001, headers=OCTET)
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert api.client.put("/v1/specs", content=b"\x00" * 1000, headers=OCTET).status_code == 422


def test_a_streamed_spec_without_length_is_cut_off_at_the_limit(api) -> None:
    api.hub.ctx.max_spec_bytes = 10_000
    sent: list[int] = []

    def chunks():
        for _ in range(1000):  # 1 MB offered; the hub must stop reading long before
            sent.append(1)
            yield b"\x00" * 1024

    r = api.client.put("/v1/specs", content=chunks(), headers=OCTET)
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert "chunked" in r.request.headers.get("transfer-encoding", "")


def test_read_bounded_stops_reading_once_over_the_limit() -> None:
    import anyio
    import pytest
    from starlette.requests import Request

    from oracle.api.deps import read_bounded
    from oracle.errors import TooLarge

    received = []

    async def receive():
        received.append(1)
        return {"type": "http.request", "body": b"\x00" * 1024, "more_body": True}  # an endless body

    request = Request({"type": "http", "method": "PUT", "path": "/v1/specs", "headers": []}, receive)

    async def run():
        await read_bounded(request, 10_000, "the spec bundle")

    with pytest.raises(TooLarge, match="10000"):
        anyio.run(run)
    assert len(received) == 10  # 10 KiB read, the 10th over the limit: no more


def test_a_spec_of_another_content_type_is_400(api) -> None:
    r = api.client.put("/v1/specs", content=api.hub.spec, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "octet-stream" in r.json()["detail"]
