"""Map screenshots of two builds on the same views, and how many pixels differ.

For a change of the vector tiles' content (geodata/tiles.py, TILES_FORMAT): the user-visible
map must stay the same. Each view is opened in headless Chromium (1400 x 900, as map_bench) on
build A, then on build B, once the map is idle with every tile in; the screenshots are compared
pixel by pixel (any channel differing, and differing by more than 48 of 255 on some channel).

Run: `python -m bench.map_shots --a <cache A> --b <cache B> [--out DIR]` (PNG files in DIR,
with a difference image per view: changed pixels in red over the A image, greyed).
For a change of the map's code rather than of a build, take each code's screenshots in its own
checkout, then compare them: `python <checkout>/bench/map_shots.py --shoot <cache> --prefix
main --out DIR` (with PYTHONPATH=<checkout>), the same with `--prefix new`, then
`python -m bench.map_shots --diff main new --out DIR`.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # browser_support: live server and Chromium helpers

COUNT = "indicateur=allocataires"
CHORO = f"{COUNT}&representation=choroplethe"
# (name, query): the national views of the dense levels, a city at a zoom past the tiles'
# deepest cut, and a mid zoom (Lyon, z8).
VIEWS = (
    ("communes-france", f"niveau=commune&{CHORO}"),
    ("communes-france-cercles", f"niveau=commune&{COUNT}"),
    ("iris-france", f"niveau=iris&{CHORO}"),
    ("communes-paris-z11", f"niveau=commune&{CHORO}&vue=2.3470,48.8590,11"),
    ("iris-paris-z12.5", f"niveau=iris&{CHORO}&vue=2.3470,48.8590,12.5"),
    ("communes-lyon-z8", f"niveau=commune&{CHORO}&vue=4.8350,45.7600,8"),
    # Secret cells (hatched): the communes' share of RSA households.
    ("communes-france-secrets", "niveau=commune&indicateur=part_rsa"),
    ("communes-lyon-z8-secrets", "niveau=commune&indicateur=part_rsa&vue=4.8350,45.7600,8"),
)
# The map and its overseas insets idle with every tile in, nothing moving, the insets painted
# (their features are known once their tiles are in); then two frames for the paint.
SETTLED_JS = """
const done = arguments[arguments.length - 1];
const st = window.cafmap && window.cafmap.state, map = st && st.map;
if (!map || !st.firstIdle || st.confirmed === false) { done(false); return; }
const maps = [map].concat((st.insets || []).map(inset => inset.map));
const busy = m => !m.loaded() || !m.areTilesLoaded() || m.isMoving();
const level = st.lastSpec && st.lastSpec.niveau;
const unpainted = (st.insets || []).some(i => i.parts[level] && i.parts[level].ids === null);
if (maps.some(busy) || unpainted) { done(false); return; }
requestAnimationFrame(() => requestAnimationFrame(() => done(true)));
"""
STRONG = 48  # a channel differing by more than this: a visible change, not antialiasing


def shoot(cache: Path, out: Path, prefix: str) -> dict[str, Path]:
    """Screenshots of every view on the build `cache`, as `out/<prefix>-<view>.png`."""
    from browser_support import LiveServer, make_driver, wait_for

    from dashboard.app import create_app
    from layers.config import Settings

    settings = replace(Settings.from_env(), cache=cache.resolve())
    app = create_app(settings)
    shots = {}
    with LiveServer(app.server) as server:
        driver = make_driver()
        try:
            for name, query in VIEWS:
                driver.get(f"{server.url}/?{query}")
                # Settled twice half a second apart: a late paint (insets' circles) is in.
                for _ in range(2):
                    wait_for(lambda: driver.execute_async_script(SETTLED_JS), timeout=120, step=0.3)
                    time.sleep(0.5)
                shots[name] = out / f"{prefix}-{name}.png"
                shots[name].write_bytes(driver.get_screenshot_as_png())
        finally:
            driver.quit()
    return shots


def compare(a: Path, b: Path, diff: Path) -> tuple[int, int, int]:
    """(pixels differing, of which strongly, total pixels); the difference image in `diff`."""
    import numpy as np
    from PIL import Image

    img_a = np.asarray(Image.open(io.BytesIO(a.read_bytes())).convert("RGB")).astype(np.int16)
    img_b = np.asarray(Image.open(io.BytesIO(b.read_bytes())).convert("RGB")).astype(np.int16)
    delta = np.abs(img_a - img_b).max(axis=2)
    changed, strong = delta > 0, delta > STRONG
    grey = (img_a.mean(axis=2, keepdims=True) * 0.4 + 150).repeat(3, axis=2)
    grey[changed] = (255, 0, 0)
    Image.fromarray(grey.astype(np.uint8)).save(diff)
    return int(changed.sum()), int(strong.sum()), int(delta.size)


def report(out: Path, prefix_a: str, prefix_b: str) -> None:
    """Print the pixels differing between the two sets of screenshots in `out`."""
    print(f"{'view':28} {'pixels differing':>17} {'strongly':>9} {'of':>9}")
    for name, _ in VIEWS:
        a, b = out / f"{prefix_a}-{name}.png", out / f"{prefix_b}-{name}.png"
        n, strong, total = compare(a, b, out / f"diff-{name}.png")
        print(f"{name:28} {n:17,} {strong:9,} {total:9,} ({100 * n / total:.3f} %)")
    print(f"(images in {out})")


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m bench.map_shots`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, help="build cache A (reference)")
    parser.add_argument("--b", type=Path, help="build cache B (changed)")
    parser.add_argument("--shoot", type=Path, metavar="CACHE", help="screenshots only")
    parser.add_argument("--prefix", default="shot", help="file prefix of --shoot's images")
    parser.add_argument("--diff", nargs=2, metavar=("PREFIX_A", "PREFIX_B"), help="compare only")
    parser.add_argument("--out", type=Path, help="folder of the PNG files (default: temporary)")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    out = args.out or Path(tempfile.mkdtemp(prefix="cafcarto-shots-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.shoot:
        shoot(args.shoot, out, args.prefix)
        print(f"(images in {out})")
    elif args.diff:
        report(out, *args.diff)
    elif args.a and args.b:
        shoot(args.a, out, "a")
        shoot(args.b, out, "b")
        report(out, "a", "b")
    else:
        parser.error("--a and --b, or --shoot, or --diff")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
