"""The /householder view without a browser: parameters in, figure data and messages out.

Most tests run on a tiny GAN built here (fast); one reads the shipped checkpoints."""

import numpy as np
import pytest
import torch

from lab.householder import (
    Artifacts,
    FactorRegressor,
    GanConfig,
    GanTrainConfig,
    block_slots,
    edit_ws,
    finetune_swapped,
    load_artifacts,
    make_shapes,
    sample_ws,
    to_unit,
    train_gan,
)
from lab.paths import study_dir
from widgets.householder import HouseholderView, create_view
from widgets.householder_figures import image_of

TINY = GanConfig(z_dim=12, w_dim=12, mapping_layers=2, channels=(12, 12, 12, 10), d_channels=(4, 8, 8, 8))


def test_the_shipped_artifacts_are_present():
    # The page opens on these; they are committed (scripts/householder_pretrain.py and householder_experiment.py).
    folder = study_dir("householder")
    assert (folder / "gan_seed0.safetensors").is_file() and (folder / "regressor.safetensors").is_file()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_artifacts():
    data = make_shapes(64, seed=0)
    st = train_gan(TINY, GanTrainConfig(steps=2, batch_size=8, log_every=1), data, device="cpu")
    G, D = st.generator, st.discriminator
    ft = finetune_swapped(G, D, 10, data, steps=1, train=GanTrainConfig(batch_size=8)).generator
    reg = FactorRegressor().eval().requires_grad_(False)
    return Artifacts(pretrained={0: (G, D)}, regressor=reg, results={}, finetuned={(0, 10): ft})


@pytest.fixture
def view(tiny_artifacts):
    return HouseholderView(artifacts=tiny_artifacts)


def test_builds_with_a_labelled_slider_per_direction(view):
    assert view.errors.message == "" and view.method == "householder"
    assert view.n_directions == 10
    labels = view.direction_labels()
    assert all(lab.startswith(f"d{i + 1}: ") and "purity" in lab for i, lab in enumerate(labels))
    assert view.param.d10.precedence > 0
    assert image_of(view.sample_figure()).shape == (32, 32, 3)
    assert image_of(view.grid_figure()).shape == (10 * 34 - 2, view.steps * 34 - 2, 3)
    sens = view.sensitivity_figure()["data"][0]
    assert np.asarray(sens["z"]).shape == (10, 6) and sens["y"] == labels
    assert "Householder projector" in view.info_text()
    assert view.__panel__() is not None


def test_the_sample_is_the_generator_at_the_edited_w_plus(view):
    view.block, view.d2 = 2, 1.5
    d = view.directions
    off = torch.zeros(1, 10)
    off[0, 1] = 1.5
    ws = sample_ws(d.generator, 1, view.seed)
    ref = to_unit(d.generator.synthesis(edit_ws(ws, d.dirs, off * d.scales[None], block_slots(d.generator, 2))))[0]
    ref = (ref * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(image_of(view.sample_figure()), ref)
    assert "+1.5σ·d2" in view.sample_figure()["layout"]["title"]["text"]


def test_the_edited_layers_change_which_slots_move(view):
    view.d1 = 3.0
    view.edit_layers = "first"
    assert view.slots() == [3 * view.block]
    first = image_of(view.sample_figure())
    view.edit_layers = "all"
    assert view.slots() == list(range(12))
    assert not np.array_equal(image_of(view.sample_figure()), first)
    view.edit_layers, view.edit_range = "range", (2, 3)
    assert view.slots() == [6, 7, 8, 9, 10, 11]


def test_every_method_switches_with_its_own_directions(view):
    seen = {}
    for method in ("householder", "within_span", "swap", "sefa", "ganspace", "random"):
        view.method = method
        assert view.errors.message == "" and view.direction_errors.message == "", method
        seen[method] = view.directions.dirs.clone()
    # the control spans the projector's span, in another basis
    a, b = seen["householder"].double(), seen["within_span"].double()
    torch.testing.assert_close(a.T @ a, b.T @ b, atol=1e-5, rtol=0)
    assert (a - b).abs().max() > 0.05
    assert not torch.allclose(seen["sefa"], seen["random"])


def test_a_method_without_its_generator_is_refused_and_the_page_kept(tiny_artifacts):
    art = Artifacts(pretrained=tiny_artifacts.pretrained, regressor=tiny_artifacts.regressor, results={},
                    finetuned={})
    v = HouseholderView(artifacts=art, method="sefa")
    assert v.directions.method == "sefa"
    v.method = "householder"
    assert "Fine-tune" in v.direction_errors.message
    assert v.method == "sefa" and v.directions.method == "sefa"


def test_finetuning_runs_in_the_background_with_progress_and_replaces_the_generator(tiny_artifacts):
    art = Artifacts(pretrained=tiny_artifacts.pretrained, regressor=tiny_artifacts.regressor, results={},
                    finetuned={})
    v = HouseholderView(artifacts=art, method="sefa")
    v.__panel__()
    v.ft_steps = 2
    assert v.start_finetune()
    assert not v.start_finetune()  # one job at a time
    assert v.param.ft_steps.constant  # locked while it runs
    v.job.wait(300)
    assert v.job.errors.message == "" and "finished 2 steps" in v.job.status.object
    assert (0, 10) in v.tuned and not v.param.ft_steps.constant
    loss = v.loss_figure()["data"]
    assert len(loss) == 2 and len(loss[0]["x"]) == 2 and all(np.isfinite(loss[0]["y"]))
    v.method = "householder"
    assert v.directions.generator is v.tuned[(0, 10)]
    v.restore_shipped()
    assert v.tuned == {}


def test_a_stopped_finetune_is_not_swapped_in(tiny_artifacts):
    art = Artifacts(pretrained=tiny_artifacts.pretrained, regressor=tiny_artifacts.regressor, results={},
                    finetuned={})
    v = HouseholderView(artifacts=art, method="sefa")
    v.ft_steps = 500
    assert v.start_finetune()
    v.job.stop()
    v.job.wait(300)
    assert v.job.outcome == "stopped" and v.tuned == {}
    assert "stopped" in v.job.status.object


def test_missing_artifacts_show_a_message_not_a_traceback(tmp_path, monkeypatch):
    from widgets import householder as hh

    monkeypatch.setenv("ORTHOLAB_DATA", str(tmp_path))
    hh._shipped.cache_clear()
    try:
        v = create_view()
    finally:
        hh._shipped.cache_clear()
    assert "householder_pretrain.py" in v.errors.message
    assert v.refresh() is False


def test_the_shipped_page_shows_the_results_tables():
    art = load_artifacts()
    v = HouseholderView(artifacts=art, method="sefa")
    assert v.errors.message == ""
    if art.results.get("summary"):
        table = v.results_table.object
        assert {"householder", "within_span", "sefa", "ganspace"} <= set(table["directions"])
        assert "MIG" in table and "±" in table["MIG"].iloc[0]
