"""Errors a user can act on. The CLI prints their message and exits non-zero; the API maps them to 4xx."""

from __future__ import annotations


class TFTError(Exception):
    """Base class: the message names the problem and, where possible, how to fix it."""


class ValidationFailed(TFTError):
    """Input was rejected before anything was written."""


class DataSourceError(TFTError):
    """An external data source (Yahoo Finance, Reddit, a file) failed or returned nothing usable."""


class NotFound(TFTError):
    """A requested row does not exist."""
