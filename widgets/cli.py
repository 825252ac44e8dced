"""The ``ortholab`` console script.

    ortholab serve [--port PORT] [--address ADDR] [--no-show]
    ortholab train <study> [study options...]     headless training, e.g. `ortholab train threephase --help`

Kept light: panel and torch are imported only by the sub-command that needs them.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

# study name -> module with a ``main(argv) -> int`` for headless training
TRAINERS = {
    "alignment": "lab.alignment_train",
    "householder": "lab.householder_train",
    "threephase": "lab.threephase_train",
    "odis": "lab.odis_train",
}


def _serve(args: argparse.Namespace) -> int:
    from widgets.app import serve

    print(f"Serving the Ortholab dashboard at http://{args.address or 'localhost'}:{args.port}/", flush=True)
    serve(port=args.port, address=args.address, show=not args.no_show)
    return 0


def _train(args: argparse.Namespace, rest: list[str]) -> int:
    module_name = TRAINERS[args.study]
    if importlib.util.find_spec(module_name) is None:
        print(f"ortholab train: headless training for {args.study!r} is not available yet", file=sys.stderr)
        return 2
    return int(importlib.import_module(module_name).main(rest) or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ortholab", description="Ortholab: an interactive lab for orthogonality in neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="serve the dashboard")
    p_serve.add_argument("--port", type=int, default=5006, help="port to listen on (default 5006)")
    p_serve.add_argument("--address", default=None, help="address to bind (default: localhost)")
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
