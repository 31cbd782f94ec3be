"""The worst-group audit: figures against an independent computation on a small model, the CLI, the page's section,
and the results table's below-baseline flag."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import format as fmt
from core.__main__ import main as cli
from core.classify.fairness import (
    audit_answers,
    audit_model,
    equal_tpr_thresholds,
    group_codes,
    group_names,
    nearest_answered_otherwise,
    person_labels,
    threshold_tradeoff,
)
from core.classify.metrics import attribute_metrics
from core.classify.store import load_classifier, load_test_predictions, new_model_id, read_meta, save_model
from core.data.embeddings import load_embeddings
from tests.cache_support import clear_streamlit_caches
from tests.support import PROJECT, opened_at

PAGE = str(PROJECT / "pages" / "3_Attribute_classifiers.py")
Z = 1.959963984540054


def wilson_by_roots(k: int, n: int) -> tuple[float, float]:
    """Wilson's interval as the two roots in p of (k/n - p)^2 = z^2 p (1 - p) / n (not the closed form)."""
    phat = k / n
    a = 1 + Z * Z / n
    b = -(2 * phat + Z * Z / n)
    c = phat * phat
    low, high = sorted(np.roots([a, b, c]).real)
    return max(low, 0.0), min(high, 1.0)


def _audit(ds, meta, target="Smiling", groups=("Male", "Young"), source="image"):
    preds = load_test_predictions(meta.model_id)
    return audit_model(ds, meta, preds, target, groups, source), preds


def test_group_names_and_codes():
    assert group_names(("Male",)) == ("not Male", "Male")
    assert group_names(("Male", "Young")) == (
        "not Male · not Young",
        "not Male · Young",
        "Male · not Young",
        "Male · Young",
    )
    codes = group_codes(np.array([[0, 0], [0, 1], [1, 0], [1, 1]]))
    assert codes.tolist() == [0, 1, 2, 3]


def test_person_labels_follow_most_of_a_persons_images():
    identity = np.array(["a", "a", "a", "b", "b", None], dtype=object)
    labels = np.array([[1], [1], [0], [0], [1], [1]])
    # a: 2 of 3 yes -> yes; b: 1 of 2 -> yes (half counts); no identity keeps its own label
    assert person_labels(identity, labels).ravel().tolist() == [1, 1, 1, 1, 1, 1]
    labels = np.array([[0], [0], [1], [0], [0], [0]])
    assert person_labels(identity, labels).ravel().tolist() == [0, 0, 0, 0, 0, 0]


def test_group_figures_match_an_independent_count(clf_env, logreg_model):
    audit, preds = _audit(clf_env, logreg_model)
    j = logreg_model.attributes.index("Smiling")
    threshold = round(logreg_model.threshold("Smiling"), 2)
    male = clf_env.attributes.index("Male")
    young = clf_env.attributes.index("Young")
    table = clf_env.attribute_matrix()
    counted = {}
    for row, label, prob in zip(preds["rows"], preds["labels"][:, j], preds["probs"][:, j]):
        name = " · ".join(
            [("Male" if table[row, male] else "not Male"), ("Young" if table[row, young] else "not Young")]
        )
        key = ("t" if (prob >= threshold) == bool(label) else "f") + ("p" if prob >= threshold else "n")
        counted.setdefault(name, {"tp": 0, "fp": 0, "fn": 0, "tn": 0})[key] += 1
    assert {g.name for g in audit.groups} == set(counted)
    assert len(audit.groups) >= 3  # the test split fills most of the four groups
    for g in audit.groups:
        c = counted[g.name]
        assert (g.tp, g.fp, g.fn, g.tn) == (c["tp"], c["fp"], c["fn"], c["tn"])
        n, pos = sum(c.values()), c["tp"] + c["fn"]
        checks = {"accuracy": (c["tp"] + c["tn"], n), "tpr": (c["tp"], pos), "fpr": (c["fp"], n - pos)}
        for metric, (k, total) in checks.items():
            if total == 0:
                assert math.isnan(g.value(metric))
                continue
            assert g.value(metric) == pytest.approx(k / total)
            assert g.interval(metric) == pytest.approx(wilson_by_roots(k, total), abs=1e-9)
        if pos and n - pos:
            tnr = wilson_by_roots(c["tn"], n - pos)
            tpr = wilson_by_roots(c["tp"], pos)
            assert g.value("balanced_accuracy") == pytest.approx((c["tp"] / pos + c["tn"] / (n - pos)) / 2)
            assert g.interval("balanced_accuracy") == pytest.approx(((tpr[0] + tnr[0]) / 2, (tpr[1] + tnr[1]) / 2))
        assert g.small == (n < 50 or min(pos, n - pos) < 10)
    # the two parity differences, recomputed from the counts
    tprs = [c["tp"] / (c["tp"] + c["fn"]) for c in counted.values() if c["tp"] + c["fn"]]
    yes_rates = [(c["tp"] + c["fp"]) / sum(c.values()) for c in counted.values()]
    assert audit.equal_opportunity.value == pytest.approx(max(tprs) - min(tprs))
    assert audit.demographic_parity.value == pytest.approx(max(yes_rates) - min(yes_rates))


def test_worst_group_is_the_lowest_of_the_groups_with_enough_images():
    rng = np.random.default_rng(5)
    sizes = {"large, good": 300, "large, poor": 200, "small, worse": 30}
    codes = np.repeat(np.arange(3), list(sizes.values()))
    labels = (rng.random(len(codes)) < 0.4).astype(np.uint8)
    noise = np.array([0.1, 0.35, 0.6])[codes]  # how often each group's answer is flipped
    answers = labels.astype(bool) ^ (rng.random(len(codes)) < noise)
    probs = np.where(answers, 0.8, 0.2)
    audit = audit_answers(labels, probs, codes, tuple(sizes), 0.5)
    balanced = {}
    for code, name in enumerate(sizes):
        y, a = labels[codes == code].astype(bool), answers[codes == code]
        balanced[name] = ((a & y).sum() / y.sum() + (~a & ~y).sum() / (~y).sum()) / 2
    assert [g.small for g in audit.groups] == [False, False, True]
    assert audit.worst.name == "large, poor" and balanced["small, worse"] < balanced["large, poor"]
    assert [g.name for g in audit.lower_small_groups] == ["small, worse"]
    y, a = labels.astype(bool), answers
    overall = ((a & y).sum() / y.sum() + (~a & ~y).sum() / (~y).sum()) / 2
    assert audit.worst_gap == pytest.approx(balanced["large, poor"] - overall)


def _brute_force_threshold(scores: np.ndarray, labels: np.ndarray, target: float) -> float:
    """The highest candidate cut (every distinct score) at which the true-positive rate reaches target."""
    positives = scores[labels == 1]
    best = -np.inf
    for cut in np.unique(scores):
        if (positives >= cut).mean() >= target - 1e-12:
            best = max(best, cut)
    return best


def test_equal_tpr_thresholds_match_a_brute_force_search():
    rng = np.random.default_rng(3)
    n = 240
    codes = rng.integers(0, 3, n)
    labels = (rng.random(n) < np.array([0.5, 0.2, 0.05])[codes]).astype(np.uint8)
    probs = np.clip(rng.normal(0.35 + 0.3 * labels - 0.1 * codes, 0.2), 0, 1).round(3)  # ties included
    audit = audit_answers(labels, probs, codes, ("a", "b", "c"), 0.5)
    for target in (0.1, 0.5, 0.75, 0.9, 1.0):
        cuts = equal_tpr_thresholds(audit, target)
        for code in range(3):
            mask = codes == code
            assert cuts[code] == pytest.approx(_brute_force_threshold(probs[mask], labels[mask], target))
            assert (probs[mask & (labels == 1)] >= cuts[code]).mean() >= target - 1e-12
    tradeoff = threshold_tradeoff(audit)
    # every per-group point gives each group at least its target rate, so the gap is at most the discreteness
    for point in tradeoff.per_group:
        cuts = np.asarray(point.thresholds)
        answers = probs >= cuts[codes]
        tprs = [answers[(codes == c) & (labels == 1)].mean() for c in range(3)]
        assert min(tprs) >= point.target_tpr - 1e-12
        assert point.tpr_gap == pytest.approx(max(tprs) - min(tprs))
        assert point.accuracy == pytest.approx((answers == labels.astype(bool)).mean())
    assert tradeoff.model.thresholds == (0.5, 0.5, 0.5)
    assert tradeoff.equalised.target_tpr == pytest.approx(audit.overall.value("tpr"))


def test_tradeoff_needs_two_groups_with_positives():
    labels = np.array([1, 0, 0, 0, 1, 0])
    audit = audit_answers(labels, np.linspace(0, 1, 6), np.array([0, 0, 0, 1, 1, 1]), ("a", "b"), 0.5)
    assert threshold_tradeoff(audit) is not None
    audit = audit_answers(labels * 0, np.linspace(0, 1, 6), np.array([0, 0, 0, 1, 1, 1]), ("a", "b"), 0.5)
    assert threshold_tradeoff(audit) is None
    assert math.isnan(audit.equal_opportunity.value)


def test_nearest_face_answered_otherwise_matches_a_brute_force_search(clf_env, logreg_model):
    audit, _ = _audit(clf_env, logreg_model, groups=("Male",))
    emb = load_embeddings(clf_env)
    vectors, has_face = emb.vectors[audit.rows].astype(np.float64), emb.has_face[audit.rows]
    for query in np.flatnonzero(has_face)[:10]:
        found = nearest_answered_otherwise(vectors, audit.answers, int(query), has_face)
        others = [
            (float(np.linalg.norm(vectors[i] - vectors[query])), i)
            for i in range(len(vectors))
            if has_face[i] and audit.answers[i] != audit.answers[query]
        ]
        distance, index = min(others)
        assert found.index == index and found.distance == pytest.approx(distance)
    no_face = int(np.flatnonzero(~has_face)[0]) if (~has_face).any() else None
    if no_face is not None:
        assert nearest_answered_otherwise(vectors, audit.answers, no_face, has_face) is None


def test_choices_the_audit_refuses(clf_env, logreg_model):
    preds = load_test_predictions(logreg_model.model_id)
    for target, groups, why in (
        ("Bald", ("Male",), "Unknown attribute"),
        ("Smiling", ("Smiling",), "other than the predicted"),
        ("Smiling", (), "one or 2"),
        ("Smiling", ("Male", "Young", "Bald"), "one or 2"),
        ("Smiling", ("Nope",), "Unknown group attribute"),
    ):
        with pytest.raises(ValueError, match=why):
            audit_model(clf_env, logreg_model, preds, target, groups)


def test_cli_prints_the_same_figures(clf_env, logreg_model, capsys):
    audit, _ = _audit(clf_env, logreg_model, groups=("Male",), source="person")
    root = str(clf_env.root)
    args = ["fairness", root, "--name", "demo", "--model", logreg_model.model_id, "--target", "Smiling"]
    code = cli([*args, "--groups", "Male", "--by", "person", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["worst_group"] == (audit.worst.name if audit.worst else None)
    assert [g["group"] for g in out["groups"]] == [g.name for g in audit.groups]
    for shown, g in zip(out["groups"], audit.groups):
        assert (shown["images"], shown["positives"]) == (g.n, g.positives)
        assert shown["tpr"]["low"] == pytest.approx(g.interval("tpr")[0], abs=1e-6)
    assert out["equal_opportunity_difference"]["value"] == pytest.approx(audit.equal_opportunity.value, abs=1e-6)
    assert out["demographic_parity_difference"]["value"] == pytest.approx(audit.demographic_parity.value, abs=1e-6)
    assert out["tradeoff"]["equalised"]["tpr_gap"] == pytest.approx(
        threshold_tradeoff(audit).equalised.tpr_gap, abs=1e-6
    )
    assert cli(["fairness", root, "--name", "demo", "--target", "Smiling", "--groups", "Smiling", "--json"]) == 2
    assert "other than the predicted" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]


# ---------------------------------------------------------------- the page


def _page(model_id: str, **params: str) -> AppTest:
    return opened_at(PAGE, {"model": model_id, **params})


def _metric(at, label):
    return next(m for m in at.metric if m.label == label).value


def test_fairness_section_shows_the_audit_and_keeps_it_in_the_url(clf_env, logreg_model):
    at = _page(logreg_model.model_id)
    at.selectbox(key="clf-thr-attr").select("Smiling").run()  # the section audits the attribute chosen above
    at.multiselect(key="clf-fair-groups").set_value(["Male", "Young"]).run()
    assert not at.exception, at.exception
    audit, _ = _audit(clf_env, logreg_model)
    # the small demo's groups are all too small to rank: the page says so rather than naming one
    assert _metric(at, "Worst group by balanced accuracy") == (audit.worst.name if audit.worst else fmt.MISSING)
    if audit.worst is None:
        assert any(w.value.startswith("No group has enough test images") for w in at.warning)
    assert _metric(at, "Equal-opportunity difference") == fmt.points(audit.equal_opportunity.value)
    assert _metric(at, "Demographic-parity difference") == fmt.points(audit.demographic_parity.value)
    table = next(d.value for d in at.dataframe if "true-positive rate" in d.value.columns)
    assert list(table["group"]) == [g.name for g in audit.groups] + ["all test images"]
    low, high = audit.groups[0].interval("tpr")
    assert table["true-positive rate"].iloc[0].endswith(f"({fmt.percent(low)}–{fmt.percent(high)})")
    params = dict(at.query_params)
    assert params["attr"] == "Smiling" and params["fby"] == "Male,Young"
    # the nearest face answered the other way, for the first face offered
    face = at.selectbox(key="clf-fair-face").value
    emb = load_embeddings(clf_env)
    query = int(np.flatnonzero(clf_env.table["image_id"].to_numpy()[audit.rows] == face)[0])
    found = nearest_answered_otherwise(emb.vectors[audit.rows], audit.answers, query, emb.has_face[audit.rows])
    assert any(c.value.startswith(f"{fmt.decimal(found.distance, 3)} apart") for c in at.caption)
    again = opened_at(PAGE, params)
    assert _metric(again, "Equal-opportunity difference") == _metric(at, "Equal-opportunity difference")
    assert again.multiselect(key="clf-fair-groups").value == ["Male", "Young"]


def _always_yes(ds, meta, attribute: str):
    """A copy of a stored model that answers yes to `attribute` on every test image, its metrics recomputed."""
    preds = load_test_predictions(meta.model_id)
    j = meta.attributes.index(attribute)
    preds["probs"][:, j] = 0.9
    thresholds = [meta.threshold(a) for a in meta.attributes]
    table = attribute_metrics(preds["labels"], preds["probs"], meta.attributes, thresholds)
    metrics = {r.pop("attribute"): {k: (None if v != v else v) for k, v in r.items()} for r in table.to_dicts()}
    copy = replace(read_meta(meta.model_id), model_id=new_model_id(meta.model, meta.features), metrics=metrics)
    save_model(copy, load_classifier(meta.model_id).fitted, preds)
    clear_streamlit_caches()
    return copy, preds


def test_results_flag_attributes_not_above_their_majority_baseline(clf_env, logreg_model):
    copy, preds = _always_yes(clf_env, logreg_model, "Smiling")
    at = _page(copy.model_id)
    # independently: accuracy at the stored thresholds against always giving the commoner answer
    labels = preds["labels"].astype(bool)
    expected = []
    for j, a in enumerate(copy.attributes):
        y = labels[:, j]
        if min(y.sum(), (~y).sum()) < 10:  # left out of the table's scores (too few images)
            continue
        accuracy = ((preds["probs"][:, j] >= copy.threshold(a)) == y).mean()
        if accuracy <= max(y.mean(), 1 - y.mean()):
            expected.append(a)
    assert "Smiling" in expected
    warning = next(w.value for w in at.warning if w.value.startswith("**Not above the majority-class baseline:**"))
    for a in copy.attributes:
        assert (f"{a} (" in warning) == (a in expected)
    table = next(d.value for d in at.dataframe if "beats always-majority" in d.value.columns).set_index("attribute")
    assert [a for a in table.index if table.loc[a, "beats always-majority"] == "no"] == expected
    scored = [a for a in table.index if table.loc[a, "beats always-majority"] != "–"]
    assert any(
        f"{len(scored) - len(expected)} of {len(scored)} attributes beat their majority-class accuracy" in c.value
        for c in at.caption
    )


def test_group_choice_follows_the_attribute_until_chosen_by_hand(clf_env, logreg_model):
    at = _page(logreg_model.model_id)
    at.selectbox(key="clf-thr-attr").select("Male").run()
    assert at.multiselect(key="clf-fair-groups").value == ["Young"]  # Male cannot group itself
    at.selectbox(key="clf-thr-attr").select("Smiling").run()
    assert at.multiselect(key="clf-fair-groups").value == ["Male"]
    assert "fby" not in at.query_params and "fface" not in at.query_params
    at.multiselect(key="clf-fair-groups").set_value(["Young"]).run()
    at.selectbox(key="clf-thr-attr").select("Blond_Hair").run()
    assert at.multiselect(key="clf-fair-groups").value == ["Young"]
    assert at.query_params["fby"] == "Young"


def test_face_picker_searches_and_follows_the_default_whatever_the_search_lists(clf_env, logreg_model, monkeypatch):
    """Above LISTED test faces a search box lists the matches; a search that matches nothing, then another attribute
    (another default face), still leaves a face picked: the new default, not in the link."""
    from ui import long_lists

    monkeypatch.setattr(long_lists, "LISTED", 5)
    at = _page(logreg_model.model_id)
    at.selectbox(key="clf-thr-attr").select("Smiling").run()
    assert len(at.selectbox(key="clf-fair-face").options) == 5
    first = at.selectbox(key="clf-fair-face").value
    at.text_input(key="clf-fair-face-search").input("no such face").run()
    assert not at.exception, at.exception
    assert "No test faces contain “no such face”." in [c.value for c in at.caption]
    assert at.selectbox(key="clf-fair-face").value == first  # still picked, still an option
    at.selectbox(key="clf-thr-attr").select("Male").run()
    assert not at.exception, at.exception
    picked = at.selectbox(key="clf-fair-face").value
    assert picked is not None and "fface" not in at.query_params
    at.text_input(key="clf-fair-face-search").input("").run()
    assert at.selectbox(key="clf-fair-face").options[0].startswith(f"{picked} · ")  # the new default: listed first


def test_long_pickers_list_the_first_choices_the_matches_and_the_chosen_ones():
    from ui.long_lists import listed_choices, matching

    faces = [f"{i:06d}.jpg" for i in range(2_000)]
    assert listed_choices(faces, [None], 500) == faces[:500]
    assert listed_choices(faces, [faces[3]], 500) == faces[:500]
    assert listed_choices(faces, [faces[1_500]], 500) == [*faces[:500], faces[1_500]]
    assert listed_choices(faces, ["not-a-test-face.jpg"], 500) == faces[:500]
    found = matching(faces, " 0015 ")
    assert found[:3] == ["000015.jpg", "000150.jpg", "000151.jpg"] and len(found) == 1 + 10 + 100
    assert listed_choices(found, [faces[7]], 500, among=faces) == [*found, faces[7]]  # chosen, though not a match
    assert matching(["Anna_B", "anna_c", "Bob"], "ANNA") == ["Anna_B", "anna_c"]
    assert matching(["a", "b"], "  ") == ["a", "b"]
