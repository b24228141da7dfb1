"""The browser benchmark's bookkeeping, without a browser: script runs read from websocket
frames, and the medians and floors of the Outcomes timings. No timing is asserted."""

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench import browser


class _Socket:
    def __init__(self):
        self.handlers = {}

    def on(self, event, handler):
        self.handlers[event] = handler


class _Page:
    """Hands the benchmark a websocket and plays ``script`` (frames) when it waits."""

    def __init__(self, script):
        self.script = list(script)
        self.socket = _Socket()

    def on(self, event, handler):
        assert event == "websocket"
        handler(self.socket)

    def wait_for_timeout(self, ms):
        if self.script:
            event, payload = self.script.pop(0)
            self.socket.handlers[event](payload)


def _rerun() -> tuple[str, bytes]:
    msg = BackMsg()
    msg.rerun_script.page_name = "outcomes"
    return "framesent", msg.SerializeToString()


def _finished(status) -> tuple[str, bytes]:
    msg = ForwardMsg()
    msg.script_finished = status
    return "framereceived", msg.SerializeToString()


def _other() -> tuple[str, bytes]:
    msg = ForwardMsg()
    msg.new_session.page_script_hash = "x"
    return "framereceived", msg.SerializeToString()


@pytest.mark.parametrize(
    "script",
    [
        # a plain run: the request, other frames, the end
        [_rerun(), _other(), _finished(ForwardMsg.FINISHED_SUCCESSFULLY)],
        # a run cut short by a newer request is not the end of what the user asked for
        [
            _rerun(),
            _finished(ForwardMsg.FINISHED_EARLY_FOR_RERUN),
            _rerun(),
            _finished(ForwardMsg.FINISHED_SUCCESSFULLY),
        ],
        # text frames (none in Streamlit's protocol today) are left alone
        [("framereceived", "text"), _rerun(), _finished(ForwardMsg.FINISHED_SUCCESSFULLY)],
    ],
)
def test_a_script_run_ends_at_the_first_successful_finish_after_the_request(script):
    page = _Page(script)
    runs = browser.ScriptRuns(page)
    timed = runs.wait(lambda: None, timeout_s=5)
    assert page.script == [] and len(runs.finished) == 1
    assert 0 <= timed["server"] <= timed["browser"]
    assert timed["server_cpu"] is None  # no server process given


def test_no_finish_within_the_timeout_raises():
    runs = browser.ScriptRuns(_Page([_rerun()]))
    with pytest.raises(TimeoutError, match="no script run finished within 0.05 s"):
        runs.wait(lambda: None, timeout_s=0.05)


def _times(switch, filters, first=0.5):
    rows = [{"server": first, "browser": first, "server_cpu": 0.1, "first": True}]
    rows += [{"server": s, "browser": s, "server_cpu": 0.1, "first": False} for s in switch]
    return {
        "switch": rows,
        "filter": [{"server": f, "browser": f, "server_cpu": 0.1, "new": True} for f in filters],
        "filter_clear": [],
        "sign_in_form": [{"new_browser": 2.0, "new_tab": 1.0}],
    }


@pytest.mark.parametrize(
    ("times", "switch_met", "filter_met"),
    [
        (_times([0.4, 0.6, 0.5], [0.2, 0.3, 0.4]), True, True),
        # the first switch (the page's numbers computed) counts against the floor too
        (_times([0.4, 0.6, 0.5], [0.2], first=1.2), False, True),
        (_times([0.4], [0.45, 0.55, 0.6]), True, False),
    ],
)
def test_the_floors_are_judged_on_the_medians(times, switch_met, filter_met):
    summary = browser.summarise_outcomes_times(times)
    assert (summary["switch_met"], summary["filter_met"]) == (switch_met, filter_met)
    assert summary["sign_in_form_new_tab"] == 1.0


def test_cpu_seconds_of_this_process_are_read():
    import os

    seconds = browser.cpu_seconds(os.getpid())
    assert seconds is None or seconds >= 0
