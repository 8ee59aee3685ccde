"""The original README's JavaScript client in a real headless Chromium: a page using
`new EventSource(...)` with `onmessage` receives every progress event of a run, then its
`close` listener fires. The page is served at the API's own address (as the original
frontend was), so the EventSource is same-origin.
Needs Debian's Chromium at /usr/bin/chromium (see tests/ui/test_browser.py).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.data import simulate_lca
from tests.support.runs import read_events, submit_lca, upload
from tests.ui.test_browser import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = pytest.mark.browser

# The README's client, as written, plus a record of what it received for the test to read.
PAGE = """<!doctype html>
<html><body>
<div id="bar" style="width: 0%; height: 8px; background: teal"></div>
<p id="status"></p><p id="eta"></p>
<script>
const runId = new URLSearchParams(location.search).get("run");
const progressBar = document.getElementById("bar");
const statusText = document.getElementById("status");
const etaText = document.getElementById("eta");
window.received = [];
window.streamClosed = false;  // not window.closed: that one is the browser's own

const eventSource = new EventSource(`/api/v1/progress/${runId}/stream`);

eventSource.onmessage = (event) => {
    const progress = JSON.parse(event.data);
    window.received.push({id: event.lastEventId, phase: progress.phase,
                          progress: progress.progress});

    // Update progress bar
    progressBar.style.width = `${progress.progress * 100}%`;
    statusText.textContent = progress.message;

    // Show ETA
    if (progress.eta_seconds) {
        etaText.textContent = `ETA: ${Math.round(progress.eta_seconds)}s`;
    }
};

eventSource.addEventListener('close', () => {
    window.streamClosed = true;
    eventSource.close();
});

eventSource.onerror = (error) => {
    console.error('SSE error:', error);
    eventSource.close();
};
</script>
</body></html>
"""


def test_eventsource_onmessage_receives_every_progress_event(
    client: httpx.Client, live_stack: str
) -> None:
    require_chromium()
    from playwright.sync_api import Route, sync_playwright

    # Given a run with a few seconds of progress
    dataset = upload(client, simulate_lca(n=3000, seed=31).csv()).json()
    run = submit_lca(client, dataset["id"], n_init=10)
    page_url = f"{live_stack}/original-client.html?run={run['id']}"

    def serve(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=PAGE)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route(f"{live_stack}/original-client.html*", serve)
            # When the README's JavaScript client follows it
            page.goto(page_url)
            page.wait_for_function("window.streamClosed === true", timeout=300_000)
            received: list[dict[str, Any]] = page.evaluate("window.received")
            width = page.evaluate("document.getElementById('bar').style.width")
            status = page.text_content("#status")
        finally:
            browser.close()
    # Then onmessage got every progress event the run published, in order, with its id
    everything = [e for e in read_events(live_stack, run["id"]) if e.event == "message"]
    assert [r["id"] for r in received] == [e.id for e in everything]
    assert len(received) >= 3 and received[-1]["phase"] == "completed"
    # And the page shows the run's end, as the README's client draws it
    assert width == "100%" and status
