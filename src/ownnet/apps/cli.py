"""The ``ownnet`` command: train, evaluate, predict, lab.

Bad options or values give a one-line error and exit code 2, never a traceback.
"""

import argparse
import os
import sys
import warnings

import numpy as np

from ownnet import metrics, plot
from ownnet.apps import arguments, recipes, resume
from ownnet.apps.bench import main as bench_main
from ownnet.apps.images import load_digit_image
from ownnet.apps.lab import run_lab
from ownnet.apps.model_checks import check_image_classifier
from ownnet.apps.serve import DashboardCallback, check_allow_hosts, serve_main
from ownnet.apps.user_modules import import_user_module
from ownnet.files import check_writable_folder
from ownnet.io import ModelFormatError, load
from ownnet.io.onnx import export_file
from ownnet.nn.mlp import activation_class
from ownnet.train import predict, predict_proba
from ownnet.train.checkpoint import CheckpointMismatchError
from ownnet.train.divergence import DivergenceError


class UsageError(Exception):
    """A user-facing problem with the command line or its files (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def build_parser():
    """The ``ownnet`` command line: one sub-command per task (``ownnet COMMAND --help`` for each)."""
    parser = _Parser(prog="ownnet", description="ownnet: neural networks from scratch on NumPy.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(commands)
    _add_evaluate(commands)
    _add_predict(commands)
    _add_serve(commands)
    _add_lab(commands)
    _add_export(commands)
    # Parsed by ownnet.apps.bench itself (main() hands it the rest of the command line).
    commands.add_parser("bench", add_help=False,
                        help="speed against PyTorch, scikit-learn and bare NumPy (see ownnet bench --help)")
    return parser


def _add_train(commands):
    parser = commands.add_parser("train", help="train an MLP (default: MNIST to >= 98%% in seconds)")
    parser.add_argument("--recipe", choices=sorted(recipes.RECIPES),
                        help="a preset: 'default' (fast, >= 98%%; the default) or 'best' (the best plain "
                             "MLP, slower)")
    parser.add_argument("--dataset", choices=recipes.DATASETS, help="default: mnist")
    parser.add_argument("--hidden", type=arguments.hidden_sizes,
                        help="hidden layer sizes, e.g. 512,256 ('' = none)")
    parser.add_argument("--activation", help="relu, leakyrelu, tanh, sigmoid, gelu, identity")
    parser.add_argument("--dropout", type=arguments.fraction,
                        help="dropout probability after each hidden layer, in [0, 1)")
    parser.add_argument("--optimizer", choices=recipes.OPTIMIZERS)
    parser.add_argument("--lr", type=arguments.positive_float, help="learning rate")
    parser.add_argument("--momentum", type=arguments.fraction, help="in [0, 1)")
    parser.add_argument("--weight-decay", type=arguments.non_negative_float)
    parser.add_argument("--batch-size", type=arguments.positive_int)
    parser.add_argument("--epochs", type=arguments.positive_int)
    parser.add_argument("--schedule", choices=recipes.SCHEDULES)
    parser.add_argument("--seed", type=arguments.seed)
    parser.add_argument("--dtype", choices=("float32", "float64"))
    parser.add_argument("--device", choices=("cpu", "gpu"),
                        help="where to train (gpu: CuPy and an NVIDIA GPU, pip install 'ownnet[gpu]')")
    parser.add_argument("--limit", type=arguments.positive_int, help="train on the first N samples only")
    parser.add_argument("--out", help="folder for metrics.json, model.safetensors, curves.png, checkpoint")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run whose checkpoint is in --out: the flags left out are the "
                             "checkpoint's, a flag that differs is refused; --epochs may grow with "
                             "--schedule none, exponential or plateau (not step or cosine, which are "
                             "fitted to the number of epochs)")
    parser.add_argument("--quiet", action="store_true", help="only the final line")
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel on MPI: mpiexec -n 4 ownnet train --distributed "
                             "(--batch-size is per rank; needs ownnet[mpi])")
    parser.add_argument("--dashboard", action="store_true",
                        help="watch the training live in the browser at http://HOST:PORT/dashboard")
    parser.add_argument("--port", type=arguments.port, default=8000,
                        help="port of --dashboard (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="address of --dashboard (default 127.0.0.1)")
    _add_allow_host_option(parser)


def _add_evaluate(commands):
    parser = commands.add_parser("evaluate", help="accuracy, per-class precision/recall, confusion matrix")
    parser.add_argument("model", help="a model file written by ownnet train / on.save")
    parser.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default="mnist")
    parser.add_argument("--out", help="folder for confusion.png and misclassified.png")
    _add_import_option(parser)


def _add_predict(commands):
    parser = commands.add_parser(
        "predict", help="classify PNG/JPEG images of digits",
        description="Classify images of digits. Any mode Pillow reads, up to 25 megapixels: transparent "
                    "images are composited on white (a drawing only in the alpha channel uses the alpha "
                    "as ink), float images in 0..1 (or 0..255) and 16-bit images are scaled, and a blank "
                    "image is refused as 'empty (no ink)'.")
    parser.add_argument("model")
    parser.add_argument("images", nargs="+")
    _add_import_option(parser)


def _add_import_option(parser):
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import MODULE (a module name or a .py file) first: the module that defines "
                             "the model's custom layers (repeatable; runs its code, so only trusted ones)")


def _add_serve(commands):
    parser = commands.add_parser("serve", help="a local web page: draw a digit, watch the model classify it")
    parser.add_argument("model", help="a model file written by ownnet train / on.save (784 inputs)")
    parser.add_argument("--port", type=arguments.port, default=8000, help="default 8000")
    _add_import_option(parser)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this computer only; 0.0.0.0: "
                             "every address, shared on your network without authentication)")
    _add_allow_host_option(parser)


def _add_allow_host_option(parser):
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="another name the server answers to besides localhost, this machine's name "
                             "and the address a request reached (repeatable; '*': any, checks off)")


def _allow_hosts(args):
    try:
        return check_allow_hosts(args.allow_host, name="--allow-host")
    except ValueError as error:
        raise UsageError(f"ownnet {args.command}: {error}") from None


def _add_lab(commands):
    parser = commands.add_parser("lab", help="the lab's study of 1-, 2- and 3-layer perceptrons, as a report")
    parser.add_argument("--quick", action="store_true", help="8000 images, 4 epochs, 64 units, 2 seeds")
    parser.add_argument("--out", default="lab-report", help="folder for report.md and its figures")
    parser.add_argument("--seed", type=arguments.seed, default=0, help="the first seed (then +1, ...)")
    parser.add_argument("--seeds", type=arguments.positive_int, help="seeds per network (default 3, quick 2)")
    parser.add_argument("--hidden", type=arguments.positive_int, help="units per hidden layer")
    parser.add_argument("--lr", type=arguments.positive_float, help="SGD learning rate (default 0.1)")
    parser.add_argument("--epochs", type=arguments.positive_int, help="epochs (default 30, quick 4)")
    parser.add_argument("--activations", type=_lab_activations,
                        help="from tanh,sigmoid,relu,leaky_relu,gelu (default tanh,sigmoid,relu)")


def _lab_activations(text):
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    known = ("tanh", "sigmoid", "relu", "leaky_relu", "gelu")
    unknown = [name for name in names if name not in known]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected names from {','.join(known)}, got {text!r}")
    return names


def _add_export(commands):
    parser = commands.add_parser("export", help="write a model file as ONNX (runs in ONNX Runtime)")
    parser.add_argument("model", help="a model file written by ownnet train / on.save")
    parser.add_argument("--onnx", required=True, metavar="OUT", help="the .onnx file to write")
    parser.add_argument("--input-shape", help="one sample's shape without the batch, e.g. 784 or 1,28,28 "
                                              "(default: the first layer's input size)")
    parser.add_argument("--opset", type=arguments.positive_int, help="ONNX opset version (default 17)")
    _add_import_option(parser)


def _train_config(args):
    """The run's config: the recipe's with the flags given; with ``--resume``, the checkpoint's with
    the flags given, which must not differ from it (``ownnet.apps.resume``)."""
    flags = {"dataset": args.dataset, "hidden": args.hidden, "activation": args.activation,
             "dropout": args.dropout, "optimizer": args.optimizer, "lr": args.lr,
             "momentum": args.momentum, "weight_decay": args.weight_decay,
             "batch_size": args.batch_size, "epochs": args.epochs, "schedule": args.schedule,
             "seed": args.seed, "dtype": args.dtype, "device": args.device, "limit": args.limit}
    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"ownnet train: --out {args.out} is a file; expected a folder "
                         "(created if missing)")
    if not args.resume:
        return recipes.config_for(args.recipe or "default", **flags)
    if not args.out:
        raise UsageError("ownnet train: --resume needs --out (the folder that holds the checkpoint)")
    try:
        return resume.resumed_config(args.out, args.recipe, flags)
    except (resume.ResumeError, ModelFormatError) as error:
        raise UsageError(f"ownnet train --resume: {error}") from None


def _cmd_train(args):
    config = _train_config(args)
    try:
        activation_class(config["activation"])
    except ValueError as error:
        raise UsageError(f"ownnet train: --{error}") from None
    data, callbacks, dashboard = None, [], None
    if args.dashboard:
        if args.distributed:
            raise UsageError("ownnet train: --dashboard and --distributed do not go together")
        data = recipes.load_dataset(config["dataset"], config["dtype"], config["seed"])
        try:
            dashboard = DashboardCallback(port=args.port, host=args.host, epochs=config["epochs"],
                                          probe_data=data[1], allow_hosts=_allow_hosts(args))
        except OSError as error:
            raise UsageError(f"ownnet train: --dashboard cannot listen on {args.host}:{args.port} "
                             f"({error.strerror or error}); try another --port") from None
        print(f"dashboard: {dashboard.url}dashboard", flush=True)
        callbacks.append(dashboard)
    try:
        if args.distributed:
            _, _, result = recipes.train_distributed(config, out=args.out, resume=args.resume,
                                                     verbose=not args.quiet)
            if result is None:  # not rank 0: rank 0 reports
                return 0
        else:
            _, _, result = recipes.train_from_config(config, out=args.out, resume=args.resume,
                                                     verbose=not args.quiet, callbacks=callbacks, data=data)
    except (ModelFormatError, CheckpointMismatchError) as error:
        raise UsageError(f"ownnet train --resume: the checkpoint in {args.out} does not fit ({error})") \
            from None
    if not args.quiet:
        print(f"wall time {result['wall_seconds']:.1f} s, {result['epochs_run']} epochs")
    print(f"test_accuracy={result['test_accuracy']:.4f}")
    if dashboard is not None:
        print(f"the dashboard stays up at {dashboard.url}dashboard until Ctrl+C", flush=True)
        dashboard.wait()
    return 0


def _load_model(path, imports=()):
    for name in imports:
        try:
            import_user_module(name)
        except ValueError as error:
            raise UsageError(str(error)) from None
    try:
        return load(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such model file") from None
    except (ModelFormatError, IsADirectoryError) as error:
        raise UsageError(f"{path}: not an ownnet model file ({error})") from None


def _make_output_folder(folder, command):
    """Create ``--out`` before the work starts, so that a folder that cannot be written is found at once."""
    try:
        check_writable_folder(folder)
    except OSError as error:
        raise UsageError(f"ownnet {command}: cannot write into --out {folder} ({error.strerror or error})") \
            from None


def _load_image_classifier(args, command):
    model = _load_model(args.model, args.imports)
    try:
        check_image_classifier(model, args.model, command)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return model


def _cmd_evaluate(args):
    if args.out:
        _make_output_folder(args.out, "evaluate")
    model = _load_image_classifier(args, "evaluate")
    _, (x_test, y_test) = recipes.load_dataset(args.dataset, model.dtype)
    logits = predict(model, x_test)
    labels = logits.argmax(axis=1)
    n_classes = logits.shape[1]
    print(f"accuracy {metrics.accuracy(y_test, labels):.4f} on {len(y_test)} test samples")
    precision, recall = metrics.precision_recall_per_class(y_test, labels, n_classes=n_classes)
    print("class  precision  recall")
    for k in range(n_classes):
        print(f"{k:>5}  {precision[k]:9.4f}  {recall[k]:6.4f}")
    matrix = metrics.confusion_matrix(y_test, labels, n_classes=n_classes)
    print("confusion matrix (rows: true class, columns: predicted)")
    for row in matrix:
        print(" ".join(f"{v:5d}" for v in row))
    if args.out:
        confusion_png = os.path.join(args.out, "confusion.png")
        plot.confusion_matrix(matrix, path=confusion_png)
        # The worst mistakes: wrong predictions with the lowest logit margin for the true class.
        wrong = (labels != y_test).nonzero()[0]
        margin = logits[wrong, labels[wrong]] - logits[wrong, y_test[wrong]]
        worst = wrong[margin.argsort()[::-1][:25]]
        misclassified_png = os.path.join(args.out, "misclassified.png")
        plot.image_grid(x_test[worst], titles=[f"{t} as {p}" for t, p in zip(y_test[worst], labels[worst])],
                        path=misclassified_png)
        print(f"wrote {confusion_png} and {misclassified_png}")
    return 0


def _cmd_predict(args):
    model = _load_image_classifier(args, "predict")
    for path in args.images:
        try:
            x = load_digit_image(path).astype(model.dtype)
        except (OSError, ValueError) as error:
            raise UsageError(f"{path}: cannot read this image ({error})") from None
        probabilities = predict_proba(model, x.reshape(1, -1))[0]
        top = probabilities.argsort()[::-1][:3]
        best = ", ".join(f"{k}: {probabilities[k]:.3f}" for k in top)
        print(f"{path}: {top[0]}  ({best})")
    return 0


def _cmd_serve(args):
    allow_hosts = _allow_hosts(args)
    model = _load_model(args.model, args.imports)
    try:
        return serve_main(model, port=args.port, host=args.host, allow_hosts=allow_hosts)
    except ValueError as error:  # not a model on 28x28 inputs
        raise UsageError(f"{args.model}: {error}") from None
    except OSError as error:
        raise UsageError(f"ownnet serve: cannot listen on {args.host}:{args.port} "
                         f"({error.strerror or error}); try another --port") from None


def _cmd_lab(args):
    _make_output_folder(args.out, "lab")
    report = run_lab(args.out, quick=args.quick, seed=args.seed, seeds=args.seeds, hidden=args.hidden,
                     lr=args.lr, epochs=args.epochs, activations=args.activations)
    print(f"report written to {report}")
    return 0


def _cmd_export(args):
    if os.path.isdir(args.onnx):
        raise UsageError(f"ownnet export: --onnx {args.onnx} is a folder; expected a file name such as "
                         f"{os.path.join(args.onnx, 'model.onnx')}")
    model = _load_model(args.model, args.imports)
    try:
        print(export_file(model, args.onnx, input_shape=args.input_shape, opset=args.opset))
    except ValueError as error:
        raise UsageError(f"ownnet export: {error}") from None
    return 0


def _one_line_warning(message, category, filename, lineno, line=None):
    return f"warning: {' '.join(str(message).split())}\n"


def main(argv=None):
    """Run ``ownnet ARGV``; returns the exit code (0, 2 for a user's error, 130 for Ctrl+C)."""
    previous = warnings.formatwarning
    warnings.formatwarning = _one_line_warning  # the command prints sentences, not source locations
    try:
        return _run(sys.argv[1:] if argv is None else list(argv))
    finally:
        warnings.formatwarning = previous


def _run(argv):
    if argv[:1] == ["bench"]:
        return bench_main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler = {"train": _cmd_train, "evaluate": _cmd_evaluate, "predict": _cmd_predict,
                   "serve": _cmd_serve, "lab": _cmd_lab, "export": _cmd_export}[args.command]
        if args.command == "train":  # a NaN is reported as a divergence, not as NumPy's warnings
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                return handler(args)
        return handler(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (OSError, ImportError, DivergenceError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except MemoryError as error:  # e.g. --hidden 99999999999
        print(f"error: not enough memory ({error}); check the sizes given (--hidden, --batch-size, ...)",
              file=sys.stderr)
        return 2
    except ValueError as error:  # a user-caused problem found below the command line (its message says which)
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
