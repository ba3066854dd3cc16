"""Ensemble members behind one interface, collected in a registry keyed by member name."""

from __future__ import annotations

from backend.ml.members.base import FeatureSetMismatch, Member
from backend.ml.members.lgbm import LightGBMMember
from backend.ml.members.lstm import TORCH_AVAILABLE, LSTMMember
from backend.ml.members.xgb import XGBoostMember

MEMBERS: dict[str, type[Member]] = {
    LSTMMember.name: LSTMMember,
    XGBoostMember.name: XGBoostMember,
    LightGBMMember.name: LightGBMMember,
}


def available_members() -> list[str]:
    """Member names this installation can train and load: the LSTM only when PyTorch is importable."""
    return [name for name in MEMBERS if name != LSTMMember.name or TORCH_AVAILABLE]


def load_member(name: str, data: bytes, *, feature_set_version: str | None = None) -> Member:
    """Restore a saved member by registry name."""
    if name not in MEMBERS:
        raise ValueError(f"unknown model member {name!r}; known: {sorted(MEMBERS)}")
    if name not in available_members():
        raise ValueError(f"model member {name!r} cannot load here: install the `lstm` extra (PyTorch)")
    return MEMBERS[name].load(data, feature_set_version=feature_set_version)


__all__ = ["MEMBERS", "FeatureSetMismatch", "Member", "available_members", "load_member"]
