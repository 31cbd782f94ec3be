"""The open dataset as lessons see it: its table plus the stored artefacts some answers need, loaded once each.

The Lessons page hands in its cached loaders (core/cached.py), so a lesson shares the embeddings and model list
the other pages already hold; commands and tests use the plain loaders of core/.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from core.classify.store import ClassifierMeta, list_models, load_test_predictions
from core.data.dataset import Dataset
from core.data.embeddings import (
    Embeddings,
    default_embedding_model,
    embeddings_version,
    list_embeddings,
    load_embeddings,
)
from core.generate.audit import load_audit
from core.generate.store import GeneratorMeta, generator_folder, list_generators

# The classifier every classifier step reads, named in their questions: one kind, so a step never reads a newer model
# of another kind (a CNN from pixels) while its words say face embeddings.
LESSON_MODEL = "logreg"
LESSON_MODEL_WORDS = "logistic regression on face embeddings"


def _stored_embeddings(ds: Dataset) -> Embeddings | None:
    return load_embeddings(ds)


def _stored_models(ds: Dataset) -> list[ClassifierMeta]:
    return list_models(ds.key, ds.labels_key)


class LessonData:
    """A dataset with lazily loaded embeddings (the pages' default model), stored classifiers and their predictions."""

    def __init__(
        self,
        ds: Dataset,
        embeddings: Callable[[Dataset], Embeddings | None] = _stored_embeddings,
        models: Callable[[Dataset], list[ClassifierMeta]] = _stored_models,
        predictions: Callable[[ClassifierMeta], dict] = lambda meta: load_test_predictions(meta.model_id),
        generators: Callable[[Dataset], list[GeneratorMeta]] = list_generators,
        audits: Callable[[GeneratorMeta], tuple | None] = load_audit,
    ):
        self.ds = ds
        self._load_embeddings = embeddings
        self._load_models = models
        self._load_predictions = predictions
        self._load_generators = generators
        self._load_audit = audits

    @cached_property
    def embeddings(self) -> Embeddings | None:
        return self._load_embeddings(self.ds)

    @cached_property
    def models(self) -> list[ClassifierMeta]:
        """The dataset's stored classifiers, newest first."""
        return list(self._load_models(self.ds))

    def model_for(self, attributes: tuple[str, ...]) -> ClassifierMeta | None:
        """The newest stored classifier of the lessons' kind (LESSON_MODEL) that predicts every one of `attributes`."""
        return next((m for m in self.models if m.model == LESSON_MODEL and set(attributes) <= set(m.attributes)), None)

    def test_predictions(self, meta: ClassifierMeta) -> dict:
        """{'rows', 'labels', 'probs'} of a stored model on its test split (raises ModelFileError when unreadable)."""
        return self._load_predictions(meta)

    @cached_property
    def generators(self) -> list[GeneratorMeta]:
        """The dataset's stored face generators, most recently trained first."""
        return list(self._load_generators(self.ds))

    def generator_audit(self, meta: GeneratorMeta) -> tuple | None:
        """(GeneratorAudit, its arrays) of a stored generator, or None before it is measured."""
        return self._load_audit(meta)


def data_version(ds: Dataset) -> str:
    """Changes whenever an answer could change without the dataset changing: new embeddings, a new classifier."""
    models = list_embeddings(ds)
    model = default_embedding_model(models)
    stamp = ""
    if model:
        version = embeddings_version(ds, model)
        stamp = f"{model}:{version}" if version else model
    classifiers = ",".join(f"{m.model_id}@{m.created}" for m in _stored_models(ds))
    return f"{stamp}|{classifiers}|{_generators_version(ds)}"


def _generators_version(ds: Dataset) -> str:
    """Changes when a generator trains further or is measured again."""
    stamps = []
    for meta in list_generators(ds):
        audit = generator_folder(meta.generator_id) / "audit.json"
        stamps.append(f"{meta.generator_id}@{meta.updated}:{audit.stat().st_mtime_ns if audit.exists() else 0}")
    return ",".join(stamps)
