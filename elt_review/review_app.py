"""The review page: a small Starlette app (the stack Prefect already installs) for deciding projections fast.

``GET /`` is one page made for a thousand faces: a grid of thumbnails of every pending projection sorted by its
final LPIPS (lowest first; loaded lazily as they scroll into view), each marked with its decision; above it the
current face's original crop, aligned face and projection side by side, with the final LPIPS, the loss at the
early-discard step and the WFLW attribute flags. Keys ``a``/``->`` accept, ``r``/``x`` reject,
``Backspace``/``<-`` go back, a click on a thumbnail jumps to it; a bulk "accept all with LPIPS <= x" with its
preview count; a progress counter; a submit that POSTs the decisions. With nothing pending the page says why:
how many faces were accepted and rejected, by which policy (the demo's ``auto`` policy decides by itself), and
how many the projector discarded, and shows those decisions read-only. ``POST /api/decisions`` appends the
decisions to the store's decisions file (atomically, before anything else) and then resumes every paused
``reproduce`` run through the Prefect API. The store's manifests are read once when the server starts (and again
only when a projection output appears), so the first page load does not wait for them.

The page is a local web page that another site in the same browser must not be able to use:

* every request carries the session's secret (``?token=`` or the ``X-Review-Token`` header); the command makes
  one per session when none is given and prints it in the URL;
* the ``Host`` header must name this server (loopback names, or the address it was bound to), so a page on a
  rebinding host name cannot read the face list; a request with an ``Origin`` must come from the page's own
  origin, and decisions must be ``application/json``, so a cross-site form or ``text/plain`` POST writes nothing;
* everything the page shows from the data (face ids, flags, server messages) goes in as text nodes, never
  markup;
* a malformed body (not JSON, not an object, decisions that are not objects with string fields, an unknown
  key) is a 400 with the reason, one line, and writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from flows.review_resume import resume_paused_runs
from gan_core.photo import load_photo
from kit.store import STAGE_JSON, Store
from landmark_core.config import ConfigError, from_json
from tasks.decisions import DecisionError, append_decisions, check_decisions, read_decisions
from tasks.review_catalog import FLAGS, discarded_faces, review_catalog

PAGE = (Path(__file__).resolve().parent / "review_page.html").read_text()


def face_listing(faces: pd.DataFrame, latest: pd.DataFrame) -> tuple[list[dict], list[dict]]:
    """The pending and the decided faces as the page shows them, each sorted by projection loss (LPIPS).

    Args:
        faces: ``review_catalog`` (its row number is the face's picture number ``n``).
        latest: the latest decision per face (``read_decisions``).

    Returns:
        (pending items, decided items); a decided item adds its decision, policy, reviewer and reason.
    """
    decisions = latest.set_index("face_id").to_dict("index") if len(latest) else {}
    pending, decided = [], []
    order = faces.sort_values("lpips", kind="stable") if len(faces) else faces
    for n, row in zip(order.index, order.itertuples(index=False), strict=True):
        item = {
            "id": row.detection_id,
            "n": int(n),
            "lpips": round(float(row.lpips), 4),
            "loss100": round(float(row.loss_at_discard_step), 4),
            "flags": [f for f in FLAGS if getattr(row, f)],
        }
        made = decisions.get(row.detection_id)
        if made is None:
            pending.append(item)
            continue
        fields = {k: str(made.get(k, "") or "") for k in ("decision", "policy", "reviewer", "reason")}
        decided.append({**item, **fields})
    return pending, decided


THUMB_SIDE = 96
PICTURES = ("original", "aligned", "projected", "thumb")


def _png(image: np.ndarray, side: int = 320) -> bytes:
    scale = side / max(image.shape[:2])
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return cv2.imencode(".png", image)[1].tobytes()


def picture(face: pd.Series, kind: str) -> bytes:
    """One of a catalog face's pictures as PNG: ``original`` (the crop around its detection), ``aligned``,
    ``projected`` (320 px) or ``thumb`` (the projection, 96 px)."""
    if kind in ("projected", "thumb"):
        side = THUMB_SIDE if kind == "thumb" else 320
        return _png(cv2.imread(str(Path(face["project_dir"]) / face["projected_path"])), side=side)
    if kind == "aligned":
        return _png(cv2.imread(str(Path(face["filter_dir"]) / face["aligned_path"])))
    box = tuple(float(v) for v in np.asarray(face["det_box"]).reshape(-1)[:4])
    return _png(_original_crop(str(Path(face["photo_root"]) / face["image_path"]), box))


@lru_cache(maxsize=256)
def _original_crop(photo: str, box: tuple[float, float, float, float]) -> np.ndarray:
    image, _ = load_photo(Path(photo))
    x0, y0, x1, y1 = box
    m = 0.3 * max(x1 - x0, y1 - y0)
    return image[max(0, int(y0 - m)) : int(y1 + m), max(0, int(x0 - m)) : int(x1 + m)]


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def new_token() -> str:
    """A per-session secret for the page's URL."""
    return secrets.token_urlsafe(18)


def _hostname(value: str) -> str:
    """The host part of a ``Host`` header or an origin's netloc (``[::1]:8000`` -> ``::1``)."""
    return (urlsplit(f"//{value}").hostname or "").lower()


def _refusal(request: Request, *, token: str, hosts: frozenset[str]) -> str | None:
    """Why ``request`` is refused (403), or None: unknown Host, foreign Origin, or a missing or wrong secret."""
    host = request.headers.get("host", "")
    if _hostname(host) not in hosts:
        return f"host {host!r} is not this review server"
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{host}":
        return "cross-origin request"
    given = request.query_params.get("token") or request.headers.get("x-review-token") or ""
    if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8")):
        return "the review token is missing or wrong"
    return None


@dataclass(frozen=True)
class PostedDecision:
    """One decision of a POSTed body; a field left out is ``""`` (``check_decisions`` refuses an empty id or
    decision)."""

    face_id: str = ""
    decision: str = ""
    reason: str = ""


@dataclass(frozen=True)
class PostedDecisions:
    """A POSTed body: ``{"reviewer": ..., "decisions": [{"face_id", "decision", "reason"}, ...]}``.

    Validated like a config file (``landmark_core.config``): strictly, and unknown keys are refused, so a
    misspelt ``reason`` is a 400 instead of a decision without its reason.
    """

    reviewer: str = ""
    decisions: tuple[PostedDecision, ...] = ()


def parse_decisions(body: bytes) -> tuple[str, list[dict[str, str]]]:
    """The reviewer and decision rows of a POSTed body.

    Args:
        body: the request's body (UTF-8 JSON, ``PostedDecisions``).

    Returns:
        The reviewer (stripped) and one row per decision: its fields, the reviewer, and ``policy = "human"``.

    Raises:
        DecisionError: one line naming what is wrong (not JSON, not an object, a value of the wrong type, an
            unknown key) and where.
    """
    try:
        posted = from_json(PostedDecisions, body, where="the body")
    except ConfigError as error:
        raise DecisionError(str(error)) from None
    reviewer = posted.reviewer.strip()
    return reviewer, [{**asdict(item), "reviewer": reviewer, "policy": "human"} for item in posted.decisions]


def create_app(*, store: str, token: str, resume: bool = True, hosts: tuple[str, ...] = LOOPBACK) -> Starlette:
    """The review app over ``store``.

    Args:
        store: the store whose projections are reviewed and whose decisions file is written.
        token: the session's secret, required on every request.
        resume: False only writes decisions (no Prefect API calls).
        hosts: the host names requests may address (loopback names and the bound address).
    """
    target = Store(store, create=False)  # the command checked it exists; the page never creates one
    allowed_hosts = frozenset(h.lower().strip("[]") for h in (*LOOPBACK, *hosts))
    cache: dict[tuple, tuple[pd.DataFrame, int]] = {}

    def projections() -> tuple[pd.DataFrame, int]:
        """The catalog and the discarded count, rebuilt only when the set of projection outputs changes."""
        outputs = tuple(sorted(target.fs.glob(f"{target.root.rstrip('/')}/project/*/{STAGE_JSON}")))
        if outputs not in cache:
            cache.clear()
            cache[outputs] = review_catalog(target), discarded_faces(target)
        return cache[outputs]

    def catalog() -> pd.DataFrame:
        return projections()[0]

    @contextlib.asynccontextmanager
    async def warm(_app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(projections)  # read the manifests before the first page load asks for them
        yield

    def refusal(request: Request) -> str | None:
        return _refusal(request, token=token, hosts=allowed_hosts)

    def pending() -> pd.DataFrame:
        faces = catalog()
        decided = set(read_decisions(target)["face_id"])
        return faces[~faces["detection_id"].isin(decided)] if len(faces) else faces

    async def page(request: Request) -> Response:
        if reason := refusal(request):
            return Response(f"forbidden: {reason}", status_code=403, media_type="text/plain")
        return HTMLResponse(PAGE)

    async def faces(request: Request) -> Response:
        if reason := refusal(request):
            return JSONResponse({"error": f"forbidden: {reason}"}, status_code=403)
        waiting, decided = face_listing(catalog(), read_decisions(target))
        counts = {"accept": 0, "reject": 0}
        for item in decided:
            counts[item["decision"]] = counts.get(item["decision"], 0) + 1
        return JSONResponse({"faces": waiting, "decided": decided, "counts": {**counts, "discarded": projections()[1]}})

    async def image(request: Request) -> Response:
        if reason := refusal(request):
            return Response(f"forbidden: {reason}", status_code=403, media_type="text/plain")
        table = catalog()
        n, kind = int(request.path_params["n"]), request.path_params["kind"]
        if kind not in PICTURES or n >= len(table) or table.loc[n, "detection_id"] != request.query_params.get("id"):
            return Response("unknown face", status_code=404, media_type="text/plain")
        body = await asyncio.to_thread(picture, table.loc[n], kind)  # decoding runs beside other requests
        return Response(body, media_type="image/png")

    async def decisions(request: Request) -> Response:
        if reason := refusal(request):
            return JSONResponse({"error": f"forbidden: {reason}"}, status_code=403)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return JSONResponse({"error": "decisions must be sent as application/json"}, status_code=415)
        try:
            reviewer, rows = parse_decisions(await request.body())
        except DecisionError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        waiting = set(pending()["detection_id"])
        problems = ([] if reviewer else ["a reviewer name is required"]) + check_decisions(
            rows, pending=set(), known=waiting
        )
        if problems:
            return JSONResponse({"error": "; ".join(problems)}, status_code=400)
        try:
            written = await asyncio.to_thread(append_decisions, target, rows)
        except DecisionError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        resumed = await resume_paused_runs(reviewer, store) if resume and written else []
        return JSONResponse({"written": written, "resumed": resumed, "pending": len(waiting) - written})

    return Starlette(
        lifespan=warm,
        routes=[
            Route("/", page),
            Route("/api/faces", faces),
            Route("/img/{kind:str}/{n:int}.png", image),
            Route("/api/decisions", decisions, methods=["POST"]),
        ],
    )
