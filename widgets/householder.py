"""The /householder page: discover, traverse and score a generator's latent directions.

All numbers come from ``lab.householder``; this module only arranges them as figures. The
shipped models (data/householder/) are read once per process and never modified; a model
trained on the page replaces that kind's model for this session only.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param
import torch

from lab.householder.artifacts import Artifacts, image_grid, load_artifacts, to_uint8_image
from lab.householder.core import layer_directions, orthogonality_error
from lab.householder.experiment import model_directions
from lab.householder.layers import layer_inputs, linear_layer_names
from lab.householder.model import GeneratorConfig
from lab.householder.scoring import decode_offset, prior_samples, purity, sensitivity_matrix, traverse
from lab.householder.shapes import make_shapes
from lab.householder.training import TrainConfig, train_vae
from widgets.common import ErrorBox, as_list, device_badge, guarded, plotly_pane
from widgets.jobs import BackgroundJob

__all__ = ["HouseholderView", "create_view", "image_figure", "METHOD_MODEL", "METHOD_LABELS"]

# Which trained model each direction method reads, and how the page names it.
METHOD_MODEL = {"householder": "householder", "sefa": "linear", "ganspace": "linear", "random": "householder"}
METHOD_LABELS = {
    "householder": "Householder: the projector's own directions",
    "sefa": "SeFa: eigenvectors of the unconstrained layer",
    "ganspace": "GANSpace: PCA of the unconstrained layer's activations",
    "random": "Random orthonormal directions (projector model)",
}
MAX_OFFSET = 4.0
FIRST_LAYER = "fc"  # the generator's latent -> features layer; deeper layers come from the model itself
FACTOR_LABELS = ["shape", "scale", "rotation", "x position", "y position", "hue"]


@functools.lru_cache(maxsize=2)
def _shipped(folder: str | None = None) -> Artifacts:
    """The shipped artifacts, loaded once per process (read-only)."""
    return load_artifacts(folder)


def _offsets_class(k: int) -> type[param.Parameterized]:
    """A Parameterized with one offset parameter per direction (d1..dk)."""
    params = {
        f"d{i + 1}": param.Number(0.0, bounds=(-MAX_OFFSET, MAX_OFFSET), step=0.1,
                                  doc=f"Offset of the sample along direction {i + 1} (prior standard deviations).")
        for i in range(k)
    }
    return param.parameterized_class("DirectionOffsets", params)


def image_figure(img: np.ndarray, title: str, height: int, **layout: Any) -> dict:
    """A Plotly figure dict with one RGB image trace."""
    return {
        "data": [{"type": "image", "z": as_list(img), "hoverinfo": "skip"}],
        "layout": {"title": {"text": title, "font": {"size": 14}}, "height": height,
                   "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
                   "xaxis": {"visible": False}, "yaxis": {"visible": False}, "uirevision": "keep", **layout},
    }


class HouseholderView(pn.viewable.Viewer):
    """Direction sliders, a traversal grid, the sensitivity heatmap and a training panel."""

    method = param.Selector(default="householder", objects=list(METHOD_MODEL),
                            doc="Where the directions come from: the projector's own directions, SeFa or "
                                "GANSpace on the unconstrained model, or random orthonormal directions.")
    seed = param.Integer(default=0, bounds=(0, 99_999), doc="Seed of the latent sample z (prior N(0, I)).")
    span = param.Number(default=3.0, bounds=(0.5, 6.0), step=0.25,
                        doc="The traversal grid runs from -span to +span along each direction.")
    steps = param.Integer(default=7, bounds=(3, 11), doc="Columns of the traversal grid.")
    layer = param.Selector(default=FIRST_LAYER, objects=[FIRST_LAYER],
                           doc="Linear layer whose directions are traversed: the first one moves z itself; a "
                               "deeper one gets t·n added to what it receives (SeFa on an intermediate layer).")
    train_layer = param.Selector(default="householder", objects=["householder", "linear"],
                                 doc="First layer of the generator trained on this page.")
    train_steps = param.Integer(default=300, bounds=(20, 5000),
                                doc="Optimiser steps for a training run started here (the shipped models' budget is in results.json).")

    def __init__(self, *, artifacts: Artifacts | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.errors = ErrorBox()
        self._art: Artifacts | None = None
        self._models: dict = {}
        self._dirs = torch.zeros(1, 1)
        self._values = torch.zeros(1)
        self._loss_hist: list[tuple[int, float]] = []
        self._reverting = False
        self.info = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.orth = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.sample_pane = plotly_pane(image_figure(np.zeros((32, 32, 3), np.uint8), "Sample", 380), sizing_mode="fixed", width=380, height=380)
        self.grid_pane = plotly_pane(image_figure(np.zeros((32, 32, 3), np.uint8), "Traversal grid", 520), height=520,
                                     sizing_mode="fixed", width=640)
        self.sens_pane = plotly_pane({"data": [], "layout": {"height": 360}}, height=360)
        self.loss_pane = plotly_pane(self._loss_fig(), height=260)
        self.train_samples_pane = plotly_pane(image_figure(np.zeros((32, 32, 3), np.uint8), "Samples during training", 200), height=200)
        self.results_table = pn.pane.DataFrame(pd.DataFrame(), sizing_mode="stretch_width", index=False)
        self.results_note = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.job = BackgroundJob(name="training")
        self.train_button = pn.widgets.Button(label="Train a generator", color="primary", width=180)
        self.train_button.on_click(lambda _e: self.start_training())
        self.restore_button = pn.widgets.Button(label="Back to the shipped models", width=210)
        self.restore_button.on_click(lambda _e: self.restore_shipped())
        self.resample_button = pn.widgets.Button(label="Resample z", width=120)
        self.resample_button.on_click(lambda _e: self._resample())
        k = 6
        try:
            self._art = artifacts if artifacts is not None else _shipped()
            self._models = dict(self._art.models)
            k = self._models["householder"].config.rank
            self.param.layer.objects = linear_layer_names(self._models["householder"].generator)
        except Exception as exc:  # noqa: BLE001 - the page still builds and says what is missing
            self.errors.show(exc)
        self.offsets = _offsets_class(k)()
        self.direction_sliders = [
            pn.widgets.FloatSlider.from_param(self.offsets.param[f"d{i + 1}"], name=f"direction {i + 1}", width=260)
            for i in range(k)
        ]
        self.offsets.param.watch(lambda _e: self._update_sample(), [f"d{i + 1}" for i in range(k)])
        self.param.watch(self._on_direction_source, ["method", "layer"])
        self.param.watch(lambda _e: self._update_views(sens=False), ["seed"])
        self.param.watch(lambda _e: self._update_views(sens=False), ["span", "steps"])
        if self._art is not None:
            self.refresh()
            self._fill_results()

    # ------------------------------------------------------------------ state -> figures
    @property
    def model(self):
        return self._models[METHOD_MODEL[self.method]]

    @property
    def layer_arg(self) -> str | None:
        """The ``layer=`` the lab calls get: None moves z itself (the first layer's input)."""
        return None if self.layer == FIRST_LAYER else self.layer

    def refresh(self) -> bool:
        """Recompute the directions of the current method and layer and every figure; False on failure."""
        return guarded(self.errors)(self._refresh)() is not None

    def _on_direction_source(self, event) -> None:
        # A method/layer pair with no directions (the projector's own directions of a plain Linear
        # layer) shows why and puts the control back, so the page keeps showing what it did. The
        # failed refresh changed nothing; the message stays up while the control reverts.
        if self._reverting:
            return
        if not self.refresh() and self._models:
            self._reverting = True
            try:
                setattr(self, event.name, event.old)
            finally:
                self._reverting = False

    def _directions_now(self) -> tuple[torch.Tensor, torch.Tensor]:
        k = len(self.direction_sliders)
        if self.layer_arg is None:
            return model_directions(self.model, self.method, seed=0)
        gen = self.model.generator
        inputs = None
        if self.method == "ganspace":  # PCA of what the layer really receives under the prior
            inputs = layer_inputs(gen, self.layer, prior_samples(4096, self.model.config.latent_dim, seed=0))
        seed = 10_000 if self.method == "random" else 0
        with torch.no_grad():
            return layer_directions(gen, self.layer, self.method, k, seed=seed, inputs=inputs)

    def _refresh(self) -> bool:
        if not self._models:
            raise FileNotFoundError("no models are loaded; run `python scripts/make_householder_data.py`")
        dirs, values = self._directions_now()
        self._dirs, self._values = dirs.detach().float(), values.detach()
        for i, slider in enumerate(self.direction_sliders):
            slider.name = self._direction_label(i)
        w = self.model.generator.get_submodule(self.layer).weight.detach()
        err = orthogonality_error(w)
        kind = METHOD_MODEL[self.method]
        where = "First layer" if self.layer_arg is None else f"Layer `{self.layer}`"
        self.orth.object = (
            f"**{where} ({kind} model, {w.shape[0]}×{w.shape[1]}):** orthogonality error "
            f"max|σ−1| = {err:.2e} over its nonzero singular values"
            + (" — a true low-rank orthogonal map." if err < 1e-3 else " — unconstrained, its gains differ per direction.")
        )
        moved = "z" if self.layer_arg is None else f"the input of layer `{self.layer}` ({w.shape[1]} features)"
        self.info.object = f"**Directions:** {METHOD_LABELS[self.method]}; they move {moved}."
        self._update_views(sens=True)
        return True

    def _direction_label(self, i: int) -> str:
        v = float(self._values[i]) if i < len(self._values) else float("nan")
        if self.method == "householder":
            return f"direction {i + 1} (σ = {v:.2f})"
        if self.method == "sefa":
            return f"direction {i + 1} (eigenvalue {v:.2f})"
        if self.method == "ganspace":
            return f"direction {i + 1} (variance {v:.3g})"
        return f"direction {i + 1} (random)"

    def _update_views(self, sens: bool) -> None:
        def work():
            self._update_sample()
            self._update_grid()
            if sens:
                self._update_sensitivity()

        guarded(self.errors)(work)()

    def _z(self) -> torch.Tensor:
        return prior_samples(1, self.model.config.latent_dim, self.seed)  # (1, latent)

    def current_offsets(self) -> np.ndarray:
        return np.array([getattr(self.offsets, f"d{i + 1}") for i in range(len(self.direction_sliders))])

    def _update_sample(self) -> None:
        def work():
            off = self.current_offsets()[: self._dirs.shape[0]]
            img = decode_offset(self.model.generator, self._dirs, off, z=self._z(), layer=self.layer_arg)
            moved = ", ".join(f"{o:+.1f}·n{i + 1}" for i, o in enumerate(off.tolist()) if o != 0) or "no offset"
            self.sample_pane.object = image_figure(to_uint8_image(img), f"Sample z + ({moved})", 380)

        guarded(self.errors)(work)()

    def _update_grid(self) -> None:
        imgs = traverse(self.model.generator, self._dirs, z=self._z(), span=self.span, steps=self.steps,
                        layer=self.layer_arg)[0]  # (k, steps, 3, H, W)
        mosaic = image_grid(imgs)
        k, s, _, h, w = imgs.shape
        t = np.linspace(-self.span, self.span, s)
        where = "z + t·n_i" if self.layer_arg is None else f"z with t·n_i added at layer {self.layer}"
        fig = image_figure(mosaic, f"Traversal grid: row i decodes {where} ({METHOD_LABELS[self.method].split(':')[0]})",
                           100 + 70 * k)
        fig["layout"]["yaxis"] = {"visible": True, "tickmode": "array", "tickvals": [i * (h + 2) + h / 2 for i in range(k)],
                                  "ticktext": [self._direction_label(i) for i in range(k)], "showgrid": False}
        fig["layout"]["xaxis"] = {"visible": True, "tickmode": "array", "tickvals": [j * (w + 2) + w / 2 for j in range(s)],
                                  "ticktext": [f"t = {v:+.1f}" for v in t], "showgrid": False, "side": "top"}
        fig["layout"]["margin"] = {"l": 170, "r": 10, "t": 70, "b": 10}
        self.grid_pane.object = fig

    def _update_sensitivity(self) -> None:
        S = sensitivity_matrix(self.model.generator, self._art.regressor, self._dirs, n_samples=16,
                               span=2.0, steps=7, seed=self.seed, layer=self.layer_arg)
        p = purity(S)
        ylabels = [f"n{i + 1} (purity {p[i]:.2f})" for i in range(S.shape[0])]
        self.sensitivity_ = S
        self.sens_pane.object = {
            "data": [{"type": "heatmap", "z": as_list(S), "x": FACTOR_LABELS, "y": ylabels, "colorscale": "Viridis",
                      "zmin": 0, "zmax": max(0.5, float(S.max())), "texttemplate": "%{z:.2f}",
                      "colorbar": {"title": {"text": "change"}},
                      "hovertemplate": "%{y}<br>%{x}: %{z:.3f}<extra></extra>"}],
            "layout": {"title": {"text": "Which factor moves along each direction<br><sub>range of the regressor's "
                                          "prediction over t ∈ [−2, 2], mean of 16 samples</sub>",
                                 "font": {"size": 14}},
                       "height": 360, "margin": {"l": 120, "r": 10, "t": 50, "b": 40},
                       "yaxis": {"autorange": "reversed"}, "xaxis": {"title": {"text": "ground-truth factor"}},
                       "uirevision": "keep"},
        }

    def _fill_results(self) -> None:
        rows = self._art.results.get("summary", [])
        if not rows:
            return
        cfg = self._art.results.get("train_config", {})
        self.results_note.object = (f"Budget per model: {cfg.get('steps', '?')} steps of {cfg.get('batch_size', '?')} images, "
                                    f"seeds {self._art.results.get('seeds', '?')}, measured on {self._art.results.get('device', '?')}; "
                                    f"factor regressor held-out: " + ", ".join(
                                        f"{k} {v:.2f}" for k, v in self._art.results.get("regressor_heldout", {}).items()) + ".")
        df = pd.DataFrame(rows)
        out = pd.DataFrame({"model": df["model"], "directions": df["method"]})
        for m in ("mig", "sap", "purity", "path_length"):
            if f"{m}_mean" in df:
                out[m] = [f"{a:.3g}±{b:.2g}" for a, b in zip(df[f"{m}_mean"], df[f"{m}_std"].fillna(0.0))]
        self.results_table.object = out

    def _resample(self) -> None:
        self.seed = (self.seed + 1) % 100_000

    # ------------------------------------------------------------------ training
    @staticmethod
    def _loss_fig(steps=(), losses=()) -> dict:
        return {
            "data": [{"type": "scatter", "mode": "lines+markers", "x": as_list(np.asarray(steps)),
                      "y": as_list(np.asarray(losses)), "name": "loss"}],
            "layout": {"title": {"text": "Training loss (negative ELBO per image)", "font": {"size": 14}}, "height": 260,
                       "margin": {"l": 60, "r": 10, "t": 40, "b": 40},
                       "xaxis": {"title": {"text": "step"}}, "yaxis": {"title": {"text": "loss"}}, "uirevision": "keep"},
        }

    def training_config(self) -> TrainConfig:
        base = self._models["householder"].config if self._models else GeneratorConfig()
        gen = GeneratorConfig(**{**base.to_dict(), "first_layer": self.train_layer})
        return TrainConfig(generator=gen, steps=self.train_steps, n_images=4000, log_every=10, sample_every=50,
                           checkpoint_every=max(100, self.train_steps // 4))

    def start_training(self) -> bool:
        """Start training a generator in the background; False if one is already running."""
        cfg = self.training_config()
        self._loss_hist = []
        self.loss_pane.object = self._loss_fig()

        def work(progress, should_stop):
            history: list[tuple[int, float]] = []

            def relay(fraction, message="", **partial):
                # The job hands over only the latest partial; carry the whole loss curve.
                if "step" in partial and "loss" in partial:
                    history.append((int(partial["step"]), float(partial["loss"])))
                progress(fraction, message, history=list(history), **partial)

            data = make_shapes(cfg.n_images, seed=cfg.data_seed)
            return train_vae(cfg, data=data, progress=relay, should_stop=should_stop)

        return self.job.start(work, on_partial=self._on_partial, on_done=self._on_trained)

    def _on_partial(self, partial: dict) -> None:
        if partial.get("history"):
            self._loss_hist = list(partial["history"])
            steps, losses = zip(*self._loss_hist)
            self.loss_pane.object = self._loss_fig(steps, losses)
        if "samples" in partial:
            imgs = np.asarray(partial["samples"])[None]  # (1, n, 3, H, W)
            self.train_samples_pane.object = image_figure(image_grid(imgs), f"Samples at step {partial.get('step', '?')}", 200)

    def _on_trained(self, result) -> None:
        kind = result.model.config.first_layer
        self._models[kind] = result.model.eval().requires_grad_(False)
        where = f" Run saved in `{result.run.path}`." if result.run is not None else ""
        self.job.status.object = (f"training: {'stopped' if result.stopped else 'finished'} after {result.step} steps; "
                                  f"the **{kind}** model on this page is now the one trained here.{where}")
        self.refresh()

    def restore_shipped(self) -> None:
        if self._art is not None:
            self._models = dict(self._art.models)
            self.refresh()

    # ------------------------------------------------------------------ layout
    def __panel__(self):
        intro = pn.pane.Markdown(
            "## Householder latent directions\n"
            "The generator below maps a latent code z (8 numbers) to a 32×32 image of a coloured shape. "
            "Its first layer is either a **Householder projector** A = Q(U)·S·Q(V)ᵀ (rank 6, every nonzero "
            "singular value exactly 1, its directions are the first columns of Q(V)) or an unconstrained "
            "linear layer, analysed with **SeFa** or **GANSpace**. Move a direction slider to push the sample "
            "along that direction; the grid shows every direction from −span to +span; the heatmap measures, "
            "with a factor regressor trained on the ground truth, which factor each direction changes. "
            "*Of layer* points the study at any linear layer of the generator by its dotted name: for a deeper "
            "layer the directions live in that layer's input and are added to what it receives.",
            sizing_mode="stretch_width",
        )
        controls = pn.Column(
            pn.pane.Markdown("#### Directions"),
            pn.widgets.Select.from_param(self.param.method, name="Directions from", width=260),
            pn.widgets.Select.from_param(self.param.layer, name="Of layer (dotted name)", width=260),
            *self.direction_sliders,
            pn.pane.Markdown("#### Sample and grid"),
            pn.Row(pn.widgets.IntInput.from_param(self.param.seed, name="z seed", width=120), self.resample_button),
            pn.Param(self.param, parameters=["span", "steps"], show_name=False, width=270,
                     widgets={"span": {"type": pn.widgets.FloatSlider, "throttled": True, "name": "Grid span ±"},
                              "steps": {"type": pn.widgets.IntSlider, "throttled": True, "name": "Grid steps"}}),
            width=290,
        )
        top = pn.Row(controls, pn.Column(self.sample_pane, self.info, self.orth, width=400),
                     pn.Column(self.sens_pane, sizing_mode="stretch_width"), sizing_mode="stretch_width")
        results = pn.Column(
            pn.pane.Markdown(
                "#### Shipped comparison (held-out shapes; mean ± std over seeds)\n"
                "MIG and SAP score encoder codes projected on the directions against the factors; purity is the "
                "share of a direction's sensitivity taken by its top factor; path length is the squared change of "
                "the regressor's features per unit step (lower = smoother). `scripts/make_householder_data.py` "
                "produced these numbers."),
            self.results_table, self.results_note, sizing_mode="stretch_width")
        middle = pn.Row(pn.Column(self.grid_pane, width=650), results, sizing_mode="stretch_width")
        training = pn.Column(
            pn.pane.Markdown("#### Train a generator here\nRuns in the background on 4,000 shapes; the loss and "
                             "samples stream in; Stop keeps what was learnt so far. The trained model replaces that "
                             "kind's model for this page only."),
            pn.Row(pn.widgets.Select.from_param(self.param.train_layer, name="First layer", width=160),
                   pn.widgets.IntInput.from_param(self.param.train_steps, name="Steps", width=120),
                   self.train_button, self.restore_button),
            self.job,
            pn.Row(self.loss_pane, self.train_samples_pane, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        return pn.Column(intro, device_badge(), self.errors, top, middle, training, sizing_mode="stretch_width")


def create_view(**params: Any) -> HouseholderView:
    """A fresh view for one browser session (or notebook)."""
    return HouseholderView(**params)
