"""Attribute classifiers: models, training, metrics, the model store, pixel inputs, try-it and published figures."""
