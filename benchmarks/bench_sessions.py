"""Many visitors at once: page-ready time, control round-trip and server memory per session.

    python -m benchmarks.bench_sessions [--sessions 10] [--route /alignment] [--nudges 3]

Serves the dashboard on localhost, opens ``--sessions`` pages of ``--route`` in headless
Chromium at the same time, and measures for each page: the time from the request until its
first figure shows data ("ready"), then the round trip of ``--nudges`` moves of its first
slider (key press until the second figure's data changed). The server's resident memory is
read before the pages open and once they are all ready. Targets: every page ready within 5 s,
median round trip under 0.5 s. Writes benchmarks/results/sessions.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
READY_TARGET_S, ROUND_TRIP_TARGET_S = 5.0, 0.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _serve(port: int, runs: str) -> subprocess.Popen:
    env = {**os.environ, "ORTHOLAB_RUNS": runs, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "widgets.cli", "serve", "--port", str(port), "--no-show"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the dashboard did not start")


def _figure_data(page, nth: int) -> str:
    return page.locator(".js-plotly-plot:visible").nth(nth).evaluate("el => JSON.stringify(el.data)")


def _visit(browser, url: str, nudges: int, out: dict, barrier: threading.Barrier) -> None:
    """One visitor: open the page when all are ready to, time it, then move its first slider."""
    context = browser.new_context()
    page = context.new_page()
    barrier.wait()
    t0 = time.perf_counter()
    page.goto(url)
    first = page.locator(".js-plotly-plot:visible").first  # locators pierce Panel's shadow DOM
    first.wait_for(timeout=600_000)
    page.wait_for_function("el => el.data && el.data.length > 0", arg=first.element_handle(), timeout=600_000)
    out["ready_s"] = time.perf_counter() - t0
    trips = []
    for _ in range(nudges):
        before = _figure_data(page, 1)
        handle = page.locator(".noUi-handle").first
        handle.focus()
        t1 = time.perf_counter()
        handle.press("ArrowLeft")
        plot = page.locator(".js-plotly-plot:visible").nth(1).element_handle()
        page.wait_for_function("([el, b]) => JSON.stringify(el.data) !== b", arg=[plot, before], timeout=600_000)
        trips.append(time.perf_counter() - t1)
    out["round_trips_s"] = trips


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--route", default="/alignment")
    ap.add_argument("--nudges", type=int, default=3)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "sessions.json"))
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    port = _free_port()
    with tempfile.TemporaryDirectory() as runs:
        server = _serve(port, runs)
        try:
            rss_before = _rss_mb(server.pid)
            results = [{} for _ in range(args.sessions)]
            # Every visitor opens its page at the same moment, and stays open until all are measured.
            opened, measured = threading.Barrier(args.sessions), threading.Barrier(args.sessions)

            def visitor(i: int) -> None:
                # Playwright's sync API belongs to one thread: each visitor runs its own browser.
                with sync_playwright() as pw:
                    browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
                    try:
                        _visit(browser, f"http://127.0.0.1:{port}{args.route}", args.nudges, results[i], opened)
                        results[i]["rss_all_ready_mb"] = _rss_mb(server.pid)
                        measured.wait()
                    finally:
                        browser.close()

            threads = [threading.Thread(target=visitor, args=(i,)) for i in range(args.sessions)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            rss_after = max(r.get("rss_all_ready_mb", float("nan")) for r in results)
        finally:
            server.terminate()
            server.wait(timeout=30)
    ready = [r["ready_s"] for r in results]
    trips = [t for r in results for t in r["round_trips_s"]]
    row = {
        "route": args.route, "sessions": args.sessions,
        "ready_s_median": statistics.median(ready), "ready_s_max": max(ready),
        "round_trip_s_median": statistics.median(trips), "round_trip_s_max": max(trips),
        "server_rss_mb_before": rss_before, "server_rss_mb_all_open": rss_after,
        "rss_mb_per_session": (rss_after - rss_before) / args.sessions,
        "ready_target_s": READY_TARGET_S, "round_trip_target_s": ROUND_TRIP_TARGET_S,
        "meets_ready_target": max(ready) <= READY_TARGET_S,
        "meets_round_trip_target": statistics.median(trips) <= ROUND_TRIP_TARGET_S,
    }
    meta = {"machine": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "note": "server and all browsers on one machine; browsers compete with the server for its cores"}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": [row], "ready_s": ready, "round_trips_s": trips},
                                         indent=1))
    print(f"{'route':12s} {'sessions':>8s} {'ready med/max (s)':>18s} {'round trip med/max (s)':>23s} "
          f"{'MB/session':>10s}")
    print(f"{row['route']:12s} {row['sessions']:>8d} {row['ready_s_median']:>8.2f} / {row['ready_s_max']:<7.2f} "
          f"{row['round_trip_s_median']:>11.2f} / {row['round_trip_s_max']:<9.2f} {row['rss_mb_per_session']:>10.1f}")
    print(f"targets: every page ready <= {READY_TARGET_S} s: {'met' if row['meets_ready_target'] else 'NOT met'}; "
          f"median round trip <= {ROUND_TRIP_TARGET_S} s: {'met' if row['meets_round_trip_target'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
