"""`lumos-hf demo`: a Gradio web demo of the shapes demo model or of a given pipeline folder."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="start a Gradio web demo (needs the [demo] extra)", description=__doc__
    )
    parser.add_argument("--model", help="LumosPipeline folder or Hub id (default: the shipped shapes demo model)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument("--trust-remote-code", action="store_true", help="for folders written with remote code")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise SystemExit(f"demo: --port must be in [1, 65535], got {args.port}")
    from ..demo import model_path
    from ..pipeline_lumos import LumosPipeline
    from ..web_demo import build_demo

    model = args.model if args.model is not None else model_path()
    pipe = LumosPipeline.from_pretrained(model, trust_remote_code=args.trust_remote_code)
    build_demo(pipe).launch(server_name=args.host, server_port=args.port)
    return 0
