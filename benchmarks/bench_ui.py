"""Every control of every page: how long from input to the page's answer, in headless Chromium.

    python -m benchmarks.bench_ui [--pages householder alignment threephase odis] [--repeats 3]

Serves the dashboard on localhost (default data), opens each page once it has settled, expands
its collapsed cards, and drives every visible control: each slider one keyboard step and back,
each select to its next option and back, each toggle group to another option and back, each
checkbox twice, each number field one up and back, each button once (a job it starts is
stopped again with its own Stop button). For every input it records, in the page's own clock:

* response: the first change anywhere the page shows results (a figure redrawn, a text or a
  table changed), e.g. the new figure or an "updating…" note;
* figure: the first figure redrawn (Plotly's own 'plotly_afterplot' event);
* settled: the last change before the page is quiet for ``--quiet`` seconds.

Prints a table of medians per control and writes benchmarks/results/ui.json. Target: every
control's median response within 200 ms; a control whose work runs in the background answers
with a visible note at once and says so on the control. The browser and the server share this
machine's cores, so the figures are upper bounds for a server on its own machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.bench_sessions import CHROMIUM_ARGS, _free_port, _serve

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 0.2
PAGES = ["householder", "alignment", "threephase", "odis"]

# In the page: a fingerprint of everything that shows results, split into figures and the
# rest, found through every open shadow root (Panel renders each model in one).
_WATCH_JS = r"""
(() => {
  // Events, not polling: a figure reports each (re)draw with 'plotly_afterplot'; a text pane's
  // change is a DOM mutation inside its shadow root. Nothing is serialised while timing.
  const bench = { state: null, seen: new WeakSet() };
  const note = (kind, what) => {
    const s = bench.state;
    if (!s) return;
    const t = performance.now() - s.t0;
    if (s.response === null) { s.response = t; s.what = what; }
    if (kind === 'figure' && s.figure === null) s.figure = t;
    s.last = t;
  };
  const walk = (root, out) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) { out.push(el.shadowRoot); walk(el.shadowRoot, out); }
    }
    return out;
  };
  const attach = () => {
    for (const root of walk(document, [document])) {
      for (const el of root.querySelectorAll('.js-plotly-plot')) {
        if (!bench.seen.has(el) && typeof el.on === 'function') {
          bench.seen.add(el);
          el.on('plotly_afterplot', () => note('figure', 'figure: ' + (((el.layout || {}).title || {}).text || '')));
        }
      }
      for (const el of root.querySelectorAll('.bk-panel-models-markup-HTML, .tabulator-table')) {
        if (!bench.seen.has(el)) {
          bench.seen.add(el);
          // a pane that appears while timing (an alert, a note) is an answer too, seen within a scan
          if (bench.state && el.getBoundingClientRect().height > 0) note('text', 'appeared: ' + el.className);
          const root = el.shadowRoot || el;
          // stylesheet churn (Bokeh re-applies <style>/<link> elements) is not an answer
          const styling = (n) => n && ['STYLE', 'LINK'].includes(n.nodeName);
          const real = (r) => !(styling(r.target) || styling(r.target.parentNode)
            || (r.type === 'childList' && [...r.addedNodes, ...r.removedNodes].every(styling)));
          new MutationObserver((recs) => {
            if (recs.some(real)) {
              note('text', 'text: ' + (root.textContent || '').replace(/:host[^}]*}/g, '').slice(0, 60));
            }
          }).observe(root,
            { subtree: true, childList: true, characterData: true });
        }
      }
    }
  };
  attach();
  setInterval(attach, 50);  // figures and panes that appear later (a few ms a scan)
  bench.start = () => {
    bench.state = { t0: performance.now(), figure: null, response: null, last: null };
    return true;
  };
  bench.read = () => ({ ...bench.state, elapsed: performance.now() - bench.state.t0 });
  bench.stop = () => { bench.state = null; return true; };
  window.__ortholab_bench = bench;
  return true;
})()
"""


class Driver:
    """Drives one page's controls and times each input (see the module doc)."""

    def __init__(self, page, quiet_s: float, timeout_s: float, silent_s: float) -> None:
        self.page, self.quiet_s, self.timeout_s, self.silent_s = page, quiet_s, timeout_s, silent_s

    def settle(self) -> None:
        """Wait until nothing the page shows has changed for ``quiet_s`` (or the timeout)."""
        self.page.evaluate("window.__ortholab_bench.start()")
        self._wait(silent_s=self.quiet_s)

    def _wait(self, silent_s: float | None = None) -> dict:
        silent_s = self.silent_s if silent_s is None else silent_s
        deadline = time.monotonic() + self.timeout_s
        while True:
            time.sleep(0.05)
            s = self.page.evaluate("window.__ortholab_bench.read()")
            elapsed = s["elapsed"]
            # quiet after the last change; with no change yet, wait longer before calling it silent
            done = (elapsed - s["last"] >= self.quiet_s * 1e3 if s["last"] is not None
                    else elapsed >= silent_s * 1e3)
            if done or time.monotonic() > deadline:
                self.page.evaluate("window.__ortholab_bench.stop()")
                return s

    def timed(self, act) -> dict:
        """Start the clock in the page, do ``act()``, wait for quiet; the sample in seconds."""
        self.page.evaluate("window.__ortholab_bench.start()")
        act()
        s = self._wait()
        sec = {k: (s[k] / 1e3 if s[k] is not None else None) for k in ("response", "figure", "last")}
        return {"response_s": sec["response"], "figure_s": sec["figure"], "settled_s": sec["last"],
                "first_change": s.get("what")}


def _controls(page) -> list[dict]:
    """The page's visible controls, each with a kind and a label to find it again."""
    found = []
    groups = page.locator(".bk-input-group")
    for i in range(groups.count()):
        g = groups.nth(i)
        if not g.is_visible():
            continue
        html = g.evaluate("e => e.innerHTML")
        text = g.inner_text().strip()
        if "noUi-target" in html:
            kind, label = "slider", text.split(":")[0].strip()
        elif "<select" in html:
            kind, label = "select", text.splitlines()[0].strip()
        elif "bk-spin-wrapper" in html:
            kind, label = "number", text.splitlines()[0].strip()
        elif 'type="file"' in html:
            kind, label = "file", text.splitlines()[0].strip() if text else "file"
        elif 'type="text"' in html:
            kind, label = "text", text.splitlines()[0].strip() if text else "text"
        else:
            continue
        found.append({"kind": kind, "label": label, "index": i})
    boxes = page.locator("input[type=checkbox]")
    for i in range(boxes.count()):
        box = boxes.nth(i)
        if box.is_visible():
            label = box.evaluate("e => { const r = e.getRootNode(); let t = r.textContent || '';"
                                 " for (const st of r.querySelectorAll('style')) t = t.replace(st.textContent, '');"
                                 " return t.trim(); }") or f"checkbox {i + 1}"
            found.append({"kind": "checkbox", "label": label, "index": i})
    buttons = page.locator("button.bk-btn")
    for i in range(buttons.count()):
        b = buttons.nth(i)
        if not b.is_visible():
            continue
        label = b.inner_text().strip()
        if b.is_disabled():  # e.g. "Back to …" before there is anything to go back from
            found.append({"kind": "button", "label": label, "index": i, "disabled": True})
            continue
        siblings = b.evaluate("e => e.parentElement ? e.parentElement.querySelectorAll('button.bk-btn').length : 1")
        if label == "Stop":
            continue
        found.append({"kind": "toggle" if siblings > 1 else "button", "label": label, "index": i})
    return found


def _group(page, control: dict):
    groups = page.locator(".bk-input-group")
    for i in range(groups.count()):
        g = groups.nth(i)
        if g.is_visible() and g.inner_text().strip().startswith(control["label"]):
            return g
    return groups.nth(control["index"])


def _button(page, label: str):
    return page.locator("button.bk-btn:visible", has_text=label).first


def _samples(page, driver: Driver, control: dict, repeats: int) -> tuple[list[dict], str]:
    """Drive one control; its timed samples and a note on what was done."""
    kind, samples = control["kind"], []
    if control.get("disabled"):
        return [], "disabled on the default page (nothing to do yet)"
    if kind == "slider":
        for _ in range(repeats):
            for key in ("ArrowRight", "ArrowLeft"):
                handle = _group(page, control).locator(".noUi-handle").first
                handle.focus()
                samples.append(driver.timed(lambda h=handle, k=key: h.press(k)))
        return samples, "one keyboard step and back"
    if kind == "select":
        select = _group(page, control).locator("select").first
        options = select.evaluate("e => [...e.options].map(o => o.value)")
        original = select.input_value()
        if len(options) < 2:
            return [], "one option only"
        other = options[(options.index(original) + 1) % len(options)]
        for _ in range(max(1, repeats // 2)):
            for value in (other, original):
                sel = _group(page, control).locator("select").first
                samples.append(driver.timed(lambda s=sel, v=value: s.select_option(v)))
        return samples, f"{original} -> {other} and back"
    if kind == "checkbox":
        for _ in range(max(1, repeats // 2)):
            for _twice in range(2):
                box = page.locator("input[type=checkbox]").nth(control["index"])
                samples.append(driver.timed(lambda b=box: b.click()))
        return samples, "off and on again"
    if kind == "number":
        for _ in range(max(1, repeats // 2)):
            for key in ("ArrowUp", "ArrowDown"):
                field = _group(page, control).locator("input").first
                field.focus()
                samples.append(driver.timed(lambda f=field, k=key: (f.press(k), f.press("Enter"))))
        return samples, "one up and back"
    if kind == "toggle":
        button = page.locator("button.bk-btn").nth(control["index"])
        active = button.evaluate("e => [...e.parentElement.querySelectorAll('button.bk-btn')]"
                                 ".findIndex(b => b.classList.contains('bk-active'))")
        if "bk-active" in (button.get_attribute("class") or ""):
            return [], "already the active option (timed through its siblings)"
        back = button.evaluate(f"e => [...e.parentElement.querySelectorAll('button.bk-btn')][{active}].textContent")
        for _ in range(max(1, repeats // 2)):
            samples.append(driver.timed(lambda b=button: b.click()))
            samples.append(driver.timed(lambda t=back: _button(page, t).click()))
        return samples, f"to {control['label']} and back to {back}"
    if kind == "button":
        samples.append(driver.timed(lambda: _button(page, control["label"]).click()))
        stop = page.locator("button.bk-btn:visible", has_text="Stop")
        if stop.count():
            stop.first.click()
            driver.settle()
            return samples, "pressed once; the job it started was stopped"
        return samples, "pressed once"
    return [], f"{kind} input: not driven (needs a file or typed text)"


def _median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def bench_page(browser, base: str, route: str, repeats: int, quiet_s: float, timeout_s: float,
               silent_s: float) -> list[dict]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{base}/{route}")
    page.locator(".js-plotly-plot").first.wait_for(timeout=int(timeout_s * 1e3))
    page.evaluate(_WATCH_JS)
    driver = Driver(page, quiet_s, timeout_s, silent_s)
    driver.settle()
    # expand every collapsed card (its host is only as tall as its header) so its controls are driven too
    for header in page.locator("button.card-header:visible").all():
        if header.evaluate("e => (e.getRootNode().host || e).getBoundingClientRect().height < 80"):
            header.click()
    driver.settle()
    rows = []
    for control in _controls(page):
        try:
            samples, note = _samples(page, driver, control, repeats)
        except Exception as exc:  # noqa: BLE001 - one control that cannot be driven is a row, not the end
            samples, note = [], f"not driven: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            driver.settle()
        row = {"page": route, "kind": control["kind"], "control": control["label"], "note": note, "n": len(samples),
               "samples": samples, **{f"median_{k}": _median([s[k] for s in samples])
                                      for k in ("response_s", "figure_s", "settled_s")}}
        if samples and all(s["response_s"] is None for s in samples):
            row["note"] += f"; nothing the page shows changed within {silent_s:g} s"
        rows.append(row)
        print(_format(row), flush=True)
    context.close()
    return rows


def _format(row: dict) -> str:
    def f(v):
        return "      -" if v is None else f"{v:7.3f}"

    return (f"{row['page']:12s} {row['kind']:8s} {row['control'][:34]:34s} {row['n']:3d} "
            f"{f(row['median_response_s'])} {f(row['median_figure_s'])} {f(row['median_settled_s'])}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", nargs="+", choices=PAGES, default=PAGES)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quiet", type=float, default=1.5, help="seconds without a change that count as settled")
    ap.add_argument("--silent", type=float, default=5.0,
                    help="seconds without any change after which an input counts as answered by nothing")
    ap.add_argument("--timeout", type=float, default=120.0, help="longest wait for one input to settle (s)")
    ap.add_argument("--settle", type=float, default=15.0, help="seconds for the server's warm-up before the pages")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "ui.json"))
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    port = _free_port()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as runs:
        server = _serve(port, runs)
        try:
            time.sleep(args.settle)
            print(f"{'page':12s} {'kind':8s} {'control':34s} {'n':>3s} {'resp s':>7s} {'fig s':>7s} {'settled':>7s}")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
                for route in args.pages:
                    rows += bench_page(browser, f"http://127.0.0.1:{port}", route, args.repeats, args.quiet,
                                       args.timeout, args.silent)
                browser.close()
        finally:
            server.terminate()
            server.wait(30)
    slow = [r for r in rows if r["median_response_s"] is not None and r["median_response_s"] > TARGET_S]
    out = {"machine": {"platform": platform.platform(), "note": "server and Chromium share this machine's cores"},
           "target_response_s": TARGET_S, "args": vars(args), "rows": rows,
           "over_target": [f"{r['page']}: {r['control']}" for r in slow],
           "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"{len(rows)} controls; median response over {TARGET_S * 1e3:.0f} ms: {len(slow)}"
          + "".join(f"\n  {s}" for s in out["over_target"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
