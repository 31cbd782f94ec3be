"""A browser-less Streamlit session: one websocket to a served app, speaking the protocol its web page speaks.

The page's frontend and the server exchange protobufs over ws://host/_stcore/stream: the page sends BackMsgs (a
`rerun_script` carrying the page, its query string and the widget states of an interaction; a file-URL request
before an upload) and receives ForwardMsgs (`new_session` when a script run starts, `delta`s that draw elements,
`auto_rerun` timers of fragments, `script_finished`). This client does the same from Python, with the message types
of the installed Streamlit (streamlit.proto), so that many sessions cost the server what many browsers would while
costing the client machine almost nothing (no rendering, no JavaScript). As a browser does, it gets the XSRF cookie
from the server first, loads the page's HTML, scripts and styles once, fetches the images a page shows
(/media/...), answers fragments' auto-reruns on their timers and reconnects to the same session when the socket
drops. It does not lay anything out: what it knows of a page is the elements the server sent (by delta path).

Used by bench/bench_class.py (a class of students on one server) and tests/test_class.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookies
import re
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlparse

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

XSRF_COOKIE = "_streamlit_xsrf"
RUN_TIMEOUT_S = 180.0  # an interaction that has not finished by then counts as an error
CONNECT_TIMEOUT_S = 30.0
FINAL = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}
ASSET = re.compile(r'(?:src|href)="(\./static/[^"]+\.(?:js|css))"')


@dataclass(frozen=True)
class Interaction:
    """What one user action cost: seconds until the page was idle (its last script run finished), the script runs
    it took (a callback's or st.rerun's extra run counts), and the errors the page showed after it."""

    action: str
    seconds: float
    runs: int
    errors: tuple[str, ...] = ()
    reconnects: int = 0


@dataclass
class Page:
    """The elements the server drew in this session, by delta path, and which run drew each last."""

    elements: dict[tuple[int, ...], object] = field(default_factory=dict)
    drawn_in: dict[tuple[int, ...], str] = field(default_factory=dict)

    def draw(self, path: tuple[int, ...], element, run_id: str) -> None:
        self.elements[path] = element
        self.drawn_in[path] = run_id

    def drop_stale(self, run_id: str) -> None:
        """After a full run: what it did not draw is gone (the frontend clears stale elements the same way)."""
        for path in [p for p, r in self.drawn_in.items() if r != run_id]:
            del self.elements[path], self.drawn_in[path]

    def of_type(self, kind: str) -> list:
        return [getattr(e, kind) for e in self.elements.values() if e.WhichOneof("type") == kind]

    def widget(self, kind: str, key: str):
        """The widget of this kind whose user key is `key` (Streamlit ids end with '-<key>'), or None."""
        return next((w for w in self.of_type(kind) if w.id.endswith(f"-{key}")), None)

    def errors(self) -> list[str]:
        """Exception boxes and st.error alerts on the page, as a user reads them."""
        shown = [f"{x.type}: {x.message}" for x in self.of_type("exception")]
        shown += [a.body for a in self.of_type("alert") if a.format == Alert.ERROR]
        return shown

    def text(self) -> str:
        """Headings, markdown, alerts and captions, one per line (what a test can search)."""
        parts = []
        for element in self.elements.values():
            kind = element.WhichOneof("type")
            if kind in ("markdown", "heading"):
                parts.append(getattr(element, kind).body)
            elif kind == "alert":
                parts.append(element.alert.body)
            elif kind == "progress":
                parts.append(element.progress.text)
        return "\n".join(parts)


class StreamlitClient:
    """One user's session with a served app (ws://host/_stcore/stream), driven from asyncio.

    Each action (open, follow, click, upload) sends what the page would send and waits until the runs it causes
    have finished; it returns an Interaction. Fragments' auto-reruns are answered in the background, as the
    page's timers would, and counted in `auto_runs`.
    """

    def __init__(self, base_url: str, *, fetch_static: bool = True, fetch_media: bool = True):
        self.base_url = base_url.rstrip("/")
        self.fetch_static, self.fetch_media = fetch_static, fetch_media
        self.page = Page()
        self.session_id = ""
        self.page_script_hash = ""
        self.query_string = ""
        self.app_pages: dict[str, str] = {}  # url path ("" for Home) -> page_script_hash
        self.auto_runs = 0
        self.reconnects = 0
        self._token = ""
        self._socket = None
        self._reader: asyncio.Task | None = None
        self._timers: dict[str, asyncio.Task] = {}
        self._started_runs: set[str] = set()  # full runs started since the current action was sent
        self._done: asyncio.Event = asyncio.Event()
        self._run_count = 0
        self._current_run = ""  # the run whose deltas arrive now (lifecycle messages name it, deltas do not)
        self._file_urls: dict[str, asyncio.Future] = {}
        self._media_seen: set[str] = set()
        self._static_loaded = False

    # ---------------------------------------------------------------- connection

    async def connect(self) -> None:
        """Get the XSRF cookie (as the page's first request does) and open the websocket."""
        if not self._token:
            self._token = await asyncio.to_thread(self._xsrf_token)
        if self.fetch_static and not self._static_loaded:
            await asyncio.to_thread(self._load_static)
            self._static_loaded = True
        protocols = ["streamlit", self._token] + ([self.session_id] if self.session_id else [])
        ws_url = "ws" + self.base_url.removeprefix("http") + "/_stcore/stream"
        self._socket = await asyncio.wait_for(
            connect(
                ws_url,
                subprotocols=protocols,
                origin=self.base_url,
                additional_headers={"Cookie": f"{XSRF_COOKIE}={self._token}"},
                max_size=None,
                ping_interval=None,
            ),
            CONNECT_TIMEOUT_S,
        )
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await self._reader

    def _xsrf_token(self) -> str:
        with urllib.request.urlopen(f"{self.base_url}/_stcore/health", timeout=CONNECT_TIMEOUT_S) as response:
            cookies = http.cookies.SimpleCookie()
            for header in response.headers.get_all("Set-Cookie") or []:
                cookies.load(header)
        return cookies[XSRF_COOKIE].value if XSRF_COOKIE in cookies else ""

    def _load_static(self) -> None:
        """index.html and the scripts and styles it names, once per session (a browser's first visit)."""
        html = _get(f"{self.base_url}/")
        for asset in sorted(set(ASSET.findall(html.decode("utf-8", "replace")))):
            _get(urljoin(f"{self.base_url}/", asset))

    # ---------------------------------------------------------------- actions

    async def open(self, page: str = "", query: str = "") -> Interaction:
        """Open the app's address for `page` (its URL path, "" for Home) with a query string: a link or a reload."""
        self.page_script_hash = self.app_pages.get(page, "")
        return await self._act(f"open {page or 'Home'}", query, page_name=page)

    async def follow(self, link) -> Interaction:
        """Click an st.page_link (a PageLink proto from `page`): the app switches page inside the session."""
        self.page_script_hash = link.page_script_hash
        return await self._act(f"follow {link.page}", link.query_string)

    async def navigate(self, page: str) -> Interaction:
        """Click a page in the sidebar's navigation (its URL path, "" for Home): the page opens without parameters."""
        self.page_script_hash = self.app_pages[page]
        return await self._act(f"navigate {page or 'Home'}", "")

    async def click(self, key: str) -> Interaction:
        """Click the button with this key."""
        button = self.page.widget("button", key)
        if button is None:
            raise LookupError(f"no button with key {key!r} on the page")
        state = BackMsg().rerun_script.widget_states.widgets.add()
        state.id, state.trigger_value = button.id, True
        return await self._act(f"click {key}", self.query_string, widgets=[state])

    async def upload(self, key: str, name: str, data: bytes, mime: str) -> Interaction:
        """Put a file into the st.file_uploader with this key (the page's two steps: PUT the file, then rerun)."""
        uploader = self.page.widget("file_uploader", key)
        if uploader is None:
            raise LookupError(f"no file uploader with key {key!r} on the page")
        t0 = time.perf_counter()
        request = BackMsg()
        request.file_urls_request.request_id = uuid.uuid4().hex
        request.file_urls_request.file_names.append(name)
        request.file_urls_request.session_id = self.session_id
        answer = asyncio.get_running_loop().create_future()
        self._file_urls[request.file_urls_request.request_id] = answer
        await self._socket.send(request.SerializeToString())
        urls = (await asyncio.wait_for(answer, RUN_TIMEOUT_S)).file_urls[0]
        await asyncio.to_thread(self._put_file, urls.upload_url, name, data, mime)
        state = BackMsg().rerun_script.widget_states.widgets.add()
        state.id = uploader.id
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), urls.file_id
        info.file_urls.CopyFrom(urls)
        run = await self._act(f"upload {key}", self.query_string, widgets=[state])
        return Interaction(run.action, time.perf_counter() - t0, run.runs, run.errors, run.reconnects)

    def _put_file(self, upload_url: str, name: str, data: bytes, mime: str) -> None:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                f"Content-Type: {mime}\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            urljoin(f"{self.base_url}/", upload_url.lstrip("/")),
            data=body,
            method="PUT",
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "X-Xsrftoken": self._token,
                "Cookie": f"{XSRF_COOKIE}={self._token}",
                "Origin": self.base_url,
            },
        )
        with urllib.request.urlopen(request, timeout=RUN_TIMEOUT_S) as response:
            response.read()

    async def _act(self, action: str, query: str, page_name: str = "", widgets=()) -> Interaction:
        """Send one rerun and wait until a full run started after it has finished."""
        message = BackMsg()
        rerun = message.rerun_script
        rerun.query_string = query
        rerun.page_script_hash = self.page_script_hash
        rerun.page_name = page_name
        rerun.widget_states.widgets.extend(widgets)
        path = next((p for p, h in self.app_pages.items() if h == self.page_script_hash and p), page_name)
        rerun.context_info.url = f"{self.base_url}/{'' if path == 'Home' else path}"
        reconnects = 0
        t0 = time.perf_counter()
        self._started_runs.clear()
        self._done.clear()
        runs_before = self._run_count
        if self._socket is None:
            await self.connect()
        while True:
            try:
                await self._socket.send(message.SerializeToString())
                await asyncio.wait_for(self._wait_done(), RUN_TIMEOUT_S)
                break
            except ConnectionClosed:
                if reconnects:
                    raise
                reconnects += 1  # as the page does: reconnect to the same session and send the rerun again
                self.reconnects += 1
                await self.connect()
        seconds = time.perf_counter() - t0
        if self.fetch_media:
            await self._fetch_new_media()
        return Interaction(action, seconds, self._run_count - runs_before, tuple(self.page.errors()), reconnects)

    async def _wait_done(self) -> None:
        while not self._done.is_set():
            reader = self._reader
            done_wait = asyncio.create_task(self._done.wait())
            finished, _ = await asyncio.wait({done_wait, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in finished and not self._done.is_set():
                done_wait.cancel()
                reader.result()  # raises the socket's ConnectionClosed
                raise ConnectionClosed(None, None)

    async def _fetch_new_media(self) -> None:
        """Images on the page this session has not loaded yet (the browser's cache keeps the others)."""
        urls = [img.url for images in self.page.of_type("imgs") for img in images.imgs]
        new = [u for u in urls if u.startswith("/media/") and u not in self._media_seen]
        self._media_seen.update(new)
        for url in new:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(_get, f"{self.base_url}{url}")

    # ---------------------------------------------------------------- messages from the server

    async def _read(self) -> None:
        async for raw in self._socket:
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            self._handle(msg)

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        run = msg.metadata.run
        if kind == "new_session":
            self._run_count += 1
            session = msg.new_session
            self.session_id = session.initialize.session_id or self.session_id
            self._current_run = run.script_run_id
            if run.fragment_ids:
                self.auto_runs += 1
            else:
                self._started_runs.add(run.script_run_id)
                self._stop_timers()  # a full run registers its fragments' timers again
        elif kind == "delta":
            if msg.delta.WhichOneof("type") == "new_element":
                self.page.draw(tuple(msg.metadata.delta_path), msg.delta.new_element, self._current_run)
        elif kind == "navigation":  # the page that runs, by the hash the app's page links use
            self.page_script_hash = msg.navigation.page_script_hash
            self.app_pages = {(p.url_pathname or p.page_name): p.page_script_hash for p in msg.navigation.app_pages}
            if msg.navigation.app_pages and msg.navigation.app_pages[0].is_default:
                self.app_pages[""] = msg.navigation.app_pages[0].page_script_hash
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            self._start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids:
                self._stop_timers(fragment_id)
        elif kind == "file_urls_response":
            answer = self._file_urls.pop(msg.file_urls_response.response_id, None)
            if answer is not None and not answer.done():
                answer.set_result(msg.file_urls_response)
        elif kind == "script_finished" and not run.fragment_ids and msg.script_finished in FINAL:
            self.page.drop_stale(run.script_run_id)
            if run.script_run_id in self._started_runs:
                self._done.set()

    def _start_timer(self, fragment_id: str, interval: float) -> None:
        if fragment_id in self._timers:
            return

        async def tick() -> None:
            while True:
                await asyncio.sleep(interval)
                message = BackMsg()
                message.rerun_script.query_string = self.query_string
                message.rerun_script.page_script_hash = self.page_script_hash
                message.rerun_script.fragment_id = fragment_id
                message.rerun_script.is_auto_rerun = True
                with contextlib.suppress(ConnectionClosed):
                    await self._socket.send(message.SerializeToString())

        self._timers[fragment_id] = asyncio.create_task(tick())

    def _stop_timers(self, *fragment_ids: str) -> None:
        for fragment_id in fragment_ids or list(self._timers):
            timer = self._timers.pop(fragment_id, None)
            if timer is not None:
                timer.cancel()

    # ---------------------------------------------------------------- what the page shows

    def page_links(self) -> list:
        """The st.page_link elements on the page (PageLink protos: page, page_script_hash, query_string, label)."""
        return self.page.of_type("page_link")

    def has_widget(self, kind: str, key: str) -> bool:
        return self.page.widget(kind, key) is not None


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=RUN_TIMEOUT_S) as response:
        return response.read()


def path_of(url: str) -> str:
    """The URL path of a page's address without its leading slash ('Lessons'), '' for Home."""
    return urlparse(url).path.strip("/")
