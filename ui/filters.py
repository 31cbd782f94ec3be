"""Sidebar/inline widgets that build a core.subset.Subset (its choices live in the URL: where, part, ids, top)."""

from __future__ import annotations

import streamlit as st

from core.data.dataset import Dataset
from core.data.subset import MAX_TOP_IDENTITIES as MAX_TOP
from core.data.subset import Subset
from ui import links, long_lists, state

CHOICES = ("any", "present", "absent")


def attribute_conditions_ui(ds: Dataset, key: str, label: str = "Filter by attributes") -> tuple[tuple[str, int], ...]:
    """Pick attributes, then set each to present/absent; returns ((attribute, 1|0), ...)."""
    links.restore_conditions(ds, key)
    chosen = st.multiselect(
        label,
        ds.attributes,
        key=state.filter_attributes(key),
        help="Each chosen attribute can be required present or absent.",
    )
    conditions = []
    for attribute in chosen:
        value = st.radio(attribute, CHOICES[1:], horizontal=True, key=state.filter_value(key, attribute))
        conditions.append((attribute, 1 if value == "present" else 0))
    return tuple(conditions)


def subset_ui(ds: Dataset, key: str, identities: bool = False, top_identities: bool = False) -> Subset:
    """Attribute conditions, partition and (optionally) identity filters in one block."""
    conditions = attribute_conditions_ui(ds, key)
    partition = None
    if ds.has_partition:
        options = ["all", *ds.partition_counts()]
        links.restore(state.filter_partition(key), "part", valid=links.one_of(options))
        choice = st.selectbox("Partition", options, key=state.filter_partition(key))
        partition = None if choice == "all" else choice
    chosen_ids: tuple[str, ...] = ()
    if identities and ds.has_identity:
        options = ds.table["identity"].drop_nulls().unique().sort().to_list()
        links.restore(state.filter_identities(key), "ids", links.as_list, links.all_of(options))
        listed = long_lists.searchable_options(
            options,
            st.session_state.get(state.filter_identities(key), []),
            "identities",
            state.filter_identities_search(key),
            "in alphabetical order",
        )
        chosen_ids = tuple(st.multiselect("Identities", listed, key=state.filter_identities(key)))
    top = 0
    if top_identities and ds.has_identity:
        links.restore(state.filter_top(key), "top", int, links.between(0, MAX_TOP))
        top = int(
            st.number_input("Only the N most frequent identities (0 = all)", 0, MAX_TOP, 0, key=state.filter_top(key))
        )
    subset = Subset(conditions, partition, chosen_ids, top)
    links.remember_subset(subset)
    return subset
