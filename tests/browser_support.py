"""Helpers for browser tests and benches: a live app server in a thread, headless Chromium.

WebGL in headless Chromium (measured on Debian chromium, no GPU): with `--disable-gpu`
Chromium falls back to SwiftShader (software WebGL through ANGLE/Vulkan) and MapLibre draws;
the automatic fallback is deprecated, so `--enable-unsafe-swiftshader` opts in explicitly and
`--use-angle=swiftshader` pins the backend.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROME_FLAGS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # WebGL through SwiftShader (software): needed for MapLibre without a GPU.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
)


def chromium_available() -> bool:
    """True when chromium and chromedriver are installed where the tests expect them."""
    chromium = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    driver = CHROMEDRIVER if CHROMEDRIVER.exists() else shutil.which("chromedriver")
    return bool(chromium and driver)


class LiveServer:
    """Serve a WSGI app on 127.0.0.1 (free port) in a daemon thread."""

    def __init__(self, wsgi_app, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[str] = []  # paths (with query) received, in order

        def recording_app(environ, start_response):
            query = environ.get("QUERY_STRING")
            self.requests.append(environ.get("PATH_INFO", "") + (f"?{query}" if query else ""))
            return wsgi_app(environ, start_response)

        self._server: BaseWSGIServer = make_server(host, port, recording_app, threaded=True)
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def count(self, prefix: str) -> int:
        """Number of requests whose path starts with `prefix`."""
        return sum(1 for r in self.requests if r.startswith(prefix))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def make_driver(width: int = 1400, height: int = 900, extra_flags: tuple[str, ...] = ()):
    """Headless Chromium driven by selenium with the flags above."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROME_FLAGS, *extra_flags, f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(120)
    return driver


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, step: float = 0.1):
    """Poll `predicate` until it returns a truthy value; raise TimeoutError after `timeout`.
    An element replaced (Dash re-rendered it) or not there yet between finding and reading it
    is a state of the page being updated: polled again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (StaleElementReferenceException, NoSuchElementException) as err:
            last = err
        else:
            if last:
                return last
        time.sleep(step)
    raise TimeoutError(f"condition not met in {timeout} s (last value: {last!r})")


def webgl_renderer(driver) -> str:
    """The WebGL renderer string of the browser ('' when WebGL is unavailable)."""
    return driver.execute_script(
        """
        const c = document.createElement('canvas');
        const gl = c.getContext('webgl2') || c.getContext('webgl');
        if (!gl) return '';
        const ext = gl.getExtension('WEBGL_debug_renderer_info');
        return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
        """
    )


def hover_lyon(browser) -> str:
    """Centre the map on Lyon, hover its label point and return the tooltip's text."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    offset = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const map = window.cafmap.map;
        map.jumpTo({center: [4.8297, 45.7573], zoom: 10});
        map.once('idle', () => {
          const p = map.project([4.8297, 45.7573]);
          const c = map.getCanvas();
          done([p.x - c.clientWidth / 2, p.y - c.clientHeight / 2]);
        });
        """
    )
    canvas = browser.find_element(By.CSS_SELECTOR, "#cafmap canvas.maplibregl-canvas")
    ActionChains(browser).move_to_element_with_offset(
        canvas, int(offset[0]), int(offset[1])
    ).perform()
    tooltip = browser.find_element(By.ID, "cafmap-tooltip")
    wait_for(lambda: tooltip.is_displayed() and "Lyon" in tooltip.text, timeout=10)
    return tooltip.text
