"""The ``ortholab`` console script.

    ortholab serve [--port PORT] [--address ADDR] [--allow-websocket-origin HOST[:PORT]] [--basic-auth PW]
                   [--data-dir FOLDER] [--no-show]
    ortholab train <study> [study options...]     headless training, e.g. `ortholab train threephase --help`

Kept light: panel and torch are imported only by the sub-command that needs them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

# The studies with headless training; each one's lab/<study>/cli.py has main(argv) -> int.
TRAINERS = ("householder", "alignment", "threephase", "odis")


def _study_main(study: str) -> Callable[[list[str]], int]:
    """The study's ``main``, imported only when that study is trained (torch is heavy)."""
    if study == "householder":
        from lab.householder.cli import main
    elif study == "alignment":
        from lab.alignment.cli import main
    elif study == "threephase":
        from lab.threephase.cli import main
    elif study == "odis":
        from lab.odis.cli import main
    else:
        raise ValueError(f"study: expected one of {list(TRAINERS)}, got {study!r}")
    return main


def _serve(args: argparse.Namespace) -> int:
    from widgets.app import serve, serving_options
    from widgets.common import set_allowed_dirs

    try:  # refuse an unsafe exposure (or a missing data folder) before binding a socket
        serving_options(port=args.port, address=args.address, allow_websocket_origin=args.allow_websocket_origin,
                        basic_auth=args.basic_auth)
        if args.data_dir:
            set_allowed_dirs(args.data_dir)
    except ValueError as exc:
        print(f"ortholab serve: {exc}", file=sys.stderr)
        return 2
    host = f"[{args.address}]" if ":" in args.address else args.address
    print(f"Serving the Ortholab dashboard at http://{host}:{args.port}/", flush=True)
    serve(port=args.port, address=args.address, show=not args.no_show,
          allow_websocket_origin=args.allow_websocket_origin, basic_auth=args.basic_auth, data_dirs=args.data_dir)
    return 0


def _train(args: argparse.Namespace, rest: list[str]) -> int:
    return int(_study_main(args.study)(rest) or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ortholab",
                                     description="Ortholab: an interactive lab for orthogonality in neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="serve the dashboard")
    p_serve.add_argument("--port", type=int, default=5006, help="port to listen on (default 5006)")
    p_serve.add_argument("--address", default="127.0.0.1",
                         help="address to bind (default 127.0.0.1: this machine only); any other address also "
                              "needs --allow-websocket-origin")
    p_serve.add_argument("--allow-websocket-origin", action="append", default=[], metavar="HOST[:PORT]",
                         help="a host users open the dashboard at (repeatable); required with a non-local --address")
    p_serve.add_argument("--basic-auth", default=None, metavar="PASSWORD_OR_FILE",
                         help="require a login: one password, or a JSON file mapping user names to passwords")
    p_serve.add_argument("--data-dir", action="append", default=[], metavar="FOLDER",
                         help="a folder whose files a path typed into a page may name (repeatable; default: the "
                              "project's data/ and the runs folder's uploads/)")
    p_serve.add_argument("--no-show", action="store_true", help="do not open a browser")
    p_train = sub.add_parser("train", help="train a study's models headless")
    p_train.add_argument("study", choices=sorted(TRAINERS))
    argv = list(sys.argv[1:] if argv is None else argv)
    # `train <study> ...`: everything after the study name belongs to the study's own parser,
    # --help included, so it is split off before argparse sees it.
    if len(argv) >= 2 and argv[0] == "train" and argv[1] in TRAINERS:
        return _train(argparse.Namespace(study=argv[1]), argv[2:])
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _train(args, [])


if __name__ == "__main__":
    raise SystemExit(main())
