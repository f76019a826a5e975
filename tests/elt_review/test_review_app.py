"""The review page resists the web: a secret on every request, only its own host and origin, JSON only, and a
malformed body is a 400 with its reason that writes nothing (no Prefect server needed: ``resume=False``)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pandas as pd
import pytest
from starlette.testclient import TestClient

from elt_review.review_app import create_app, parse_decisions
from tasks.decisions import DecisionError, read_decisions
from tests.flows.review_chain import review_store

TOKEN = "s3cret-token"
ROUTES = ["/", "/api/faces", "/img/original/0.png?id=p0.png%230"]


@pytest.fixture()
def page(tmp_path):
    store, _ = review_store(tmp_path / "store", n=2)
    client = TestClient(create_app(store=store.url, token=TOKEN, resume=False), base_url="http://127.0.0.1:8765")
    return client, store


def _post(client, body, *, token=TOKEN, content_type="application/json", **headers):
    headers = {"content-type": content_type, "x-review-token": token, **headers}
    return client.post("/api/decisions", content=body, headers=headers)


GOOD = json.dumps({"reviewer": "ann", "decisions": [{"face_id": "p0.png#0", "decision": "accept"}]})


def test_every_route_needs_the_secret_and_a_non_ascii_token_is_a_403(page):
    client, _ = page
    for route in ROUTES:
        sep = "&" if "?" in route else "?"
        assert client.get(route).status_code == 403, route
        assert client.get(f"{route}{sep}token=wrong").status_code == 403, route
        assert client.get(f"{route}{sep}token=%C3%A9t%C3%A9").status_code == 403, route  # 'été'
        assert client.get(f"{route}{sep}token={TOKEN}").status_code == 200, route


def test_a_rebinding_host_name_cannot_read_the_faces(page):
    client, _ = page
    answer = client.get(f"/api/faces?token={TOKEN}", headers={"host": "attacker.example:8765"})
    assert answer.status_code == 403 and "attacker.example" in answer.json()["error"]
    assert client.get(f"/api/faces?token={TOKEN}", headers={"host": "localhost:8765"}).status_code == 200


def test_a_cross_site_post_writes_nothing(page):
    client, store = page
    plain = _post(client, GOOD, content_type="text/plain")  # what a cross-site form or no-cors fetch can send
    assert plain.status_code == 415
    foreign = _post(client, GOOD, origin="http://attacker.example")
    assert foreign.status_code == 403 and "cross-origin" in foreign.json()["error"]
    assert _post(client, GOOD, token="").status_code == 403
    assert read_decisions(store).empty
    same = _post(client, GOOD, origin="http://127.0.0.1:8765")  # the page's own origin
    assert same.status_code == 200 and same.json()["written"] == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "the body: Invalid JSON: key must be a string"),
        ("[1, 2]", "the body: Input should be an object"),
        ('{"reviewer": "ann", "decisions": {"a": 1}}', "the body: decisions = {'a': 1}: input should be a valid array"),
        ('{"reviewer": "ann", "decisions": ["p0.png#0"]}', "the body: decisions.0 = 'p0.png#0': input should be an"),
        ('{"reviewer": "ann", "decisions": [{"face_id": 3, "decision": "accept"}]}', "decisions.0.face_id = 3: input"),
        ('{"reviewer": ["ann"], "decisions": []}', "the body: reviewer = ['ann']: input should be a valid string"),
        (b"\xff\xfe", "the body: Invalid JSON"),
        ('{"reviewer": "ann", "decisions": [{"face_id": "p0.png#0", "decison": "accept"}]}', "'decisions.0.decison'"),
        ('{"reviewer": "ann", "admin": true, "decisions": []}', "the body: unknown key 'admin'"),
        ('{"reviewer": "\\ud800", "decisions": []}', "the body: Invalid JSON"),  # a lone surrogate
    ],
)
def test_a_malformed_body_is_a_400_with_its_reason_and_writes_nothing(page, body, reason):
    client, store = page
    answer = _post(client, body)
    error = answer.json()["error"]
    assert answer.status_code == 400 and reason in error and "\n" not in error
    assert read_decisions(store).empty


def test_parse_decisions_keeps_only_the_known_fields():
    reviewer, rows = parse_decisions(b'{"reviewer": " bo ", "decisions": [{"face_id": "a", "decision": "reject"}]}')
    assert reviewer == "bo" and rows == [
        {"face_id": "a", "decision": "reject", "reason": "", "reviewer": "bo", "policy": "human"}
    ]
    with pytest.raises(DecisionError, match="^the body: Input should be an object$"):
        parse_decisions(b"null")
    assert parse_decisions(b"{}") == ("", [])  # a missing reviewer is the app's 400 ("a reviewer name is required")


def test_faces_are_listed_by_projection_loss_with_the_decided_ones_apart(tmp_path):
    from tasks.decisions import append_decisions, auto_decisions

    store, _ = review_store(tmp_path / "store", n=6, shuffled=True, discarded=1)
    client = TestClient(create_app(store=store.url, token=TOKEN, resume=False), base_url="http://127.0.0.1:8765")
    listing = client.get(f"/api/faces?token={TOKEN}").json()
    lpips = [f["lpips"] for f in listing["faces"]]
    assert len(lpips) == 5 and lpips == sorted(lpips)  # the discarded face is never offered
    assert listing["decided"] == [] and listing["counts"] == {"accept": 0, "reject": 0, "discarded": 1}
    first = listing["faces"][0]
    thumb = client.get(f"/img/thumb/{first['n']}.png?id={quote(first['id'])}&token={TOKEN}")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    assert client.get(f"/img/other/{first['n']}.png?id={quote(first['id'])}&token={TOKEN}").status_code == 404
    assert client.get(f"/img/thumb/{first['n']}.png?id=p9.png%230&token={TOKEN}").status_code == 404

    faces = pd.DataFrame(listing["faces"]).rename(columns={"id": "detection_id"})
    append_decisions(store, auto_decisions(faces, threshold=0.2))
    after = client.get(f"/api/faces?token={TOKEN}").json()
    accepted = sum(v <= 0.2 for v in lpips)
    assert 0 < accepted < 5
    assert after["faces"] == [] and after["counts"] == {"accept": accepted, "reject": 5 - accepted, "discarded": 1}
    assert [d["lpips"] for d in after["decided"]] == lpips
    assert {d["policy"] for d in after["decided"]} == {"auto"}
    assert after["decided"][0]["reviewer"] == "auto (lpips <= 0.2)" and after["decided"][0]["decision"] == "accept"
    decided = after["decided"][-1]  # a decided face's pictures stay available, read-only
    assert client.get(f"/img/thumb/{decided['n']}.png?id={quote(decided['id'])}&token={TOKEN}").status_code == 200
