"""Read ``mappings/metrics.yaml`` (the recontact window R of the deflection metrics); problems as
file:line, like the other single-file area loaders.

    config = load_metrics_config(Path("mappings"))   # ConfigError listing every problem
    problems = metrics_problems(Path("mappings"))    # same checks; [] when valid, never raises

An absent file means the defaults (``MetricsConfig()``: R = 72 hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.domain.errors import Problem
from hub.mappings.area_file import FileProblems, check_document, problems_error, read_document

METRICS_FILE = "metrics.yaml"
KIND = "metrics"
DEFAULT_RECONTACT_WINDOW_HOURS = 72.0


@dataclass(frozen=True)
class MetricsConfig:
    recontact_window_hours: float = DEFAULT_RECONTACT_WINDOW_HOURS


def metrics_problems(directory: Path) -> list[Problem]:
    """Every problem in ``<directory>/metrics.yaml``, top to bottom; [] when valid or absent."""
    return _load(Path(directory))[1]


def load_metrics_config(directory: Path) -> MetricsConfig:
    directory = Path(directory)
    config, problems = _load(directory)
    if config is None:
        raise problems_error(directory / METRICS_FILE, problems)
    return config


def _load(directory: Path) -> tuple[MetricsConfig | None, list[Problem]]:
    path = directory / METRICS_FILE
    if not path.exists():
        return MetricsConfig(), []
    found = FileProblems(display=str(path))
    document = read_document(path, found)
    if document is None:
        return None, found.sorted()
    check_document(found, document, KIND, directory)
    if found.problems:
        return None, found.sorted()
    data = document.data or {}
    return MetricsConfig(
        recontact_window_hours=float(data.get("recontact_window_hours", DEFAULT_RECONTACT_WINDOW_HOURS))
    ), []
