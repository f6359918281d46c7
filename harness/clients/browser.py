"""The browser client: Chromium driven by Playwright, recording into the timeline.

One `BrowserDriver` owns one Chromium for a run; each matrix cell gets a fresh
browser context (`BrowserCell`) with its own HAR and Playwright trace. Playwright's
async API runs on a private event loop in a background thread, so events are
recorded at the moment they happen, even while the harness's main thread sleeps or
injects a fault. The public methods are synchronous and every one is bounded by a
timeout; `close()` kills the browser on every path.

What a cell records (src `browser`, vocabulary in docs/timeline.md): `http.request`,
`http.response`, `http.failed`, `ws.open`, `ws.frame`, `ws.close`, `ws.error`,
`console`, `page.error`, and whatever the page reports through
`window.__siolabReport(kind, data)` (kinds `sio.*`, `singleton.*`, `app.*`).
No headers or cookies go into the timeline, and the HAR and trace are scrubbed when the
cell closes (cookies, secret headers, secret query values: harness/core/redaction.py).
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import io
import json
import logging
import math
import os
import shutil
import signal
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any, Awaitable, Callable, Coroutine, TypeVar
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Request, Response, WebSocket, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from ..core import redaction
from ..core.protocol import is_engineio_url, split_payload
from ..core.timeline import Timeline
from . import page_instrument

log = logging.getLogger(__name__)

LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No request leaves the machine: every host name but loopback fails to resolve (pages of
    # yours: harness/clients/page_instrument.py routes the socket.io CDN files before DNS).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
REPORT_BINDING = "__siolabReport"
REPORT_PREFIXES = ("sio.", "singleton.", "app.")
SOCKETIO_BODY_LIMIT = 2000
WS_PAYLOAD_LIMIT = 500
# Where the driver's own trouble shows up in `console` events, so that a check
# counting the page's console errors can tell them apart.
DRIVER_URL = "siolab:browser-driver"
SECRET_HEADERS = redaction.SECRET_HEADERS

LAUNCH_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 10.0  # the whole of a cell's or the driver's close
BODY_TIMEOUT_S = 5.0

T = TypeVar("T")


class BrowserError(RuntimeError):
    """Playwright or Chromium refused an action (navigation error, bad selector, ...)."""


class BrowserNotFound(BrowserError):
    """No Chromium to launch: neither a Playwright-managed one nor one on PATH."""


# --------------------------------------------------------------------------- finding Chromium

def find_chromium() -> str | None:
    """A Playwright-managed Chromium if one is installed, else Chromium on PATH, else None.

    Asking Playwright for its managed path starts its driver briefly (~0.3 s); this
    runs on a throw-away loop in a thread, so it works from sync and async callers alike.
    """
    result: list[str | None] = [None]

    def ask_playwright() -> None:
        async def managed() -> str | None:
            async with async_playwright() as pw:
                return _existing_executable(pw.chromium.executable_path)

        try:
            result[0] = asyncio.run(managed())
        except Exception as exc:  # no driver, broken install: fall back to PATH
            log.debug("playwright could not name its Chromium: %r", exc)

    asker = threading.Thread(target=ask_playwright, name="siolab-find-chromium", daemon=True)
    asker.start()
    asker.join(LAUNCH_TIMEOUT_S)
    return result[0] or _chromium_on_path()


def _existing_executable(path: str | None) -> str | None:
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def _chromium_on_path() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


# --------------------------------------------------------------------------- the driver

class BrowserDriver:
    """One headless Chromium for a run, driven from a private asyncio loop thread.

    Use as a context manager. `executable` defaults to `find_chromium()`'s choice.
    """

    def __init__(self, *, executable: str | None = None):
        self.executable: str | None = None
        self.version: str | None = None
        self.browser_pid: int | None = None
        self.browser_pgid: int | None = None
        self._playwright_driver_pid: int | None = None  # Playwright's node process, the browser's parent
        # Chromium ignores switches it does not know; this one finds our browser in /proc.
        self._marker = f"--siolab-browser={uuid.uuid4().hex}"
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._cells: list[BrowserCell] = []
        self._closed = False
        self._close_lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="siolab-browser", daemon=True)
        self._thread.start()
        atexit.register(self.close)
        try:
            self._call(_translate_errors(self._start(executable), "launching Chromium"),
                       LAUNCH_TIMEOUT_S + 5, "launching Chromium")
        except BaseException:
            self.close()
            raise

    # -- public API

    def new_cell(self, timeline: Timeline, cell_dir: Path, *, base_url: str,
                 page_options: dict[str, Any] | None = None) -> "BrowserCell":
        """A fresh browser context recording into `timeline`, with HAR and trace in `cell_dir`.
        `page_options` for a page of yours: instrument, transports, page_file (page_instrument.py)."""
        cell_dir = Path(cell_dir)
        cell_dir.mkdir(parents=True, exist_ok=True)
        cell = BrowserCell(self, timeline, cell_dir, base_url, page_options)
        self._cells.append(cell)
        try:
            self._call(_translate_errors(cell._open(), "opening a browser context"),
                       CALL_TIMEOUT_S, "opening a browser context")
        except BaseException:
            cell.close()
            raise
        return cell

    def browser_processes(self) -> list[int]:
        """Live processes still in the browser's process group (empty after `close()`)."""
        return _live_group_members(self.browser_pgid) if self.browser_pgid else []

    def close(self) -> None:
        """Close every cell, then the browser; whatever does not go in time is SIGKILLed."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        try:
            for cell in list(self._cells):
                cell._close_within(max(1.0, deadline - time.monotonic()))
            if self._loop.is_running():
                remaining = max(1.0, deadline - time.monotonic())
                self._submit_and_wait(self._shutdown(), remaining, "closing Chromium")
        except BaseException as exc:  # noqa: BLE001 - closing must go on, and kill below
            log.warning("browser driver: graceful close failed: %r", exc)
        finally:
            self._kill_browser_group()
            self._kill_playwright_driver()
            self._stop_loop()

    def __enter__(self) -> "BrowserDriver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the loop thread

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        # Leftover tasks (a body still being read, a call that timed out) are cancelled.
        pending = [task for task in asyncio.all_tasks(self._loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.wait(pending, timeout=2))
        self._loop.close()

    def _stop_loop(self) -> None:
        if not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._loop.stop)
            except RuntimeError:  # closed meanwhile
                pass
        if self._thread is not threading.current_thread():
            self._thread.join(5)

    def _call(self, coro: Coroutine[Any, Any, T], timeout_s: float, what: str) -> T:
        if self._closed:
            coro.close()
            raise BrowserError(f"browser driver is closed ({what})")
        return self._submit_and_wait(coro, timeout_s, what)

    def _submit_and_wait(self, coro: Coroutine[Any, Any, T], timeout_s: float, what: str) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"browser: {what} did not finish within {timeout_s:g} s") from None

    async def _start(self, executable: str | None) -> None:
        self._pw = await async_playwright().start()
        self.executable = (
            executable
            or _existing_executable(self._pw.chromium.executable_path)
            or _chromium_on_path()
        )
        if not self.executable:
            raise BrowserNotFound(
                "no Chromium found: no Playwright-managed browser is installed and none of "
                + ", ".join(CHROMIUM_NAMES) + " is on PATH"
            )
        self._browser = await self._pw.chromium.launch(
            executable_path=self.executable,
            headless=True,
            args=[*LAUNCH_ARGS, self._marker],
            timeout=LAUNCH_TIMEOUT_S * 1000,
        )
        self.version = self._browser.version
        self.browser_pid = _find_browser_pid(self._marker)
        if self.browser_pid:
            try:
                self.browser_pgid = os.getpgid(self.browser_pid)
            except ProcessLookupError:
                self.browser_pgid = None
            self._playwright_driver_pid = _parent_pid(self.browser_pid)

    async def _shutdown(self) -> None:
        if self._browser:
            try:
                await asyncio.wait_for(self._browser.close(), 5)
            except Exception as exc:  # noqa: BLE001 - the group kill follows
                log.warning("browser driver: browser.close failed: %r", exc)
        if self._pw:
            try:
                await asyncio.wait_for(self._pw.stop(), 3)
            except Exception as exc:  # noqa: BLE001
                log.warning("browser driver: playwright.stop failed: %r", exc)

    def _kill_browser_group(self) -> None:
        pgid = self.browser_pgid
        if not pgid or not _live_group_members(pgid):
            return
        try:
            if pgid == os.getpgrp():
                # Never our own group: only the browser itself then.
                if self.browser_pid:
                    os.kill(self.browser_pid, signal.SIGKILL)
            else:
                os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 3
        while _live_group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _kill_playwright_driver(self) -> None:
        # Normally gone after playwright.stop(); left running only when that timed out.
        pid = self._playwright_driver_pid
        if not pid or _parent_pid(pid) != os.getpid():
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        # Let the loop see the pipe close and reap it, before the loop goes away.
        deadline = time.monotonic() + 2
        while _parent_pid(pid) == os.getpid() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)


# --------------------------------------------------------------------------- one cell

class BrowserCell:
    """One fresh browser context and page for a matrix cell. Use as a context manager."""

    def __init__(self, driver: BrowserDriver, timeline: Timeline, cell_dir: Path, base_url: str,
                 page_options: dict[str, Any] | None = None):
        self.timeline = timeline
        self.page_options = page_options
        self.cell_dir = cell_dir
        self.base_url = base_url
        self.har_path = cell_dir / "browser.har"
        self.trace_path = cell_dir / "trace.zip"
        self._driver = driver
        self._recorder = _CellRecorder(timeline)
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._cdp = None          # a CDP session on the page, opened by the first freeze
        self._tracing = False
        self._closed = False

    # -- public API (synchronous)

    def goto(self, path_or_url: str, wait_until: str = "load", *, timeout_s: float = 15.0) -> int | None:
        """Navigate (a path is relative to `base_url`); the main response's status, if any.
        Where the lab supplies the document (page_instrument.document_for), it is written after the navigation."""
        document = page_instrument.document_for(self.page_options, path_or_url)

        async def run() -> int | None:
            response = await self._page.goto(path_or_url, wait_until=wait_until, timeout=timeout_s * 1000)
            if document is not None:
                await self._page.set_content(document, wait_until=wait_until, timeout=timeout_s * 1000)
            return response.status if response else None
        return self._run(run(), timeout_s, f"goto {path_or_url}")

    def evaluate(self, js: str, arg: Any = None, *, timeout_s: float = CALL_TIMEOUT_S) -> Any:
        """Run `js` (an expression or a function, awaited if it returns a promise) in the page."""
        return self._run(self._page.evaluate(js, arg), timeout_s, "evaluate")

    def click(self, selector: str, *, timeout_s: float = CALL_TIMEOUT_S) -> None:
        self._run(self._page.click(selector, timeout=timeout_s * 1000), timeout_s, f"click {selector}")

    def wait_for_function(self, js: str, timeout_s: float, arg: Any = None) -> Any:
        """Wait until `js` returns something truthy in the page; returns that value."""
        async def run() -> Any:
            handle = await self._page.wait_for_function(js, arg=arg, timeout=timeout_s * 1000)
            try:
                return await handle.json_value()
            finally:
                await handle.dispose()
        return self._run(run(), timeout_s, "wait_for_function")

    def run_hook(self, hook: Callable[..., Awaitable[Any]], *, timeout_s: float = 30.0) -> Any:
        """A set-up hook of yours (login…): `await hook(page, context, base_url)` on the driver's loop."""
        self.timeline.record("harness", "hook", {"hook": getattr(hook, "__qualname__", repr(hook)), "phase": "begin"})
        result = self._run(hook(self._page, self._context, self.base_url), timeout_s, "the set-up hook")
        self.timeline.record("harness", "hook", {"phase": "end"})
        return result

    def freeze(self, frozen: bool, *, timeout_s: float = CALL_TIMEOUT_S) -> None:
        """Stop the page's JavaScript (CDP `Debugger.pause`), or let it run again (`Debugger.resume`):
        no timer, no network callback, no pong runs while the connections stay open, as in a debugger or
        a hung main thread. Records `client.frozen` (src harness) once Chromium reports the pause, and
        `client.thawed` just before asking it to resume: the page can do nothing before either, so
        whatever the page records between them happened while it was frozen.

        Not `Page.setWebLifecycleState`: Chromium freezes only a hidden page, and Playwright keeps every
        page visible (its focus emulation counts as a capture); measured here, a "frozen" page's timers
        and pongs went on."""
        async def run() -> None:
            if self._cdp is None:
                self._cdp = await self._context.new_cdp_session(self._page)
                await self._cdp.send("Debugger.enable")
            done = asyncio.get_running_loop().create_future()
            event = "Debugger.paused" if frozen else "Debugger.resumed"

            def on_event(_params: Any) -> None:
                if not done.done():
                    done.set_result(None)
            self._cdp.once(event, on_event)
            await self._cdp.send("Debugger.pause" if frozen else "Debugger.resume")
            await asyncio.wait_for(done, timeout_s)
        if not frozen:
            self.timeline.record("harness", "client.thawed", {"how": "Debugger.resume"})
        self._run(run(), timeout_s, "pausing the page's scripts" if frozen else "resuming the page's scripts")
        if frozen:
            self.timeline.record("harness", "client.frozen", {"how": "Debugger.pause"})

    def close(self) -> None:
        """Stop tracing, close the context (the HAR is written then), scrub the artifacts."""
        self._close_within(CLOSE_TIMEOUT_S)

    def _close_within(self, timeout_s: float) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._context is not None and self._driver._loop.is_running():
                self._driver._submit_and_wait(self._close(), timeout_s, "closing a browser context")
        except BaseException as exc:  # noqa: BLE001 - the driver's close kills what is left
            self._recorder.driver_error("closing the cell", exc)
        finally:
            if self in self._driver._cells:
                self._driver._cells.remove(self)
        for path, scrub in ((self.har_path, _scrub_har_file), (self.trace_path, _scrub_trace_zip)):
            try:
                if path.exists():
                    scrub(path)
            except Exception as exc:  # noqa: BLE001 - an unreadable artifact stays as written
                self._recorder.driver_error(f"scrubbing {path.name}", exc)

    def __enter__(self) -> "BrowserCell":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inside the loop

    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float, what: str) -> T:
        if self._closed:
            coro.close()
            raise BrowserError(f"browser cell is closed ({what})")
        # Playwright's own timeout fires first (it says more); ours is the backstop.
        return self._driver._call(_translate_errors(coro, what), timeout_s + 5, what)

    async def _open(self) -> None:
        browser = self._driver._browser
        assert browser is not None
        self._context = await browser.new_context(
            base_url=self.base_url,
            record_har_path=str(self.har_path),
            record_har_content="embed",
        )
        self._recorder.attach(self._context)
        await self._context.expose_binding(REPORT_BINDING, self._recorder.on_report)
        await page_instrument.install(self._context, self._recorder, self.page_options)
        await self._context.tracing.start(title=self.cell_dir.name, snapshots=True, screenshots=False, sources=False)
        self._tracing = True
        self._page = await self._context.new_page()

    async def _close(self) -> None:
        context = self._context
        assert context is not None
        if self._tracing:
            try:
                await asyncio.wait_for(context.tracing.stop(path=str(self.trace_path)), 4)
            except Exception as exc:  # noqa: BLE001
                self._recorder.driver_error("stopping the trace", exc)
        await self._recorder.settle(timeout_s=1)
        try:
            await asyncio.wait_for(context.close(), 5)
        except Exception as exc:  # noqa: BLE001
            self._recorder.driver_error("closing the context", exc)


async def _translate_errors(coro: Awaitable[T], what: str) -> T:
    # Callers of the harness should not need to import Playwright.
    try:
        return await coro
    except PlaywrightTimeoutError as exc:
        raise TimeoutError(redaction.redact_text(f"browser: {what}: {exc.message}")) from None
    except PlaywrightError as exc:
        raise BrowserError(redaction.redact_text(f"browser: {what}: {exc.message}")) from None


# --------------------------------------------------------------------------- recording

class _CellRecorder:
    """Playwright's events for one context, turned into timeline events.

    Every callback is guarded: an exception while recording becomes a `console` event
    (level `error`, url `siolab:browser-driver`) and never reaches Playwright's loop.
    """

    def __init__(self, timeline: Timeline):
        self.timeline = timeline
        self._request_ids: dict[Request, int] = {}
        self._last_id = 0
        self._body_tasks: set[asyncio.Task] = set()

    def attach(self, context: BrowserContext) -> None:
        guard = self._guard
        context.on("request", guard("request", self.on_request))
        context.on("response", guard("response", self.on_response))
        context.on("requestfinished", guard("requestfinished", self.on_request_finished))
        context.on("requestfailed", guard("requestfailed", self.on_request_failed))
        context.on("console", guard("console", self.on_console))
        context.on("page", guard("page", self.on_page))

    def on_page(self, page: Page) -> None:
        guard = self._guard
        page.on("websocket", guard("websocket", self.on_websocket))
        page.on("pageerror", guard("pageerror", self.on_page_error))
        page.on("crash", guard("crash", lambda _page: self.record("page.error", {"message": "page crashed"})))

    # -- HTTP

    def on_request(self, request: Request) -> None:
        self._last_id += 1
        self._request_ids[request] = self._last_id
        parts = urlsplit(request.url)
        data: dict[str, Any] = {"id": self._last_id, "method": request.method, "url": request.url,
                                "path": parts.path, **_engineio_query(parts.query)}
        if _is_page_load(request):
            data["document"] = True       # a page load: the sessions of the page before it are left behind
        if _is_socketio(parts):
            body = request.post_data
            if body is not None:
                data["body"] = body[:SOCKETIO_BODY_LIMIT]
                data["bytes"] = len(request.post_data_buffer or b"")
                data["packets"] = len(split_payload(body))   # the body is cut at the limit; the count is whole
        self.record("http.request", data)

    def on_response(self, response: Response) -> None:
        t = self.timeline.now()  # when the response arrived, not when its body was read
        request = response.request
        parts = urlsplit(response.url)
        data: dict[str, Any] = {"id": self._id_of(request), "method": request.method, "url": response.url}
        sid = _engineio_query(parts.query).get("sid")
        if sid:
            data["sid"] = sid
        data.update(status=response.status, status_text=response.status_text)
        if not _is_socketio(parts):
            self.record("http.response", data, t=t)
            return
        task = asyncio.ensure_future(self._record_with_body(response, data, t))
        self._body_tasks.add(task)
        task.add_done_callback(self._body_tasks.discard)

    async def _record_with_body(self, response: Response, data: dict[str, Any], t: float) -> None:
        try:
            data["body"] = (await asyncio.wait_for(response.text(), BODY_TIMEOUT_S))[:SOCKETIO_BODY_LIMIT]
        except asyncio.CancelledError:
            self.record("http.response", data, t=t)
            raise
        except Exception:  # noqa: BLE001 - a redirect, a body cut off: the failure has its own event
            pass
        try:
            self.record("http.response", data, t=t)
        except Exception as exc:  # noqa: BLE001
            self.driver_error("recording a response", exc)

    def on_request_finished(self, request: Request) -> None:
        self._request_ids.pop(request, None)

    def on_request_failed(self, request: Request) -> None:
        data: dict[str, Any] = {"id": self._id_of(request, forget=True), "method": request.method, "url": request.url}
        sid = _engineio_query(urlsplit(request.url).query).get("sid")
        if sid:
            data["sid"] = sid
        data["error"] = request.failure or "unknown"
        self.record("http.failed", data)

    def _id_of(self, request: Request, *, forget: bool = False) -> int:
        rid = self._request_ids.pop(request, None) if forget else self._request_ids.get(request)
        if rid is None:  # a request seen before we attached: give it a number anyway
            self._last_id += 1
            rid = self._last_id
        return rid

    # -- WebSocket (Playwright gives no close code; the page can report it)

    def on_websocket(self, ws: WebSocket) -> None:
        url = ws.url
        base = {"url": url, **_sid_only(url)}
        guard = self._guard
        self.record("ws.open", base)
        ws.on("framesent", guard("framesent", lambda payload: self._frame(url, "sent", payload)))
        ws.on("framereceived", guard("framereceived", lambda payload: self._frame(url, "received", payload)))
        ws.on("close", guard("wsclose", lambda _ws: self.record("ws.close", base)))
        ws.on("socketerror", guard("socketerror", lambda error: self.record("ws.error", {**base, "error": str(error)})))

    def _frame(self, url: str, direction: str, payload: str | bytes) -> None:
        if isinstance(payload, (bytes, bytearray)):
            text = f"<binary {len(payload)} bytes>"
        else:
            text = payload[:WS_PAYLOAD_LIMIT]
        self.record("ws.frame", {"url": url, "dir": direction, "payload": text})

    # -- page

    def on_console(self, message: ConsoleMessage) -> None:
        location = message.location or {}
        self.record("console", {"level": message.type, "text": message.text, "url": location.get("url", "")})

    def on_page_error(self, error: Any) -> None:
        self.record("page.error", {"message": getattr(error, "message", None) or str(error)})

    def on_report(self, source: Any, kind: Any = None, data: Any = None, *_extra: Any) -> bool:
        """`window.__siolabReport(kind, data)`: the page's own socket events."""
        try:
            if not isinstance(kind, str) or not kind.startswith(REPORT_PREFIXES):
                self.record("console", {"level": "warning", "url": _source_url(source),
                                        "text": f"siolab: ignored page report of kind {kind!r}"})
                return False
            payload = dict(data) if isinstance(data, dict) else ({} if data is None else {"value": data})
            wall = payload.pop("wall", None)
            t = None
            if isinstance(wall, (int, float)) and not isinstance(wall, bool) and math.isfinite(wall):
                t = self.timeline.t_from_wall(float(wall))
            self.record(kind, payload, t=t)
            return True
        except Exception as exc:  # noqa: BLE001 - the page's promise must not reject
            self.driver_error("page report", exc)
            return False

    # -- plumbing

    def record(self, kind: str, data: dict[str, Any], *, t: float | None = None) -> None:
        self.timeline.record("browser", kind, data, t=t)

    def driver_error(self, where: str, exc: BaseException) -> None:
        try:
            self.record("console", {"level": "error", "url": DRIVER_URL,
                                    "text": f"siolab browser driver: {where}: {exc!r}"})
        except Exception:  # noqa: BLE001 - last resort
            log.exception("browser driver: could not record an error in %s", where)

    def _guard(self, where: str, handler: Callable[..., Any]) -> Callable[..., None]:
        def guarded(*args: Any) -> None:
            try:
                handler(*args)
            except Exception as exc:  # noqa: BLE001 - never into Playwright's dispatch
                self.driver_error(f"on {where}", exc)
        return guarded

    async def settle(self, *, timeout_s: float) -> None:
        """Give response bodies still being read a moment before the context goes."""
        if self._body_tasks:
            await asyncio.wait(list(self._body_tasks), timeout=timeout_s)


def _is_page_load(request: Request) -> bool:
    """The main frame's navigation (not an iframe's, not a subresource)."""
    try:
        return request.is_navigation_request() and request.frame.parent_frame is None
    except Exception:  # noqa: BLE001 - a request without a frame (a service worker's) is no page load
        return False


def _is_socketio(parts) -> bool:
    # Engine.IO requests on any path (a client may use another path than /socket.io/).
    return is_engineio_url(parts.geturl())


def _engineio_query(query: str) -> dict[str, str]:
    """`sid`, `transport` and `eio` from an Engine.IO query string (only those present)."""
    params = parse_qs(query)
    found = {}
    for key, name in (("sid", "sid"), ("transport", "transport"), ("EIO", "eio")):
        if params.get(key):
            found[name] = params[key][0]
    return found


def _sid_only(url: str) -> dict[str, str]:
    sid = _engineio_query(urlsplit(url).query).get("sid")
    return {"sid": sid} if sid else {}


def _source_url(source: Any) -> str:
    try:
        return source["frame"].url
    except Exception:  # noqa: BLE001
        return ""


# --------------------------------------------------------------------------- artifacts

def _scrub_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """One HAR entry without cookies, secret headers, query values or signed tokens."""
    return redaction.current().data(entry)


def _scrub_har_file(path: Path) -> None:
    har = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(redaction.current().data(har), ensure_ascii=False), encoding="utf-8")


def _scrub_trace_zip(path: Path) -> None:
    # The trace's JSON-lines members (*.trace actions with their URLs, *.network HAR entries)
    # are redacted event by event; other text members (resources) as text.
    redactor = redaction.current()
    with zipfile.ZipFile(path) as src:
        members = [(info, src.read(info)) for info in src.infolist()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, content in members:
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError:
                dst.writestr(info, content)
                continue
            if info.filename.endswith((".trace", ".network", ".stacks")):
                lines = []
                for line in text.splitlines():
                    try:
                        lines.append(json.dumps(redactor.data(json.loads(line)), ensure_ascii=False))
                    except json.JSONDecodeError:
                        lines.append(redactor.text(line))
                scrubbed = "\n".join(lines) + "\n"
            else:
                scrubbed = redactor.text(text)
            dst.writestr(info, scrubbed.encode("utf-8") if scrubbed != text else content)
    path.write_bytes(out.getvalue())


# --------------------------------------------------------------------------- processes

def _find_browser_pid(marker: str) -> int | None:
    """The browser process: the one whose argv holds our marker (children have --type=)."""
    needle = marker.encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if needle in argv and not any(arg.startswith(b"--type=") for arg in argv):
            return int(entry.name)
    return None


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after "pid (comm) ": state, ppid, pgrp, ... ([] if gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return stat[stat.rfind(")") + 2:].split()  # comm may hold spaces and parentheses


def _parent_pid(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if len(fields) > 1 and fields[0] != "Z" else None


def _live_group_members(pgid: int) -> list[int]:
    """Processes in group `pgid` that are not zombies."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members
