"""The attribute models: logistic regression and an MLP head on embeddings, a compact CNN on pixels.

All models are multi-label: one sigmoid output per chosen attribute. Torch models carry
their input normalisation as buffers, so a state dict alone restores them exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.classify.lockstep import FitSettings, fit_logistic_columns

# Lazy imports: scikit-learn, torch are imported inside the functions that use them, so pages and commands that
# never call them do not pay their import time and memory on a shared server.

MODELS = {
    "logreg": "Logistic regression (per attribute)",
    "mlp": "MLP head (multi-label)",
    "cnn": "Compact CNN from pixels",
}
FEATURES = {"embeddings": "Face embeddings", "pixels": "Pixels"}
MODEL_FEATURES = {"logreg": "embeddings", "mlp": "embeddings", "cnn": "pixels"}
LOSSES = {
    "bce": "Binary cross-entropy",
    "cosine": "Cosine proximity",
    "mse": "Mean squared error (a lesson)",
}


def check_choice(kind: str, value: str, choices: dict) -> str:
    """value if it is one of choices, else a ValueError listing them."""
    if value not in choices:
        raise ValueError(f"Unknown {kind} {value!r}; choose one of: {', '.join(choices)}.")
    return value


@dataclass(frozen=True)
class TrainConfig:
    """What to train; attributes empty means all of the dataset's attributes."""

    model: str = "logreg"  # logreg | mlp | cnn
    attributes: tuple[str, ...] = ()
    epochs: int = 16  # the page's default too (at most: early stopping on validation may end sooner)
    image_size: int = 80  # 80 px: the demo's drawn details (smiles, eyes) survive; see docs/bench/classify.md
    loss: str = "bce"  # bce | cosine | mse
    pos_weight: bool = False
    batch_size: int = 32
    learning_rate: float = 0.0  # 0 = the model's default
    patience: int = 3
    max_minutes: float = 0.0  # 0 = no time limit
    max_train: int = 0  # 0 = all training rows (a cap for quick runs)
    # Flip/rotation/shift/zoom and brightness/saturation for the CNN, on by default: without it the CNN fits the few
    # hundred people of a small training set (who is bald, who wears glasses) before the drawn details, and fails on
    # new people (issue 28).
    augment: bool = True
    seed: int = 0

    @property
    def features(self) -> str:
        return MODEL_FEATURES[self.model]


class LogisticModel:
    """One L2-regularised logistic regression per attribute on standardised features: scikit-learn's
    LogisticRegression (lbfgs) per attribute, fitted in lockstep on float32 features (core.classify.lockstep), so
    that all the fits share each pass over the features (40 attributes on 182,000 CelebA-size embeddings: 14 s, where
    one scikit-learn fit after another in threads took 61 s).
    """

    def __init__(self, C: float = 1.0, balanced: bool = False, max_iter: int = 500):
        self.C = C
        self.balanced = balanced
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, Y: np.ndarray, on_fitted: Callable[[int], None] | None = None) -> LogisticModel:
        """X (N, D) float, Y (N, A) 0/1; an attribute with one class in training predicts its prior.

        on_fitted(done) is called as each attribute's fit ends (progress)."""
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0) + 1e-6
        Z = ((X - self.mean_) / self.scale_).astype(np.float32)
        settings = FitSettings(C=self.C, balanced=self.balanced, max_iter=self.max_iter)
        self.coef_, self.intercept_ = fit_logistic_columns(Z, Y, settings, on_fitted)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, A) float32 probabilities."""
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        return (1 / (1 + np.exp(-(Z @ self.coef_.T + self.intercept_)))).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "scale": self.scale_, "coef": self.coef_, "intercept": self.intercept_}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LogisticModel:
        model = cls()
        model.mean_, model.scale_ = arrays["mean"], arrays["scale"]
        model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
        return model


def build_net(model: str, n_out: int, in_dim: int = 128, image_size: int = 64):
    """A fresh torch module for 'mlp' (input (B, in_dim) float) or 'cnn' (input (B, S, S, 3) uint8)."""
    check_choice("model", model, {"mlp": 1, "cnn": 1})
    return MLPHead(in_dim, n_out) if model == "mlp" else SmallCNN(n_out, image_size)


def _torch():
    import torch

    return torch


def MLPHead(in_dim: int, n_out: int, hidden: int = 256):  # noqa: N802 - a class factory (torch imported lazily)
    """Standardise -> Linear(hidden) -> ReLU -> Dropout -> Linear(n_out) logits."""
    torch = _torch()
    nn = torch.nn

    class _MLPHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.n_out = n_out
            self.register_buffer("mean", torch.zeros(in_dim))
            self.register_buffer("scale", torch.ones(in_dim))
            self.body = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, n_out))

        def forward(self, x):
            return self.body((x - self.mean) / self.scale)

    return _MLPHead()


def SmallCNN(n_out: int, image_size: int = 64, width: int = 16):  # noqa: N802
    """A strided stem, four conv blocks (3x3 conv, group norm, ReLU, 2x2 max-pool; width doubling),
    global average pooling and a linear layer: ~0.2 M parameters, cheap enough for CPU training.

    Group norm (not batch norm) behaves the same in training and evaluation, even on small or
    very uniform batches. Input: (B, S, S, 3) uint8 (channels-last, as cached) or (B, 3, S, S)
    float in [-1, 1]; output (B, n_out) logits.
    """
    torch = _torch()
    nn = torch.nn

    def block(cin: int, cout: int):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.GroupNorm(8, cout),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )

    class _SmallCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.n_out = n_out
            self.stem = nn.Sequential(
                nn.Conv2d(3, width, 5, stride=2, padding=2, bias=False), nn.GroupNorm(8, width), nn.ReLU(inplace=True)
            )
            self.blocks = nn.Sequential(
                block(width, 2 * width),
                block(2 * width, 4 * width),
                block(4 * width, 8 * width),
                block(8 * width, 8 * width),
            )
            self.head = nn.Sequential(
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.1), nn.Linear(8 * width, n_out)
            )

        def forward(self, x):
            if x.dim() == 4 and x.shape[-1] == 3:
                x = to_chw_float(x)
            return self.head(self.blocks(self.stem(x)))

    return _SmallCNN()


def to_chw_float(x):
    """(B, S, S, 3) uint8 -> (B, 3, S, S) float in [-1, 1]."""
    return x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def make_loss(name: str, pos_weight=None):
    """loss(logits (B, A), targets (B, A) float) -> scalar; pos_weight (A,) multiplies positive targets."""
    torch = _torch()
    check_choice("loss", name, LOSSES)

    def weights(y):
        return 1.0 + (pos_weight - 1.0) * y if pos_weight is not None else torch.ones_like(y)

    if name == "bce":
        return torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    if name == "mse":

        def mse(logits, y):
            return (weights(y) * (torch.sigmoid(logits) - y) ** 2).mean()

        return mse

    def cosine(logits, y):
        # Keras' cosine proximity on the probability vector vs the label vector (per image).
        p = torch.sigmoid(logits) * weights(y).sqrt()
        t = y * weights(y).sqrt()
        return -(torch.nn.functional.cosine_similarity(p, t, dim=1, eps=1e-8)).mean()

    return cosine
