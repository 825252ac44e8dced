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
    assert list(cmp["data"][0]["x"]) == ["linear", "mlp", "orthogonal", "ridge"]
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
    assert data is not None and view.errors.message == "" and view.upload_errors.message == ""
    assert view.source.startswith("Your files") and view.source in view.param.source.objects
    slider = view.controls._widgets["n_anchor_classes"]
    assert slider.end == 30  # no labels: anchors count rows (30 of the 60 may be anchors)
    assert _bars(view)["after"]["image: retrieval top-1 (instance)"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "filename, payload, match",
    [
        ("bad.npz", _npz(x=np.full((50, 4), np.nan), y=np.ones((50, 4))), "NaN"),
        ("bad.npz", _npz(x=np.ones((50, 4)), y=np.ones((40, 4))), "paired rows"),
        ("bad.npz", _npz(x=np.ones((50, 4)), y=np.ones((50, 3)), x2=np.ones((6, 4)), y2=np.ones((6, 4))), "y2"),
        ("bad.npz", b"not a zip file at all", "'bad.npz'"),
        ("bad.pkl", b"\x80\x04K\x01.", "filename"),
    ],
    ids=["nan", "mismatched-rows", "second-modality-width", "corrupt", "pickle-suffix"],
)
def test_bad_uploads_show_a_message_and_keep_the_page(view, filename, payload, match):
    shown, source, sources = view.metrics_figure(), view.source, list(view.param.source.objects)
    view.file_a.filename, view.file_a.value = filename, payload
    assert view.load_files() is None
    # shown beside the upload controls, not in the page's box at the top
    assert match in view.upload_errors.message and "Traceback" not in view.upload_errors.message
    assert view.errors.message == ""
    assert json.dumps(view.metrics_figure()) == json.dumps(shown) and view.source == source
    assert list(view.param.source.objects) == sources


def test_pickled_and_oversized_uploads_are_refused(view, monkeypatch):
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    view.file_a.filename, view.file_a.value = "evil.npy", buf.getvalue()
    view.file_b.filename, view.file_b.value = "b.npy", buf.getvalue()
    assert view.load_files() is None and "pickle" in view.upload_errors.message
    monkeypatch.setattr(page, "MAX_UPLOAD_BYTES", 50)
    view.file_b.filename, view.file_b.value = None, None  # no file for space B any more
    view.file_a.filename, view.file_a.value = "big.npz", _npz(x=np.ones((50, 4)), y=np.ones((50, 4)))
    assert view.load_files() is None and "over the limit" in view.upload_errors.message


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

    def sweep(data, *, center, progress, should_stop, **options):
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
        assert view.upload_errors.message.startswith("path: not allowed")
    assert json.dumps(view.metrics_figure()) == json.dumps(shown) and list(view.param.source.objects) == sources
    # inside a served folder, a typed path loads as before
    inside = allowed_dirs()[0] / "alignment" / "toyclip_embeddings.npz"
    view.path_a.value = str(inside)
    assert view.load_files() is not None and view.upload_errors.message == ""


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


# ---------------------------------------------------------------- what each control recomputes
def _count_fits(monkeypatch):
    """Count lab's fits (run_alignment) and score passes (_score_rows) from here on."""
    from lab.alignment import experiment as ex

    calls = {"fit": 0, "score": 0}
    real_fit, real_score = ex.run_alignment, ex._score_rows

    def fit(*a, **k):
        calls["fit"] += 1
        return real_fit(*a, **k)

    def score(*a, **k):
        calls["score"] += 1
        return real_score(*a, **k)

    monkeypatch.setattr(ex, "run_alignment", fit)
    monkeypatch.setattr(ex, "_score_rows", score)
    return calls


def test_anchor_slider_uses_the_memoised_fit_and_scores_only_the_map(view, monkeypatch):
    view.curve_job.wait()
    calls = _count_fits(monkeypatch)
    start = view.n_anchor_classes
    view.n_anchor_classes = 3
    # In the centred frame (the default) the "before" scores use the new anchors' means, so they
    # are scored again; in the raw frame they are kept from the first fit of these rows.
    assert calls == {"fit": 1, "score": 2}
    first = view.result
    view.n_anchor_classes = start
    view.n_anchor_classes = 3
    assert calls["fit"] == 1 and view.result is first  # moved back: nothing is refitted
    view.n_points = 50
    view.projection = "pca"
    assert calls["fit"] == 1 and len(view.scatter_figure()["data"][1]["x"]) == 50
    rows = view.curve_rows
    curve = view.curve_figure()
    view.n_anchor_classes = 4
    moved = view.curve_figure()
    assert view.curve_rows is rows and moved["data"] is curve["data"]  # the marker moves; the traces are kept
    assert moved["layout"]["shapes"][0]["x0"] == 4
    view.centered_scoring = False  # the raw frame: the "before" scores no longer depend on the anchors
    view.curve_job.wait()  # the sweep this switch started fits in the background; let it finish first
    calls.update(fit=0, score=0)
    view.n_anchor_classes = 5
    assert calls == {"fit": 1, "score": 1}


def test_the_warm_up_fits_every_anchor_count_of_the_default_controls(tmp_path, monkeypatch):
    monkeypatch.setenv("ORTHOLAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ORTHOLAB_RUNS", str(tmp_path / "runs"))
    _write_artifacts(tmp_path / "data")
    page.AlignmentView.warm(lambda *a, **k: None, lambda: False)
    calls = _count_fits(monkeypatch)
    v = page.AlignmentView()
    for k in range(1, 13):
        v.n_anchor_classes = k
    assert calls["fit"] == 0 and v.errors.message == ""
    v.close()


def test_mlp_map_fits_in_the_background_and_keeps_the_old_figure(view):
    options = view.controls._widgets["map_type"].options
    assert "mlp (background)" in options and "background" in view.param.map_type.doc
    assert "mlp** trains in the background" in view.controls_help()
    shown, old = json.dumps(view.metrics_figure()), view.result
    view.map_type = "mlp"
    assert view.fit_job.running and view.result is old
    assert "Updating" in view.pending_note() and "mlp" in view.pending
    assert json.dumps(view.metrics_figure()) == shown and "(orthogonal map)" in view.headline()
    view.fit_job.wait(timeout=300)
    assert view.result.map_type == "mlp" and view.pending == "" and view.fit_job.errors.message == ""
    assert json.dumps(view.metrics_figure()) != shown and "(mlp map)" in view.headline()
    assert view.fit_job.status.object == ""  # no stale "finished" line: the figures say what is shown
    assert "last time" in view.controls_help()  # the control now says how long the MLP took
    view.map_type = "orthogonal"  # memoised: back at once, no job
    assert not view.fit_job.running and view.result is old


def test_controls_moved_during_a_background_fit_win(view):
    view.map_type = "mlp"
    assert view.fit_job.running
    view.map_type = "orthogonal"  # light and memoised: shown at once, the background fit is dropped
    assert view.pending == "" and view.result.map_type == "orthogonal"
    view.fit_job.wait(timeout=300)
    assert view.result.map_type == "orthogonal" and view.pending == ""


def _wide_pair(d=160, n=400, seed=2):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x, x @ ortho_group.rvs(d, random_state=rng)


def test_a_wide_source_is_fitted_in_the_background_and_the_old_one_stays(view):
    x, y = _wide_pair()
    shown, old_data, old = json.dumps(view.metrics_figure()), view.data, view.result
    view.file_a.filename, view.file_a.value = "wide.npz", _npz(x=x, y=y)
    assert view.load_files() is not None
    assert view.fit_job.running and view.data is old_data and view.result is old
    assert "Updating" in view.pending and json.dumps(view.metrics_figure()) == shown
    view.fit_job.wait(timeout=300)
    assert view.data.dim == 160 and view.result is not old and view.pending == ""
    assert view.source.startswith("Your files") and view.errors.message == ""
    view.source = "Toy CLIPs on drawn shapes"  # back to a light source: at once
    assert view.data is old_data and not view.fit_job.running


def test_umap_keeps_the_previous_view_until_it_is_done(view, monkeypatch):
    def fake_project(before, after, target, *, method="pca", seed=0):
        n = before.shape[0]
        pts = np.column_stack([np.arange(n), np.arange(n) * 0.5])
        return {"before": pts, "after": pts + 1, "target_before": pts, "target_after": pts}

    monkeypatch.setattr(page, "project_2d", fake_project)
    assert "umap (background)" in view.controls._widgets["projection"].options
    shown = json.dumps(view.scatter_figure())
    view.projection = "umap"
    assert view.umap_job.running and "Updating" in view.umap_note()
    assert json.dumps(view.scatter_figure()) == shown  # the previous view, no empty placeholder
    view.umap_job.wait(timeout=300)
    assert "UMAP" in view.scatter_figure()["layout"]["title"]["text"] and view.umap_pending == ""


# ---------------------------------------------------------------- uploads
def _npy(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_an_empty_chosen_file_is_called_empty_beside_the_upload(view):
    view.file_a.filename, view.file_a.value = "pair.npz", b""
    assert view.load_files() is None
    msg = view.upload_errors.message
    assert "'pair.npz' (space A) is empty" in msg and "first" not in msg and view.errors.message == ""
    good = np.ones((50, 4))
    view.file_a.filename, view.file_a.value = "a.npy", _npy(good)
    view.file_b.filename, view.file_b.value = "b.npy", b""
    assert view.load_files() is None
    assert "'b.npy' (space B) is empty" in view.upload_errors.message


def test_a_bad_file_b_is_reported_as_space_b(view):
    rng = np.random.default_rng(0)
    view.file_a.filename, view.file_a.value = "a.npy", _npy(rng.standard_normal((50, 4)))
    for payload, what in ((_npy(np.full((50, 4), np.nan)), "NaN"), (b"not an npy", "not a valid"),
                          (_npy(np.ones(50)), "2-D")):
        view.file_b.filename, view.file_b.value = "b.npy", payload
        assert view.load_files() is None
        msg = view.upload_errors.message
        assert msg.startswith("space B ('b.npy')") and what in msg and "space A" not in msg
    view.file_b.filename, view.file_b.value = "b.npy", _npy(rng.standard_normal((50, 4)))
    view.file_a.value = b"garbage"
    assert view.load_files() is None and view.upload_errors.message.startswith("space A ('a.npy')")


# ---------------------------------------------------------------- explanations on the page
def test_group_note_gives_the_determinant_of_the_o_d_fit(view):
    import re

    res = view.result
    det = float(np.linalg.det(res.aligner.matrix_.numpy()))
    note = view.group_note()
    assert f"{det:+.3f}" in note
    shown = re.search(r"\*\*([+-]\d\.\d{3})\*\*", note).group(1)
    view.group = "SO(d) rotations"
    assert shown in view.group_note()  # the O(d) determinant, computed from the SO(d) fit
    so = view.result.metrics["after"].to_numpy()
    if det > 0:  # then the two groups fit the identical map
        assert "identical" in note and np.allclose(so, res.metrics["after"].to_numpy())
    else:
        assert "reflection" in note
    view.map_type = "linear"
    assert "ignores" in view.group_note()


def test_group_note_says_when_the_best_map_is_not_unique(view):
    view.n_anchor_classes = 1  # fewer anchors than dimensions: XcᵀYc is rank deficient
    res = view.result
    if len(res.anchors) <= view.data.dim:
        assert "not unique" in view.group_note()


def test_map_note_explains_scores_the_map_makes_worse(view):
    rng = np.random.default_rng(5)
    d = 16
    x = rng.standard_normal((200, d))
    y = x + 0.3 * rng.standard_normal((200, d))  # already aligned in raw coordinates
    view.file_a.filename, view.file_a.value = "same.npz", _npz(x=x, y=y)
    assert view.load_files() is not None
    view.n_anchor_classes = 4  # 4 anchor rows in 16 dimensions
    res = view.result
    m = res.metrics.set_index(["metric", "modality"])
    before, after = m.loc[("retrieval top-1 (instance)", "image"), ["before", "after"]]
    assert after < before
    note = view.map_note()
    assert f"{before:.0%} → {after:.0%}" in note and "identity" in note
    rank = int((res.singular_values > res.singular_values[0] * 1e-9).sum())
    assert f"rank {rank}" in note and f"{d - rank} directions" in note
    view.n_anchor_classes = view.param.n_anchor_classes.bounds[1]  # every anchor row: the map helps
    assert view.map_note() == "" or "rank" not in view.map_note()


# ---------------------------------------------------------------- stop and placeholders
def test_a_stopped_retraining_keeps_the_pair_shown(view, monkeypatch):
    def fake_retrain(steps, *, progress, should_stop):
        progress(0.1, "", model="model_a", step=1, loss=2.0)
        while not should_stop():
            threading.Event().wait(0.01)
        return None  # lab's retrain_pair returns no pair when stopped

    monkeypatch.setattr(page, "retrain_pair", fake_retrain)
    view.__panel__()
    button = next(w for w in view.train_job._locked)
    data, source = view.data, view.source
    assert view.retrain() and button.disabled
    view.train_job.stop()
    view.train_job.wait(timeout=60)
    assert view.data is data and view.source == source and not button.disabled
    assert "keeps the pair it showed" in view.train_job.status.object


def test_a_sweep_stopped_before_its_first_row_does_not_say_computing(view, monkeypatch):
    view.curve_job.wait()

    def sweep(data, *, center, progress, should_stop, **options):
        while not should_stop():
            threading.Event().wait(0.01)

    monkeypatch.setattr(page, "anchor_sweep", sweep)
    monkeypatch.setattr(page, "shipped_sweep", sweep)
    view.center = False
    assert "computing" in json.dumps(view.curve_figure())
    view.curve_job.stop()
    view.curve_job.wait(timeout=60)
    for fig in (view.curve_figure(), view.compare_figure()):
        text = json.dumps(fig)
        assert "computing" not in text and "stopped" in text


# ---------------------------------------------------------------- encoder pairs, calibration, your own model
def _write_encoder_pairs(root, seed=1):
    """A stand-in for text_encoders.npz: 'minilm' and 'e5' 16-d, 'wordllama' 10-d, related by planted maps."""
    rng = np.random.default_rng(seed)
    n = 300
    base = rng.standard_normal((n, 16)) * np.linspace(2, 0.3, 16)
    arrays = {"minilm": base, "e5": base @ ortho_group.rvs(16, random_state=rng),
              "wordllama": 3.0 * base @ ortho_group.rvs(16, random_state=rng)[:, :10],
              "train_mask": np.arange(n) % 2 == 0}
    np.savez(root / "alignment" / "text_encoders.npz", **arrays)


def _calibrated(view, timeout=120.0):
    """The calibration of the fit shown, once its job (restarted when the fit changed under it) has delivered."""
    import time

    deadline = time.monotonic() + timeout
    while view.calibration is None and time.monotonic() < deadline:
        view.calib_job.wait(timeout=max(0.1, deadline - time.monotonic()))
    return view.calibration


def test_a_pair_of_different_widths_gets_a_semi_orthogonal_map_and_says_so(view, tmp_path):
    _write_encoder_pairs(tmp_path / "data")
    view.source = next(label for label, name in page.SOURCES.items() if name == "minilm_wordllama")
    view.fit_job.wait(timeout=120)
    res = view.result
    assert view.data.dim == 16 and view.data.dim_y == 10 and res.x_after.shape[1] == 10
    assert "different widths" in view.group_note() and "undefined" in view.headline()
    assert "own axes" in json.dumps(view.scatter_figure())
    table = _calibrated(view)
    assert table is not None and set(table["metric"]) >= {"linear CKA", "retrieval top-1 (instance)"}
    shown = res.metrics.set_index("metric")["after"]
    for row in table.itertuples():
        assert row.value == pytest.approx(shown[row.metric], abs=1e-5) and row.ci_lo <= row.value <= row.ci_hi
    view.semi_orthogonal = "polar"  # the polar factor: a different map, still orthonormal columns
    view.fit_job.wait(timeout=120)
    assert view.result is not res and view.result.aligner.semi_orthogonal == "polar"
    assert view.errors.message == "" and view.fit_job.errors.message == ""


def test_your_own_model_embeds_the_corpus_into_a_new_source_and_names_bad_input(view):
    shown = view.data
    view.encoder_a = page.LOCAL  # no folder typed: the message sits beside the card, the page keeps its data
    assert view.embed_models() is False
    assert "folder" in view.embed_job.errors.message and view.data is shown
    view.encoder_a, view.encoder_b, view.max_texts = "wordllama", "wordllama", 40
    assert view.embed_models()
    view.embed_job.wait(timeout=120)
    view.fit_job.wait(timeout=120)  # 256 dimensions: the new source is fitted in the background first
    assert view.data is not shown and view.data.n == 40 and view.source.startswith("Your encoders")
    assert "40" in view.source
    view.texts_source = next(k for k, v in page.TEXT_SOURCES.items() if v == "upload")
    assert view.embed_models() is False and ".txt" in view.embed_job.errors.message
