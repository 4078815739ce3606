"""`eventclf`: one command line for the whole pipeline. The Makefile targets are thin wrappers over it."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import fields
from pathlib import Path

REQUIRE_INT8_HELP = ("fail the export when int8 does not pass its agreement gate (default: publish, and "
                     "recommend fp32 in the bundle)")


def _add_dataclass_flags(parser: argparse.ArgumentParser, cls) -> None:
    """One --flag per field of a config dataclass, so defaults live only in the dataclass."""
    for f in fields(cls):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        if f.type == "bool":
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=f.default,
                                help=help_text)
        else:
            kind = {"int": int, "float": float}.get(f.type, str)
            parser.add_argument(flag, dest=f.name, type=kind, default=f.default, help=f"{help_text} (default: %(default)s)")


def _train_config(args):
    from training.config import TrainConfig

    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig)}
    for name in ("data_dir", "models_dir", "acled"):
        if values[name] is not None:
            values[name] = Path(values[name])
    return TrainConfig(**values)


def cmd_base_prepare(args) -> None:
    from training.base_model import resolve_base_model

    print(resolve_base_model(args.base_model, args.models_dir))


def cmd_train(args) -> None:
    from training.export import export
    from training.train import train

    config = _train_config(args)
    out = train(config)
    if args.export:
        print(export(out, config.data_dir, require_int8=args.require_int8))
    else:
        print(out)


def cmd_export(args) -> None:
    from training.export import export

    print(export(Path(args.models_dir) / args.name, args.data_dir, require_int8=args.require_int8))


def cmd_ensure(args) -> None:
    """Build the default model only when no valid bundle exists (what `make serve` calls)."""
    from serving.bundle import BundleError, read_bundle

    bundle = Path(args.models_dir) / args.name / "bundle"
    try:
        read_bundle(bundle)
        print(f"reusing {bundle}")
        return
    except BundleError as err:
        print(f"building the model: {err}")
    args.export = True
    cmd_train(args)


def cmd_data_stats(args) -> None:
    from training.data_report import print_report

    print_report(Path(args.data_dir), args.dev_percent)


def cmd_serve(args) -> None:
    from serving.bundle import BundleError
    from serving.config import ConfigError, ServingConfig
    from serving.engine import Engine

    try:
        config = ServingConfig.from_env()
        # Load both graphs once here: a broken bundle then fails with one clear line and a non-zero exit,
        # instead of in a BentoML worker that is restarted forever.
        for precision in ("fp32", "int8"):
            Engine(config.bundle, precision=precision, threads=1)
    except (BundleError, ConfigError) as err:
        sys.exit(f"eventclf: cannot serve: {err}")
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    host = args.host or config.host
    port = str(args.port or config.port)
    command = [sys.executable, "-m", "bentoml", "serve", "serving.service:EventClassifier",
               "--host", host, "--port", port]
    os.execv(sys.executable, command)


def cmd_evaluate(args) -> None:
    from training.train import reevaluate

    headline = reevaluate(Path(args.models_dir) / args.name)["headline"]
    print(", ".join(f"{k} {v}" for k, v in headline.items()))


def cmd_experiments(args) -> None:
    from training.experiments import run, table

    if args.experiments_command == "run":
        run(_train_config(args), only=args.only or None, group=args.group)
    print(table(Path(args.models_dir), group=args.group))


def cmd_config(args) -> None:
    from serving.config import describe

    for name, default, doc in describe():
        print(f"{name:32} {default:24} {doc}")


def build_parser() -> argparse.ArgumentParser:
    from training.config import TrainConfig
    from training.experiments import DEFAULT_GROUP

    parser = argparse.ArgumentParser(prog="eventclf", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    base = sub.add_parser("base", help="base model commands").add_subparsers(dest="base_command", required=True)
    prepare = base.add_parser("prepare", help="convert the bundled base model (or resolve --base-model)")
    prepare.add_argument("--base-model", default=TrainConfig.base_model)
    prepare.add_argument("--models-dir", default=str(TrainConfig.models_dir))
    prepare.set_defaults(func=cmd_base_prepare)

    for name, func, help_text in (("train", cmd_train, "fine-tune and (by default) export"),
                                  ("ensure", cmd_ensure, "train and export the model unless a valid bundle exists")):
        p = sub.add_parser(name, help=help_text)
        _add_dataclass_flags(p, TrainConfig)
        p.add_argument("--export", action=argparse.BooleanOptionalAction, default=True,
                       help="export the ONNX bundle after training")
        p.add_argument("--require-int8", action="store_true", help=REQUIRE_INT8_HELP)
        p.set_defaults(func=func)

    exp = sub.add_parser("export", help="export models/<name>/checkpoint to models/<name>/bundle")
    exp.add_argument("--name", default=TrainConfig.name)
    exp.add_argument("--models-dir", default=str(TrainConfig.models_dir))
    exp.add_argument("--data-dir", default=str(TrainConfig.data_dir))
    exp.add_argument("--require-int8", action="store_true", help=REQUIRE_INT8_HELP)
    exp.set_defaults(func=cmd_export)

    data = sub.add_parser("data", help="dataset commands").add_subparsers(dest="data_command", required=True)
    stats = data.add_parser("stats", help="counts per label and language, duplicates, dev/train overlap")
    stats.add_argument("--data-dir", default=str(TrainConfig.data_dir))
    stats.add_argument("--dev-percent", type=int, default=TrainConfig.dev_percent)
    stats.set_defaults(func=cmd_data_stats)

    serve = sub.add_parser("serve", help="serve the bundle with BentoML (settings: EVENTCLF_* variables)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(func=cmd_serve)

    evaluate = sub.add_parser("evaluate", help="recompute a trained model's dev metrics and model card")
    evaluate.add_argument("--name", default=TrainConfig.name)
    evaluate.add_argument("--models-dir", default=str(TrainConfig.models_dir))
    evaluate.set_defaults(func=cmd_evaluate)

    experiments = sub.add_parser("experiments", help="recipe ablations (see training/experiments.py)")
    experiments_sub = experiments.add_subparsers(dest="experiments_command", required=True)
    run_parser = experiments_sub.add_parser("run", help="train every variant against the same base recipe")
    _add_dataclass_flags(run_parser, TrainConfig)
    run_parser.add_argument("--only", nargs="*", help="variant names to run (default all)")
    run_parser.add_argument("--group", default=DEFAULT_GROUP, help="run-name prefix: one per protocol (default: %(default)s)")
    run_parser.set_defaults(func=cmd_experiments)
    table_parser = experiments_sub.add_parser("table", help="markdown table of the runs in --models-dir")
    table_parser.add_argument("--models-dir", default=str(TrainConfig.models_dir))
    table_parser.add_argument("--group", default=DEFAULT_GROUP, help="which protocol's runs (default: %(default)s)")
    table_parser.set_defaults(func=cmd_experiments)

    conf = sub.add_parser("config", help="list the EVENTCLF_* serving settings and their defaults")
    conf.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.func(args)


if __name__ == "__main__":
    main()
