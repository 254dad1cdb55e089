"""The shape of the code (issue 16): imports point down the layers (the import-linter contract in
pyproject.toml), no import cycle between ownnet's modules (imports inside functions included), no file
over 400 lines and no function over 60 in src/, and every public name of today still importable."""

import ast
import subprocess
import sys
import types
from pathlib import Path

import ownnet as on
import ownnet.datasets

SRC = Path(on.__file__).resolve().parent
REPO_ROOT = SRC.parent.parent
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60

PUBLIC = [
    "Adam", "AdamW", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "Callback", "Concat",
    "CosineAnnealingLR", "CrossEntropyLoss", "DataLoader", "DatasetNotFoundError", "DivergenceError",
    "Dropout", "EarlyStopping", "ExponentialLR", "Flatten", "GELU", "GradcheckResult", "History",
    "HuberLoss", "Identity", "L1Loss", "LOSSES", "LRScheduler", "LambdaCallback", "LeakyReLU", "Linear",
    "Loss", "MODULES", "MSELoss", "ModelCheckpoint", "ModelFormatError", "Module", "Optimizer",
    "Parameter", "RMSProp", "RMSprop", "RandomShift", "ReLU", "ReduceLROnPlateau", "Residual", "SGD",
    "Sequential", "Sigmoid", "Softmax", "Standardizer", "StepLR", "Tanh", "accuracy", "clip_grad_norm",
    "confusion_matrix", "evaluate", "export_onnx", "fit", "from_torch", "get_backend",
    "get_default_dtype", "gpu_available", "gradcheck", "load", "manual_seed", "mean_absolute_error",
    "mean_squared_error", "mlp", "one_hot", "precision_recall_per_class", "predict", "predict_classes",
    "predict_proba", "r2_score", "save", "set_check_finite", "set_default_dtype", "to_device",
    "to_numpy", "to_torch", "train_test_split", "use_backend", "zero_one_loss",
    # the modules that `import ownnet as on` names
    "backend", "datasets", "distributed", "metrics", "nn", "optim", "data", "train", "io"
]
DATASETS_PUBLIC = [
    "DatasetNotFoundError", "IDXFormatError", "load_breast_cancer", "load_diabetes", "load_digits",
    "load_fashion_mnist", "load_idx_dataset", "load_iris", "load_mnist", "load_wine", "make_blobs",
    "make_circles", "make_heteroscedastic", "make_linearly_separable", "make_moons", "make_regression",
    "make_sine", "make_spirals", "make_xor", "mnist_cache_dir", "read_idx", "verify_mnist", "write_idx"
]


def test_every_public_name_of_before_the_reorganisation_still_imports():
    missing = [name for name in PUBLIC if not hasattr(on, name)]
    assert not missing, f"ownnet lost these public names: {missing}"
    missing = [name for name in DATASETS_PUBLIC if not hasattr(ownnet.datasets, name)]
    assert not missing, f"ownnet.datasets lost these public names: {missing}"
    from ownnet.datasets import load_mnist

    assert load_mnist is ownnet.data.datasets.load_mnist


def test_the_layers_contract_holds():
    """``lint-imports`` with the contract of pyproject.toml: apps on top, backend at the bottom."""
    command = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    done = subprocess.run([sys.executable, "-c", command, str(REPO_ROOT / "pyproject.toml"), "--no-cache"],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def _own_imports(path, module, modules):
    """The ownnet modules that ``module`` (at ``path``) imports anywhere in its file, as grimp counts
    them: ``from ownnet.nn import init`` imports the module ``ownnet.nn.init``, ``from ownnet.nn import
    Linear`` the package ``ownnet.nn``."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {name for name in found if name in modules and name != module}


def _modules():
    modules = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _strongly_connected(graph):
    """Tarjan's algorithm: the components of more than one module are the import cycles."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.add(other)
                if other == node:
                    break
            components.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return [sorted(c) for c in components if len(c) > 1]


def test_no_import_cycle_between_ownnets_modules():
    """Every import counts, those inside functions too (a cycle hidden in a function is still a cycle)."""
    modules = _modules()
    graph = {name: _own_imports(path, name, modules) for name, path in modules.items()}
    assert not _strongly_connected(graph)


def test_no_file_or_function_is_too_long():
    too_long = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        lines = text.count("\n") + (not text.endswith("\n"))
        if lines > MAX_FILE_LINES:
            too_long.append(f"{path.relative_to(SRC.parent)}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    where = f"{path.relative_to(SRC.parent)}:{node.lineno}"
                    too_long.append(f"{where} {node.name}: {length} lines")
    assert not too_long, f"over {MAX_FILE_LINES} lines a file or {MAX_FUNCTION_LINES} a function: {too_long}"


def test_the_public_modules_are_packages_of_the_layout():
    for name in ("nn", "optim", "data", "train", "backend", "distributed", "io", "apps"):
        module = getattr(on, name, None) or __import__(f"ownnet.{name}", fromlist=["_"])
        assert isinstance(module, types.ModuleType) and hasattr(module, "__path__"), name
