"""Attribute statistics: prevalence, co-occurrence, P(A|B), phi, lift, and attribute-from-attributes models.

Front door: `relation_stats(X, attributes)` -> `RelationStats` (every pairwise measure of a 0/1 matrix);
`predict_attribute` / `predict_all_attributes` fit one attribute from the others.
"""

from core.stats.relations import RelationStats, predict_all_attributes, predict_attribute, relation_stats

__all__ = ["RelationStats", "predict_all_attributes", "predict_attribute", "relation_stats"]
