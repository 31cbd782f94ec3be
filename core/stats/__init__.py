"""Attribute statistics: prevalence, co-occurrence, P(A|B), phi, lift, and attribute-from-attributes models."""
