"""Attribute classifiers: models, training, metrics, the model store, pixel inputs, try-it and published figures.

Front door: `train_attribute_model(ds, TrainConfig(...))` -> `ClassifierMeta` (stored under cache/models/);
`load_classifier(model_id)` -> a model that predicts; `predict_photo(model, data)` for an uploaded photo.
"""

from core.classify.models import TrainConfig
from core.classify.store import ClassifierMeta, list_models, load_classifier
from core.classify.train import train_attribute_model
from core.classify.tryit import predict_photo

__all__ = ["ClassifierMeta", "TrainConfig", "list_models", "load_classifier", "predict_photo", "train_attribute_model"]
