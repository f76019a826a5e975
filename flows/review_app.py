"""The review page: a small Starlette app (the stack Prefect already installs) for deciding projections fast.

``GET /`` is one page: per pending face the original crop, the aligned face and its projection side by side,
the final LPIPS, the loss at the early-discard step and the WFLW attribute flags; keys ``a``/``->`` accept,
``r``/``x`` reject, ``Backspace``/``<-`` go back; a bulk "accept all with LPIPS <= x" with its preview count; a
progress counter; a submit that POSTs the decisions. ``POST /api/decisions`` appends them to the store's
decisions file (atomically, before anything else) and then resumes every paused ``reproduce`` run through the
Prefect API.

The page is a local web page that another site in the same browser must not be able to use:

* every request carries the session's secret (``?token=`` or the ``X-Review-Token`` header); the command makes
  one per session when none is given and prints it in the URL;
* the ``Host`` header must name this server (loopback names, or the address it was bound to), so a page on a
  rebinding host name cannot read the face list; a request with an ``Origin`` must come from the page's own
  origin, and decisions must be ``application/json``, so a cross-site form or ``text/plain`` POST writes nothing;
* everything the page shows from the data (face ids, flags, server messages) goes in as text nodes, never
  markup;
* a malformed body (not JSON, not an object, decisions that are not objects with string fields) is a 400 with
  the reason, and writes nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import fsspec
import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from gan_core.photo import load_photo
from kit.store import STAGE_JSON, Store
from tasks.dataset_tree import DATASET_DIR
from tasks.decisions import DecisionError, append_decisions, check_decisions, read_decisions

FLAGS = ("pose", "expression", "illumination", "makeup", "occlusion", "blur")
PAGE = (Path(__file__).resolve().parent / "review_page.html").read_text()


def review_catalog(store: Store) -> pd.DataFrame:
    """Every kept projected face in the store with where its three pictures are and its WFLW flags."""
    frames = []
    for meta_path in sorted(store.fs.glob(f"{store.root.rstrip('/')}/project/*/{STAGE_JSON}")):
        project = store.output("project", meta_path.rstrip("/").split("/")[-2])
        source = project.metadata()["inputs"]["filtered"]
        filtered = store.output(source["stage"], source["key"])
        inputs = filtered.metadata()["inputs"]
        faces = project.manifest()
        faces = faces[~faces["discarded"].astype(bool)].drop(columns=["wflw_face_id"])
        faces = faces.rename(columns={"image_path": "projected_path"}).merge(filtered.manifest(), on="detection_id")
        index = store.output(inputs["index"]["stage"], inputs["index"]["key"]).manifest().set_index("face_id")
        for flag in FLAGS:
            faces[flag] = [int(index.loc[f, flag]) if f in index.index else 0 for f in faces["wflw_face_id"]]
        faces["project_dir"] = str(project.local_dir())
        faces["filter_dir"] = str(filtered.local_dir())
        dataset = store.output(inputs["dataset"]["stage"], inputs["dataset"]["key"])
        faces["photo_root"] = str(dataset.local_dir() / DATASET_DIR)
        frames.append(faces)
    if not frames:
        return pd.DataFrame(columns=["detection_id", "lpips"])
    return pd.concat(frames, ignore_index=True).drop_duplicates("detection_id", keep="last").reset_index(drop=True)


def _png(image: np.ndarray, side: int = 320) -> Response:
    scale = side / max(image.shape[:2])
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return Response(cv2.imencode(".png", image)[1].tobytes(), media_type="image/png")


@lru_cache(maxsize=256)
def _original_crop(photo: str, box: tuple[float, float, float, float]) -> np.ndarray:
    image, _ = load_photo(Path(photo))
    x0, y0, x1, y1 = box
    m = 0.3 * max(x1 - x0, y1 - y0)
    return image[max(0, int(y0 - m)) : int(y1 + m), max(0, int(x0 - m)) : int(x1 + m)]


def store_identity(url: str) -> tuple[str, str]:
    """(filesystem protocol, absolute root) of a store URL: two spellings of one store compare equal."""
    fs, root = fsspec.core.url_to_fs(str(url))
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol, root.rstrip("/")


async def resume_paused_runs(reviewer: str, store: str) -> list[str]:
    """Resume the paused flow runs whose review gate waits on ``store`` (their ``store`` parameter is it); each
    gate re-reads the decisions from the store. Runs gated on other stores stay paused."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run

    flow_filter = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    async with get_client() as client:
        runs = await client.read_flow_runs(flow_run_filter=flow_filter)
    resumed, ours = [], store_identity(store)
    for run in runs:
        gated_here = "store" in run.parameters and store_identity(run.parameters["store"]) == ours
        if gated_here and run.state and run.state.state_details.run_input_keyset:
            await resume_flow_run(run.id, run_input={"reviewer": reviewer, "decisions": []})
            resumed.append(str(run.id))
    return resumed


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


def parse_decisions(body: bytes) -> tuple[str, list[dict[str, str]]]:
    """The reviewer and decision rows of a POSTed body.

    Raises:
        DecisionError: the body is not a JSON object with a ``decisions`` list of objects with string fields.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise DecisionError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise DecisionError(f"the body must be a JSON object, not a {type(data).__name__}")
    reviewer, items = data.get("reviewer", ""), data.get("decisions", [])
    if not isinstance(reviewer, str) or not isinstance(items, list):
        raise DecisionError("'reviewer' must be a string and 'decisions' a list")
    rows = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not all(isinstance(item.get(k, ""), str) for k in DECISION_FIELDS):
            raise DecisionError(f"decision {n} must be an object with string fields {', '.join(DECISION_FIELDS)}")
        fields = {k: item.get(k, "") for k in DECISION_FIELDS}
        rows.append({**fields, "reviewer": reviewer.strip(), "policy": "human"})
    return reviewer.strip(), rows


DECISION_FIELDS = ("face_id", "decision", "reason")


def create_app(*, store: str, token: str, resume: bool = True, hosts: tuple[str, ...] = LOOPBACK) -> Starlette:
    """The review app over ``store``.

    Args:
        store: the store whose projections are reviewed and whose decisions file is written.
        token: the session's secret, required on every request.
        resume: False only writes decisions (no Prefect API calls).
        hosts: the host names requests may address (loopback names and the bound address).
    """
    target = Store(store)
    allowed_hosts = frozenset(h.lower().strip("[]") for h in (*LOOPBACK, *hosts))
    cache: dict[tuple, pd.DataFrame] = {}

    def catalog() -> pd.DataFrame:
        """The catalog, rebuilt only when the set of projection outputs changes."""
        outputs = tuple(sorted(target.fs.glob(f"{target.root.rstrip('/')}/project/*/{STAGE_JSON}")))
        if outputs not in cache:
            cache.clear()
            cache[outputs] = review_catalog(target)
        return cache[outputs]

    def refusal(request: Request) -> str | None:
        return _refusal(request, token=token, hosts=allowed_hosts)

    def pending() -> pd.DataFrame:
        faces = catalog()
        decided = set(read_decisions(target)["face_id"])
        return faces[~faces["detection_id"].isin(decided)].reset_index(drop=True) if len(faces) else faces

    async def page(request: Request) -> Response:
        if reason := refusal(request):
            return Response(f"forbidden: {reason}", status_code=403, media_type="text/plain")
        return HTMLResponse(PAGE)

    async def faces(request: Request) -> Response:
        if reason := refusal(request):
            return JSONResponse({"error": f"forbidden: {reason}"}, status_code=403)
        table = pending()
        items = [
            {
                "id": r["detection_id"],
                "n": i,
                "lpips": round(float(r["lpips"]), 4),
                "loss100": round(float(r["loss_at_discard_step"]), 4),
                "flags": [f for f in FLAGS if r[f]],
            }
            for i, r in table.iterrows()
        ]
        return JSONResponse({"faces": items, "decided": len(read_decisions(target))})

    async def image(request: Request) -> Response:
        if reason := refusal(request):
            return Response(f"forbidden: {reason}", status_code=403, media_type="text/plain")
        table = pending()
        n, kind = int(request.path_params["n"]), request.path_params["kind"]
        if n >= len(table) or table.loc[n, "detection_id"] != request.query_params.get("id"):
            return Response("unknown face", status_code=404, media_type="text/plain")
        face = table.loc[n]
        if kind == "projected":
            return _png(cv2.imread(str(Path(face["project_dir"]) / face["projected_path"])))
        if kind == "aligned":
            return _png(cv2.imread(str(Path(face["filter_dir"]) / face["aligned_path"])))
        box = tuple(float(v) for v in np.asarray(face["det_box"]).reshape(-1)[:4])
        return _png(_original_crop(str(Path(face["photo_root"]) / face["image_path"]), box))

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
        routes=[
            Route("/", page),
            Route("/api/faces", faces),
            Route("/img/{kind:str}/{n:int}.png", image),
            Route("/api/decisions", decisions, methods=["POST"]),
        ]
    )
