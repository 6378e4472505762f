"""A minimal Dash renderer over HTTP, for load tests: what the browser's dash-renderer posts.

It reads `_dash-dependencies`, keeps the props of the components it has seen (from
`_dash-layout` and from the page layouts returned by the pages callback), fires the server-side
callbacks that a page load or a changed value triggers, and applies their outputs, so the
payloads follow the app's real callbacks instead of a frozen capture. Pattern-matching ids
(ALL, MATCH) and clientside callbacks are skipped: the browser runs the latter itself.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from functools import lru_cache
from typing import Any

# (method, path, json body or None) -> (status, parsed JSON or None)
Send = Callable[[str, str, Any], Awaitable[tuple[int, Any]]]
MAX_CHAIN = 4  # depth of callbacks triggered by callbacks' outputs
SHARED_PARSE_BYTES = 16_384


def walk_props(tree: Any, into: dict[tuple[str, str], Any]) -> None:
    """Record every prop of every component with a string id found in a layout tree."""
    if isinstance(tree, list):
        for item in tree:
            walk_props(item, into)
    elif isinstance(tree, dict):
        props = tree.get("props") if "namespace" in tree else None
        if isinstance(props, dict):
            cid = props.get("id")
            for key, value in props.items():
                if isinstance(cid, str):
                    into[(cid, key)] = value
                if isinstance(value, dict | list):
                    walk_props(value, into)
        else:
            for value in tree.values():
                if isinstance(value, dict | list):
                    walk_props(value, into)


def _plain(deps: Iterable[dict]) -> list[dict]:
    """Server-side callbacks whose ids are all plain strings."""
    out = []
    for dep in deps:
        if dep.get("clientside_function"):
            continue
        ids = [d["id"] for d in (*dep["inputs"], *dep["state"])]
        if all(isinstance(i, str) and not i.startswith("{") for i in ids):
            out.append(dep)
    return out


def _inputs(dep: dict) -> set[str]:
    return {f"{i['id']}.{i['property']}" for i in dep["inputs"]}


def _outputs(dep: dict) -> list[tuple[str, str]]:
    text = dep["output"]
    parts = text.strip(".").split("...") if text.startswith("..") else [text]
    return [tuple(p.rsplit(".", 1)) for p in parts]  # type: ignore[misc]


class Props(dict):
    """(id, prop) -> value, and the ids seen: `present` asked for each callback of each change
    scanned every key (a third of the load client's CPU with the walks below)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def __setitem__(self, key: tuple[str, str], value: Any) -> None:
        self.ids.add(key[0])
        super().__setitem__(key, value)


# A page's answer is the same bytes for every user of a URL (the server keeps it): its walk is
# done once, kept with the parsed value it came from (see `answer_json`).
_WALKED: dict[int, tuple[Any, dict[tuple[str, str], Any]]] = {}
WALKED_MAX = 512


def _walk_once(value: Any, into: dict[tuple[str, str], Any]) -> None:
    kept = _WALKED.get(id(value))
    if kept is None or kept[0] is not value:
        found: dict[tuple[str, str], Any] = {}
        walk_props(value, found)
        if len(_WALKED) >= WALKED_MAX:
            _WALKED.clear()
        kept = _WALKED[id(value)] = (value, found)
    for key, prop in kept[1].items():
        into[key] = prop


class DashSession:
    """One browser tab: the props it knows and the callbacks it can fire."""

    def __init__(self, deps: list[dict], send: Send) -> None:
        self.deps = _plain(deps)
        self.send = send
        self.props = Props()

    def present(self, cid: str) -> bool:
        return cid in self.props.ids

    def payload(self, dep: dict, changed: Iterable[str]) -> dict:
        outs = _outputs(dep)
        multi = dep["output"].startswith("..")

        def item(d: dict) -> dict:
            out = {"id": d["id"], "property": d["property"]}
            if (d["id"], d["property"]) in self.props:
                out["value"] = self.props[(d["id"], d["property"])]
            return out

        outputs = [{"id": i, "property": p} for i, p in outs]
        return {
            "output": dep["output"],
            "outputs": outputs if multi else outputs[0],
            "inputs": [item(d) for d in dep["inputs"]],
            "state": [item(d) for d in dep["state"]],
            "changedPropIds": list(changed),
        }

    async def call(self, dep: dict, changed: Iterable[str]) -> set[str]:
        """Post one callback, apply its outputs; the props it changed."""
        status, body = await self.send(
            "POST", "/_dash-update-component", self.payload(dep, changed)
        )
        if status != 200 or not isinstance(body, dict):
            return set()  # 204: no_update / PreventUpdate
        done: set[str] = set()
        for cid, props in (body.get("response") or {}).items():
            if isinstance(props, dict):
                for prop, value in props.items():
                    self.props[(cid, prop)] = value
                    _walk_once(value, self.props)
                    done.add(f"{cid}.{prop}")
        return done

    def _ready(self, dep: dict) -> bool:
        ids = [d["id"] for d in dep["inputs"]] + [o[0] for o in _outputs(dep)]
        return all(self.present(i) for i in ids)

    async def initial(self, skip: Iterable[str] = ()) -> None:
        """The callbacks a freshly rendered layout fires (prevent_initial_call excepted)."""
        skip = set(skip)
        changed: set[str] = set()
        for dep in self.deps:
            if dep.get("prevent_initial_call") or dep["output"] in skip or not self._ready(dep):
                continue
            names = [f"{d['id']}.{d['property']}" for d in dep["inputs"]]
            changed |= await self.call(dep, names)
        await self.propagate(changed)

    async def set(self, cid: str, prop: str, value: Any) -> None:
        """What a user's change does: the prop changes, its callbacks (and theirs) fire."""
        self.props[(cid, prop)] = value
        await self.propagate({f"{cid}.{prop}"})

    async def propagate(self, changed: set[str]) -> None:
        """Fire what `changed` triggers, like dash-renderer: a callback waits while another
        pending callback still has to update one of its inputs, so it fires once."""
        pending: dict[int, set[str]] = {}
        self._trigger(pending, changed)
        for _ in range(MAX_CHAIN * 4):
            if not pending:
                return
            outs = {k: {f"{i}.{p}" for i, p in _outputs(self.deps[k])} for k in pending}
            ready = [
                k
                for k in pending
                if not any(_inputs(self.deps[k]) & outs[j] for j in pending if j != k)
            ]
            for k in ready or list(pending):
                names = pending.pop(k)
                self._trigger(pending, await self.call(self.deps[k], sorted(names)))

    def _trigger(self, pending: dict[int, set[str]], changed: set[str]) -> None:
        for k, dep in enumerate(self.deps):
            hit = changed & _inputs(dep)
            if hit and self._ready(dep):
                pending.setdefault(k, set()).update(hit)

    async def open_page(self, pathname: str, search: str = "") -> None:
        """dcc.Location of Dash pages: the pages callback renders the page, then its own."""
        self.props[("_pages_location", "pathname")] = pathname
        self.props[("_pages_location", "search")] = search
        pages = [d for d in self.deps if d["output"].startswith(".._pages_content.")]
        for dep in pages:
            changed = await self.call(dep, ["_pages_location.pathname"])
            await self.initial(skip=[dep["output"]])
            changed.discard("_pages_content.children")
            await self.propagate(changed)


def json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


@lru_cache(maxsize=256)
def _shared_json(raw: bytes) -> Any:
    return json_or_none(raw)


def answer_json(raw: bytes) -> Any:
    """A callback answer parsed; a large one (a page) parsed once per distinct bytes and
    shared between users, who only read it (a page: ~140 kB of JSON, the same for every
    visitor of a URL)."""
    return _shared_json(raw) if len(raw) > SHARED_PARSE_BYTES else json_or_none(raw)
