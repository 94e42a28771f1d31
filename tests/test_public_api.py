"""Every name of the public API imports from the path the API documents (the folders behind
the faces may move; these paths may not)."""

from __future__ import annotations

import importlib

import pytest

API = {
    "tinygrad_lc": ["Tensor", "AnomalyError", "grad", "no_grad", "enable_grad", "scope",
                    "detect_anomaly", "maximum", "exp", "log", "concatenate", "stack",
                    "compile", "CompileError"],
    "tinygrad_lc.losses": ["svm_loss", "softmax_loss"],
    "tinygrad_lc.regularizers": ["l2", "l1", "elastic_net", "max_norm_"],
    "tinygrad_lc.optim": ["SGD", "Adam", "RMSprop", "Adagrad"],
    "tinygrad_lc.models": ["LinearClassifier", "MLPClassifier", "random_search"],
    "tinygrad_lc.nn": ["Module", "Linear", "ReLU", "Sequential", "MLP"],
    "tinygrad_lc.autodiff": ["grad", "hvp", "jacobian", "hessian"],
    "tinygrad_lc.sweep": ["LogUniform", "Uniform", "Choice", "sample", "grid", "run_sweep",
                          "SweepResult"],
    "tinygrad_lc.gradcheck": ["numerical_gradient", "gradcheck", "gradgradcheck",
                              "GradcheckError", "grad_check_sparse", "rel_error"],
    "tinygrad_lc.testing": ["tensors", "score_matrices", "labels", "assert_grads_match"],
    "tinygrad_lc.viz": ["draw_graph", "render"],
    "tinygrad_lc.data": ["load_cifar10", "load_digits", "train_val_split", "preprocess"],
    "tinygrad_lc.cli": ["main"],
    "tinygrad_lc.cs231n": ["svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive",
                           "softmax_loss_vectorized", "LinearSVM", "Softmax",
                           "eval_numerical_gradient", "eval_numerical_gradient_array",
                           "grad_check_sparse"],
}


@pytest.mark.parametrize("module", sorted(API))
def test_every_documented_name_imports_from_its_documented_path(module):
    found = importlib.import_module(module)
    missing = [name for name in API[module] if not hasattr(found, name)]
    assert not missing, f"{module} lacks {missing}"


def test_the_public_modules_are_attributes_of_the_package():
    import tinygrad_lc as tg

    for name in ("losses", "regularizers", "optim", "models", "nn", "autodiff", "gradcheck",
                 "viz", "data", "cs231n"):
        assert getattr(tg, name).__name__ == f"tinygrad_lc.{name}"
    assert callable(tg.compile) and tg.compile.__module__ == "tinygrad_lc.compile.compiled"
