"""LSTM member: two stacked LSTM layers over each ticker's last `sequence_length` feature rows.

PyTorch is an optional extra (`lstm`): this module imports without it, and the registry leaves the member out
when `TORCH_AVAILABLE` is false.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from backend.core.settings import get_settings
from backend.ml.members.base import N_CLASSES, Member

try:
    import torch
    from torch import nn

    TORCH_AVAILABLE = True
except ImportError:  # the optional extra is not installed: the ensemble runs on its tree members
    TORCH_AVAILABLE = False

LEARNING_RATE = 1e-3
DROPOUT = 0.2
GRAD_CLIP_NORM = 1.0  # LSTMs on unscaled outliers can blow up; clipping keeps early epochs stable
PREDICT_BATCH = 4096


def sequence_positions(index: pd.Index, length: int) -> np.ndarray:
    """For each row, the positions of its ticker's last `length` rows up to and including it.

    Positions before the ticker's first row are `len(index)`, which callers map to a zero (padding) row.
    The index must be sorted by (ticker, trade_date) without duplicates, as the feature contract says.
    """
    if not index.is_monotonic_increasing or not index.is_unique:
        raise ValueError("features must be sorted by (ticker, trade_date) with one row per pair")
    n = len(index)
    tickers = index.get_level_values(0).to_numpy()
    positions = np.arange(n, dtype=np.int64)
    starts_group = np.ones(n, dtype=bool)
    starts_group[1:] = tickers[1:] != tickers[:-1]
    group_start = np.maximum.accumulate(np.where(starts_group, positions, 0))
    window = positions[:, None] + np.arange(-(length - 1), 1, dtype=np.int64)[None, :]
    window[window < group_start[:, None]] = n
    return window.astype(np.int32 if n < 2**31 - 1 else np.int64)


if TORCH_AVAILABLE:

    class _Network(nn.Module):
        """LSTM(hidden[0]) -> LSTM(hidden[1]) -> last step -> dense logits over SELL/HOLD/BUY."""

        def __init__(self, n_features: int, hidden: tuple[int, int]) -> None:
            super().__init__()
            self.lstm1 = nn.LSTM(n_features, hidden[0], batch_first=True)
            self.lstm2 = nn.LSTM(hidden[0], hidden[1], batch_first=True)
            self.dropout = nn.Dropout(DROPOUT)
            self.head = nn.Linear(hidden[1], N_CLASSES)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.lstm1(x)
            out, _ = self.lstm2(out)
            return self.head(self.dropout(out[:, -1, :]))


def _require_torch() -> None:
    if not TORCH_AVAILABLE:
        raise RuntimeError("the LSTM member needs PyTorch: install the `lstm` extra (uv sync --extra lstm)")


class LSTMMember(Member):
    """Sequences of standardised features; train-set mean/std travel with the artifact."""

    name = "lstm"
    uses_history = True

    def __init__(self) -> None:
        super().__init__()
        _require_torch()
        self.network: _Network | None = None
        self.mean = np.zeros(0)
        self.std = np.ones(0)
        self.sequence_length = 0
        self.hidden: tuple[int, int] = (0, 0)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def _fit(self, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray) -> None:
        ml = get_settings().ml
        self.sequence_length = get_settings().features.sequence_length
        self.hidden = (int(ml.lstm_hidden[0]), int(ml.lstm_hidden[1]))
        values = X.to_numpy(dtype=np.float64)
        self.mean = values.mean(axis=0)
        std = values.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)  # a constant column carries no information; avoid 0/0
        padded = self._standardised(X)
        windows = sequence_positions(X.index, self.sequence_length)

        # Sequences keep their full history even when their neighbours are not sampled.
        rng = np.random.default_rng(ml.seed)
        rows = np.arange(len(X))
        if len(rows) > ml.lstm_max_train_samples:
            rows = np.sort(rng.choice(len(X), size=ml.lstm_max_train_samples, replace=False))

        torch.manual_seed(ml.seed)
        generator = torch.Generator().manual_seed(ml.seed)
        network = _Network(len(self.feature_columns), self.hidden).to(self.device)
        optimiser = torch.optim.Adam(network.parameters(), lr=LEARNING_RATE)
        loss_fn = nn.CrossEntropyLoss(reduction="none")
        labels = torch.from_numpy(y[rows])
        weights = torch.from_numpy(sample_weight[rows].astype(np.float32))
        network.train()
        for _ in range(ml.lstm_epochs):
            order = torch.randperm(len(rows), generator=generator)
            for start in range(0, len(rows), ml.lstm_batch_size):
                batch = order[start : start + ml.lstm_batch_size]
                inputs = torch.from_numpy(padded[windows[rows[batch.numpy()]]]).to(self.device)
                batch_weights = weights[batch].to(self.device)
                # Class-weighted cross-entropy: per-sample weights are the balanced class weights.
                losses = loss_fn(network(inputs), labels[batch].to(self.device))
                loss = (losses * batch_weights).sum() / batch_weights.sum()
                optimiser.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(network.parameters(), GRAD_CLIP_NORM)
                optimiser.step()
        network.eval()
        self.network = network

    def _predict_proba(self, X: pd.DataFrame, rows: np.ndarray | None) -> np.ndarray:
        network = self._network()
        padded = self._standardised(X)
        windows = sequence_positions(X.index, self.sequence_length)
        if rows is not None:
            windows = windows[rows]
        out = np.empty((len(windows), N_CLASSES), dtype=np.float64)
        with torch.no_grad():
            for start in range(0, len(windows), PREDICT_BATCH):
                inputs = torch.from_numpy(padded[windows[start : start + PREDICT_BATCH]]).to(self.device)
                probs = torch.softmax(network(inputs), dim=1)
                out[start : start + PREDICT_BATCH] = probs.double().cpu().numpy()
        return out

    def _save_blobs(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        network = self._network()
        payload = {
            "state_dict": {k: v.detach().cpu() for k, v in network.state_dict().items()},
            "mean": torch.from_numpy(self.mean),
            "std": torch.from_numpy(self.std),
            "hidden": list(self.hidden),
            "sequence_length": self.sequence_length,
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return {"sequence_length": self.sequence_length, "hidden": list(self.hidden)}, {
            "model.pt": buffer.getvalue()
        }

    def _restore(self, meta: dict[str, Any], blobs: dict[str, bytes]) -> None:
        # weights_only: an artifact is data, never code to unpickle.
        payload = torch.load(io.BytesIO(blobs["model.pt"]), map_location="cpu", weights_only=True)
        self.hidden = (int(payload["hidden"][0]), int(payload["hidden"][1]))
        self.sequence_length = int(payload["sequence_length"])
        self.mean = payload["mean"].numpy()
        self.std = payload["std"].numpy()
        network = _Network(len(self.feature_columns), self.hidden)
        network.load_state_dict(payload["state_dict"])
        network.eval()
        self.network = network.to(self.device)

    def _network(self) -> _Network:
        if self.network is None:
            raise ValueError("lstm member is not fitted")
        return self.network

    def _standardised(self, X: pd.DataFrame) -> np.ndarray:
        """Standardised features as float32 with one extra all-zero row (the padding) at the end."""
        padded = np.zeros((len(X) + 1, len(self.feature_columns)), dtype=np.float32)
        padded[:-1] = (X.to_numpy(dtype=np.float64) - self.mean) / self.std
        return padded
