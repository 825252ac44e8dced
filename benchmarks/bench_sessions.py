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
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
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


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def _figure_data(page, nth: int) -> str:
    return await page.locator(".js-plotly-plot:visible").nth(nth).evaluate("el => JSON.stringify(el.data)")


async def _visit(browser, url: str, nudges: int, out: dict, start: asyncio.Event, server_pid: int) -> None:
    """One visitor (its own browser context: cookies, cache, session): open the page, time it, move a slider."""
    context = await browser.new_context()
    page = await context.new_page()
    first_byte = []
    page.on("response", lambda r: first_byte.append(time.perf_counter()) if r.url == url else None)
    await start.wait()
    t0 = time.perf_counter()
    await page.goto(url)
    first = page.locator(".js-plotly-plot:visible").first  # locators pierce Panel's shadow DOM
    await first.wait_for(timeout=600_000)
    await page.wait_for_function("el => el.data && el.data.length > 0", arg=await first.element_handle(),
                                 timeout=600_000)
    out["ready_s"] = time.perf_counter() - t0
    out["server_cpu_at_ready_s"] = _cpu_s(server_pid)
    out["first_byte_s"] = first_byte[0] - t0 if first_byte else float("nan")
    trips = []
    for _ in range(nudges):
        before = await _figure_data(page, 1)
        handle = page.locator(".noUi-handle").first
        await handle.focus()
        t1 = time.perf_counter()
        await handle.press("ArrowLeft")
        plot = await page.locator(".js-plotly-plot:visible").nth(1).element_handle()
        await page.wait_for_function("([el, b]) => JSON.stringify(el.data) !== b", arg=[plot, before],
                                     timeout=600_000)
        trips.append(time.perf_counter() - t1)
    out["round_trips_s"] = trips


async def _visitors(chromium: str, url: str, sessions: int, nudges: int, server_pid: int) -> list[dict]:
    """Every visitor opens its page at the same moment; all stay open until all are measured."""
    from playwright.async_api import async_playwright

    results: list[dict] = [{} for _ in range(sessions)]
    async with async_playwright() as pw:
        # One browser process with a context per visitor: ten browser processes on the server's
        # own cores would measure the browsers' start-up more than the server.
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            start = asyncio.Event()
            tasks = [asyncio.create_task(_visit(browser, url, nudges, results[i], start, server_pid))
                     for i in range(sessions)]
            await asyncio.sleep(1.0)  # every context and page exists before the clock starts
            start.set()
            await asyncio.gather(*tasks)
            for r in results:
                r["rss_all_ready_mb"] = _rss_mb(server_pid)
        finally:
            await browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--route", default="/alignment")
    ap.add_argument("--nudges", type=int, default=3)
    ap.add_argument("--settle", type=float, default=15.0,
                    help="seconds between the server answering and the visitors arriving (its warm-up runs then)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "sessions.json"))
    args = ap.parse_args(argv)
    port = _free_port()
    with tempfile.TemporaryDirectory() as runs:
        server = _serve(port, runs)
        try:
            time.sleep(args.settle)  # the server's warm-up computes the shared results first
            rss_before, cpu_before = _rss_mb(server.pid), _cpu_s(server.pid)
            results = asyncio.run(_visitors(args.chromium, f"http://127.0.0.1:{port}{args.route}", args.sessions,
                                            args.nudges, server.pid))
            rss_after = max(r.get("rss_all_ready_mb", float("nan")) for r in results)
        finally:
            server.terminate()
            server.wait(timeout=30)
    ready = [r["ready_s"] for r in results]
    trips = [t for r in results for t in r["round_trips_s"]]
    row = {
        "route": args.route, "sessions": args.sessions,
        "ready_s_median": statistics.median(ready), "ready_s_max": max(ready),
        "first_byte_s_median": statistics.median(r["first_byte_s"] for r in results),
        "round_trip_s_median": statistics.median(trips), "round_trip_s_max": max(trips),
        "server_rss_mb_before": rss_before, "server_rss_mb_all_open": rss_after,
        "rss_mb_per_session": (rss_after - rss_before) / args.sessions,
        # The server's own CPU until the last page was ready, per visitor: the rest of the
        # machine's two cores over that time went to the browser's rendering.
        "server_cpu_s_per_session_to_ready": (max(r["server_cpu_at_ready_s"] for r in results) - cpu_before)
        / args.sessions,
        "ready_target_s": READY_TARGET_S, "round_trip_target_s": ROUND_TRIP_TARGET_S,
        "meets_ready_target": max(ready) <= READY_TARGET_S,
        "meets_round_trip_target": statistics.median(trips) <= ROUND_TRIP_TARGET_S,
    }
    meta = {"machine": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "note": "server and one headless Chromium (a context per visitor) on one machine; the browser's "
                    "rendering competes with the server for its cores"}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": [row], "ready_s": ready, "round_trips_s": trips},
                                         indent=1))
    print(f"{'route':12s} {'sessions':>8s} {'first byte med (s)':>18s} {'ready med/max (s)':>18s} "
          f"{'round trip med/max (s)':>23s} {'MB/session':>10s} {'server CPU s/session':>20s}")
    print(f"{row['route']:12s} {row['sessions']:>8d} {row['first_byte_s_median']:>18.2f} "
          f"{row['ready_s_median']:>8.2f} / {row['ready_s_max']:<7.2f} "
          f"{row['round_trip_s_median']:>11.2f} / {row['round_trip_s_max']:<9.2f} {row['rss_mb_per_session']:>10.1f} "
          f"{row['server_cpu_s_per_session_to_ready']:>20.2f}")
    print(f"targets: every page ready <= {READY_TARGET_S} s: {'met' if row['meets_ready_target'] else 'NOT met'}; "
          f"median round trip <= {ROUND_TRIP_TARGET_S} s: {'met' if row['meets_round_trip_target'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
