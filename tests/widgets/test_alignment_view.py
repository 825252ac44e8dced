"""The alignment page's logic without a browser: set parameters, read the figures it produced."""

import io
import json
import threading

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from widgets import alignment as page


def _write_artifacts(root, seed=0):
    """Small stand-ins for the shipped artifacts: a planted orthogonal relation plus noise."""
    rng = np.random.default_rng(seed)
    d, n, n_classes, m = 16, 400, 12, 60
    centres = rng.standard_normal((n_classes, d)) * 2
    labels = rng.integers(0, n_classes, n)
    x = centres[labels] + rng.standard_normal((n, d))
    labels2 = np.arange(m) % n_classes
    x2 = centres[labels2] + 0.5 * rng.standard_normal((m, d)) + 2.0
    Q = ortho_group.rvs(d, random_state=rng)
    y, y2 = x @ Q + 0.3 * rng.standard_normal((n, d)), x2 @ Q + 0.3 * rng.standard_normal((m, d))
    mask = np.zeros(n, dtype=bool)
    mask[::2] = True
    out = root / "alignment"
    out.mkdir(parents=True)
    np.savez(out / "toyclip_embeddings.npz", x=x, y=y, x2=x2, y2=y2, labels=labels, labels2=labels2, train_mask=mask)
    (out / "toyclip_embeddings.json").write_text(json.dumps({"label_names": [f"class {i}" for i in range(n_classes)],
                                                             "spaces": ["planted A", "planted B"]}))
    # no minilm_layers.npz on purpose: that source must fail politely


@pytest.fixture
def view(tmp_path, monkeypatch):
    monkeypatch.setenv("ORTHOLAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ORTHOLAB_RUNS", str(tmp_path / "runs"))
    _write_artifacts(tmp_path / "data")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    v = page.create_view()
    yield v
    v.close()
    assert not any(j._thread is not None and j._thread.is_alive() for j in (v.curve_job, v.umap_job, v.train_job))
    torch.set_num_threads(before)


def _bars(v):
    fig = v.metrics_figure()
    return {t["name"]: dict(zip(t["y"], t["x"])) for t in fig["data"]}


def test_page_builds_with_figures_and_no_error(view):
    assert view.errors.message == ""
    bars = _bars(view)
    image = "image: retrieval top-1 (instance)"
    assert bars["after"][image] > 0.9 > bars["before"][image]
    assert bars["after"]["text: retrieval top-1 (instance)"] > 0.9  # the image-fitted map aligns text
    scatter = view.scatter_figure()
    assert len(scatter["data"]) == 6 and len(scatter["data"][1]["x"]) == view.n_points
    assert len(view.spectrum_figure()["data"][0]["y"]) == 16
    assert "→" in view.headline() and "planted A" in view.data_info()
    assert view.orthogonality() < 1e-6
    assert view.__panel__() is view.__panel__()  # the layout is built once


def test_controls_are_generated_from_bounded_parameters(view):
    slider = view.controls._widgets["n_anchor_classes"]
    assert (slider.start, slider.end) == (1, 12) and slider.value == view.n_anchor_classes
    assert view.param.n_anchor_classes.doc and view.param.map_type.doc


def test_anchor_slider_and_map_type_recompute_the_figures(view):
    first = view.metrics_figure()
    view.n_anchor_classes = 1
    assert json.dumps(view.metrics_figure()) != json.dumps(first) and view.errors.message == ""
    assert "With **" in view.headline()
    view.map_type = "linear"
    assert view.orthogonality() > 1e-3  # an unconstrained map is not orthogonal
    view.map_type = "orthogonal"
    view.group = "SO(d) rotations"
    assert view.orthogonality() < 1e-6 and view.errors.message == ""
    view.center = False
    assert view.errors.message == ""


def test_sweep_fills_the_anchor_curve_and_the_map_comparison(view):
    view.curve_job.wait()
    curve = view.curve_figure()
    names = {t["name"] for t in curve["data"]}
    assert {"orthogonal map, image", "linear map, image", "orthogonal map, text"} <= names
    marker = curve["layout"]["shapes"][0]
    assert marker["x0"] == view.n_anchor_classes
    cmp = view.compare_figure()
    assert list(cmp["data"][0]["x"]) == ["linear", "mlp", "orthogonal"]
    view.n_anchor_classes = 3
    assert view.curve_figure()["layout"]["shapes"][0]["x0"] == 3


def _npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_upload_of_good_files_adds_a_source(view):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((60, 5))
    view.file_a.filename, view.file_a.value = "pair.npz", _npz(x=x, y=x[:, ::-1])
    data = view.load_files()
    assert data is not None and view.errors.message == ""
    assert view.source.startswith("Your files") and view.source in view.param.source.objects
    slider = view.controls._widgets["n_anchor_classes"]
    assert slider.end == 30  # no labels: anchors count rows (30 of the 60 may be anchors)
    assert _bars(view)["after"]["image: retrieval top-1 (instance)"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "filename, payload, match",
    [
        ("bad.npz", _npz(x=np.full((50, 4), np.nan), y=np.ones((50, 4))), "NaN"),
        ("bad.npz", _npz(x=np.ones((50, 4)), y=np.ones((40, 4))), "paired rows"),
        ("bad.npz", _npz(x=np.ones((50, 4)), y=np.ones((50, 3))), "same width"),
        ("bad.npz", b"not a zip file at all", "'bad.npz'"),
        ("bad.pkl", b"\x80\x04K\x01.", "filename"),
    ],
    ids=["nan", "mismatched-rows", "mismatched-width", "corrupt", "pickle-suffix"],
)
def test_bad_uploads_show_a_message_and_keep_the_page(view, filename, payload, match):
    shown, source, sources = view.metrics_figure(), view.source, list(view.param.source.objects)
    view.file_a.filename, view.file_a.value = filename, payload
    assert view.load_files() is None
    assert match in view.errors.message and "Traceback" not in view.errors.message
    assert json.dumps(view.metrics_figure()) == json.dumps(shown) and view.source == source
    assert list(view.param.source.objects) == sources


def test_pickled_and_oversized_uploads_are_refused(view, monkeypatch):
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    view.file_a.filename, view.file_a.value = "evil.npy", buf.getvalue()
    view.file_b.filename, view.file_b.value = "b.npy", buf.getvalue()
    assert view.load_files() is None and "pickle" in view.errors.message
    monkeypatch.setattr(page, "MAX_UPLOAD_BYTES", 50)
    view.file_b.value = b""
    view.file_a.filename, view.file_a.value = "big.npz", _npz(x=np.ones((50, 4)), y=np.ones((50, 4)))
    assert view.load_files() is None and "over the limit" in view.errors.message


def test_missing_artifact_shows_a_message_and_reverts_the_source(view):
    shown = view.metrics_figure()
    view.source = "MiniLM: sentence embedding vs layer 3"
    assert "make_alignment_data.py" in view.errors.message
    assert view.source == "Toy CLIPs on drawn shapes" and json.dumps(view.metrics_figure()) == json.dumps(shown)


def test_umap_runs_in_the_background_and_is_cached(view, monkeypatch):
    # The view's job and cache logic; lab's UMAP itself is tested in tests/lab (numba's
    # first compile alone takes a minute on a busy 2-core CPU).
    calls = []

    def fake_project(before, after, target, *, method="pca", seed=0):
        calls.append(method)
        n = before.shape[0]
        pts = np.column_stack([np.arange(n), np.arange(n) * 0.5])
        return {"before": pts, "after": pts + 1, "target_before": pts, "target_after": pts}

    monkeypatch.setattr(page, "project_2d", fake_project)
    view.n_points = 40
    view.projection = "umap"
    view.umap_job.wait(timeout=300)
    assert view.umap_job.errors.message == ""
    title = view.scatter_figure()["layout"]["title"]["text"]
    assert "UMAP" in title and len(view._umap_cache) == 1 and calls.count("umap") == 1
    view.projection = "pca"
    view.projection = "umap"
    assert not view.umap_job.running and calls.count("umap") == 1  # served from the cache
    assert "UMAP" in view.scatter_figure()["layout"]["title"]["text"]


def test_retraining_streams_losses_and_adds_the_new_models(view):
    view.train_steps = 20
    assert view.retrain()
    view.train_job.wait(timeout=300)
    assert view.train_job.errors.message == ""
    assert view.source == "Toy CLIPs retrained in this session"
    losses = view.loss_figure()["data"]
    assert any(len(t["y"]) > 0 for t in losses)
    assert len(view.loss_area.objects) == 1  # the loss figure joined the retrain card
    assert view.data.dim == 32 and view.errors.message == ""


def _blocking_sweep(started, release):
    """A stand-in for lab's sweep: one curve row, then it waits until released or stopped."""

    def sweep(data, *, center, progress, should_stop):
        started.append(center)
        progress(0.5, "", stage="curve", row={"center": center, "run": len(started)})
        while not should_stop() and not release.wait(0.01):
            pass
        return None

    return sweep


def _block_sweeps(view, monkeypatch):
    """Let the page's first sweep finish, then make every later one block (see _blocking_sweep)."""
    view.curve_job.wait()
    started, release = [], threading.Event()
    sweep = _blocking_sweep(started, release)
    monkeypatch.setattr(page, "anchor_sweep", sweep)
    monkeypatch.setattr(page, "shipped_sweep", sweep)  # the fixture's pair is a shipped source
    return started, release


def test_a_sweep_asked_for_while_one_runs_replaces_it_when_it_ends(view, monkeypatch):
    started, release = _block_sweeps(view, monkeypatch)
    view.center = False  # starts a sweep
    view.center = True  # stops it and asks for another ...
    view.center = False  # ... and back: still newer than the one that is stopping
    view.curve_job.wait(timeout=60)  # the old sweep ends; its end starts the one asked for last
    assert view.curve_job.running and started == [False, False]
    release.set()
    view.curve_job.wait(timeout=60)
    assert view.curve_rows == [{"center": False, "run": 2}]  # the stopped sweep's row was dropped
    assert view.compare_rows == [] and view.errors.message == ""


def test_a_sweep_stopped_by_its_stop_button_stays_stopped(view, monkeypatch):
    started, release = _block_sweeps(view, monkeypatch)
    view.center = False
    view.curve_job.stop()
    view.curve_job.wait(timeout=60)
    assert not view.curve_job.running and started == [False]
    assert view.curve_rows == [{"center": False, "run": 1}]  # what it finished stays shown


def test_typed_paths_are_confined_to_the_served_folders(view, tmp_path):
    from widgets.common import allowed_dirs

    shown, sources = view.metrics_figure(), list(view.param.source.objects)
    for typed in ("/etc/shadow", "/root/.ssh/id_rsa", str(tmp_path / ".." / ".." / "etc" / "passwd")):
        view.path_a.value = typed
        assert view.load_files() is None
        # one answer for a file that exists and one that does not: nothing about the machine leaks
        assert view.errors.message.startswith("path: not allowed")
    assert json.dumps(view.metrics_figure()) == json.dumps(shown) and list(view.param.source.objects) == sources
    # inside a served folder, a typed path loads as before
    inside = allowed_dirs()[0] / "alignment" / "toyclip_embeddings.npz"
    view.path_a.value = str(inside)
    assert view.load_files() is not None and view.errors.message == ""


def test_warm_up_computes_what_every_first_view_shares(tmp_path, monkeypatch):
    # Note [shared shipped results]: after the server's warm-up a new visitor's page fits nothing
    # and its sweep is the stored one.
    monkeypatch.setenv("ORTHOLAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ORTHOLAB_RUNS", str(tmp_path / "runs"))
    _write_artifacts(tmp_path / "data")
    from lab.alignment import experiment as ex

    page.AlignmentView.warm(lambda *a, **k: None, lambda: False)
    fits, sweeps = [], []
    real_fit, real_sweep = ex.run_alignment, ex.anchor_sweep
    monkeypatch.setattr(ex, "run_alignment", lambda *a, **k: fits.append(k) or real_fit(*a, **k))
    monkeypatch.setattr(ex, "anchor_sweep", lambda *a, **k: sweeps.append(k) or real_sweep(*a, **k))
    first = page.AlignmentView()
    assert first.result is not None and fits == []
    first.curve_job.wait()  # the sweep the page started when its data arrived
    assert sweeps == [] and len(first.curve_rows) > 0
    first.close()
