"""The dashboard: an index page and one page per study, in one shared template.

Study pages are registered in :data:`STUDIES`, each with its view class (a
:class:`~widgets.common.StudyView`). Panel builds a fresh view for each browser session; a
view that fails to build gets an error message on its page (the details go to the server
log), never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import panel as pn

from widgets.alignment import AlignmentView
from widgets.common import MAX_UPLOAD_BYTES, StudyView, device_badge, plotly_pane, set_allowed_dirs
from widgets.headlines import headline
from widgets.householder import HouseholderView
from widgets.jobs import BackgroundJob
from widgets.odis import OdisView
from widgets.threephase import ThreePhaseView

__all__ = ["StudyPage", "STUDIES", "build_index", "build_study_page", "routes", "serve", "serving_options", "warm_up",
           "render_once", "quiet_closed_connections"]

log = logging.getLogger("ortholab")

TITLE = "Ortholab"


@dataclass(frozen=True)
class StudyPage:
    route: str  # URL path, and the study's name under lab/ and widgets/
    title: str
    blurb: str  # one paragraph for the index card
    view: type[StudyView]  # built once per browser session


STUDIES: tuple[StudyPage, ...] = (
    StudyPage(
        "householder",
        "Householder latent directions",
        "A generator whose first layer is a low-rank orthogonal projector built from Householder "
        "reflections. Discover its latent directions, traverse them, and score them against the "
        "ground-truth factors, beside SeFa and random directions.",
        HouseholderView,
    ),
    StudyPage(
        "alignment",
        "Representation alignment via orthogonal maps",
        "Fit one orthogonal map between two models' embedding spaces on a few anchors and watch "
        "cross-model retrieval rise from chance; the map fitted on images is applied unchanged to text.",
        AlignmentView,
    ),
    StudyPage(
        "threephase",
        "3PT rotation drift",
        "The Three-Phase Transformer's per-block Givens rotations, trained against a RoPE-only "
        "baseline, and the drift of the rotation angles across depth and training time.",
        ThreePhaseView,
    ),
    StudyPage(
        "odis",
        "ODiS orthogonal data selection",
        "Score documents on many quality dimensions, decorrelate them with PCA, and select the top "
        "of each orthogonal dimension; compare with top-by-average and random selections.",
        OdisView,
    ),
)


def _template(title: str, main: list[Any]) -> pn.template.BootstrapTemplate:
    nav = pn.Column(
        pn.pane.Markdown("### Studies"),
        pn.pane.HTML('<a href="./">Overview</a>', margin=(0, 10)),
        *[pn.pane.HTML(f'<a href="./{s.route}">{s.title}</a>', margin=(0, 10)) for s in STUDIES],
    )
    return pn.template.BootstrapTemplate(
        title=f"{TITLE}: {title}" if title != TITLE else TITLE,
        sidebar=[nav, device_badge()],
        main=main,
        header_background="#3b5b92",
        sidebar_width=260,
    )


def build_index() -> pn.template.BootstrapTemplate:
    """The index page: what the lab is, one card per study."""
    intro = pn.pane.Markdown(
        "## An interactive lab for orthogonality in neural networks\n"
        "Four studies, each a working experiment you can steer: move a control and the "
        "computation behind the figure runs again on this machine's device. Every number comes "
        "from `lab`, the compute package, and can be reproduced from a script or a notebook.",
        sizing_mode="stretch_width",
    )
    cards = []
    for s in STUDIES:
        head = headline(s.route)  # read from the shipped results, once per process
        cards.append(pn.Card(
            pn.Row(
                pn.pane.Markdown(f"{s.blurb}\n\n**Headline.** {head.text}\n\n[Open the {s.title} study](./{s.route})",
                                 sizing_mode="stretch_width"),
                plotly_pane(head.figure, width=380, sizing_mode="fixed", height=head.figure["layout"]["height"]),
                sizing_mode="stretch_width",
            ),
            title=s.title,
            collapsible=False,
            sizing_mode="stretch_width",
        ))
    return _template(TITLE, [intro, pn.FlexBox(*cards, sizing_mode="stretch_width")])


def _study_body(study: StudyPage) -> Any:
    try:
        return study.view()
    except Exception as exc:  # noqa: BLE001 - the page shows a message, the log the traceback
        log.exception("could not build the %s page", study.route)
        return pn.pane.Alert(f"The {study.title} page could not be built: {type(exc).__name__}: {exc}",
                             alert_type="danger")


def build_study_page(route: str) -> pn.template.BootstrapTemplate:
    """The page of one study, built fresh (called once per browser session)."""
    study = {s.route: s for s in STUDIES}.get(route)
    if study is None:
        raise ValueError(f"route: expected one of {[s.route for s in STUDIES]}, got {route!r}")
    return _template(study.title, [_study_body(study)])


def routes() -> dict[str, Callable[[], Any]]:
    """URL path -> page factory; Panel calls each factory once per session."""
    table: dict[str, Callable[[], Any]] = {"/": build_index}
    for s in STUDIES:
        table[f"/{s.route}"] = (lambda r=s.route: build_study_page(r))
    return table


def warm_up() -> BackgroundJob:
    """Start computing, in the background, what every study page's first view shares.

    Returns the job (stopped at exit like every job); its end is logged.
    """
    def work(progress, should_stop):
        for study in STUDIES:
            if should_stop():
                return
            study.view.warm(progress, should_stop)

    job = BackgroundJob("warm-up")
    job.start(work)
    return job


def render_once() -> float:
    """Build and render every page once, then close it; returns the seconds it took.

    Panel and Bokeh do one-time work on their first document (imports, model classes, about
    1.5 s here); done before the server listens, no visitor's request pays for it.
    """
    from bokeh.document import Document

    t0 = time.perf_counter()
    for study in STUDIES:
        page = build_study_page(study.route)
        page.server_doc(Document())
        for view in page.main:
            if isinstance(view, StudyView):
                view.close(timeout=0.0)
    return time.perf_counter() - t0


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serving_options(*, port: int, address: str = "127.0.0.1", allow_websocket_origin: Sequence[str] = (),
                    basic_auth: str | None = None) -> dict[str, Any]:
    """The server's network and access settings, checked before anything listens.

    Note [who may connect]: bound to a loopback address, only this machine can reach the
    server and the websocket accepts pages served from localhost. Bound to any other address,
    the server is reachable by others, and a page on any other site could open a session
    (cross-site websocket hijacking) unless the accepted origins are named: so exposing it
    requires explicit ``allow_websocket_origin`` entries (never ``*``), and offers Panel's
    basic authentication (a password, or a JSON file of user -> password).
    """
    origins = [o.strip() for o in allow_websocket_origin if o.strip()]
    if "*" in origins:
        raise ValueError("allow_websocket_origin: name the hosts that may open sessions (host[:port]); '*' would "
                         "let a page on any site drive this server")
    # An upload travels base64-encoded in one websocket message: 4/3 of the file, plus framing.
    options: dict[str, Any] = {"port": port, "address": address,
                               "websocket_max_message_size": MAX_UPLOAD_BYTES * 4 // 3 + 1024 * 1024}
    if address in LOOPBACK:
        options["websocket_origin"] = [f"localhost:{port}", f"127.0.0.1:{port}", *origins]
    else:
        if not origins:
            raise ValueError(f"address: {address!r} exposes the dashboard to other machines; also pass "
                             "--allow-websocket-origin HOST[:PORT] for each address users will open it at "
                             "(and consider --basic-auth)")
        options["websocket_origin"] = origins
    if basic_auth is not None:
        if not basic_auth.strip():
            raise ValueError("basic_auth: expected a password or a JSON file of user -> password, got an empty string")
        options["basic_auth"] = basic_auth
        options["cookie_secret"] = secrets.token_urlsafe(32)  # signs the login cookie; new at each start
    return options


def serve(port: int = 5006, address: str = "127.0.0.1", show: bool = True, *,
          allow_websocket_origin: Sequence[str] = (), basic_auth: str | None = None,
          data_dirs: Sequence[str] = (), **kwargs: Any) -> None:
    """Serve the dashboard (blocking); see :func:`serving_options` for who may connect.

    ``data_dirs``: the only folders whose files a path typed into a page may name (default:
    the project's data/ and the runs folder's uploads/).
    """
    options = serving_options(port=port, address=address, allow_websocket_origin=allow_websocket_origin,
                              basic_auth=basic_auth)
    if data_dirs:
        set_allowed_dirs(data_dirs)
    if not log.handlers:  # the server log tells when jobs end and sessions close
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    pn.extension("plotly", "tabulator", notifications=True)
    warm_up()
    log.info("pages rendered once in %.1f s", render_once())
    loop = asyncio.new_event_loop()  # the loop tornado (and so Panel) will serve on
    loop.set_exception_handler(quiet_closed_connections)
    asyncio.set_event_loop(loop)
    pn.serve(routes(), show=show, title=TITLE, **options, **kwargs)


def quiet_closed_connections(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The server loop's handler of exceptions nobody awaited: a closed tab's is one log line.

    Note [closed tab] (widgets.jobs): an update pushed in the instant a tab closes, before
    the server has seen it go, fails inside tornado's websocket write, in a task nobody awaits;
    asyncio would log that as a traceback. That is the visitor leaving, not a fault: it is
    logged as one line. Every other exception goes to asyncio's default handler.
    """
    from tornado.iostream import StreamClosedError
    from tornado.websocket import WebSocketClosedError

    if isinstance(context.get("exception"), (WebSocketClosedError, StreamClosedError)):
        log.info("an update for a closed tab was dropped")
        return
    loop.default_exception_handler(context)
