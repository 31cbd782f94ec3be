"""Datasets that ship embeddings in a CSV: `embed` uses them as they are, `neighbours` searches them."""

import json

import numpy as np

from core.__main__ import main


def _write_csv(path, vectors, identities):
    cols = [f"e{i}" for i in range(vectors.shape[1])]
    lines = ["image_name,id,Smiling,Male," + ",".join(cols)]
    for i, (v, who) in enumerate(zip(vectors, identities)):
        lines.append(f"{i:06d}.jpg,{who},{i % 2},{(i // 2) % 2}," + ",".join(f"{x:.6f}" for x in v))
    path.write_text("\n".join(lines) + "\n")


def test_embed_uses_csv_embeddings_and_neighbours_search_them(tmp_path, isolated_cache, capsys):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(12, 20)).astype(np.float32)
    vectors[7] = vectors[3] + 0.01  # 7 is 3's near twin
    _write_csv(tmp_path / "celeba_buffalo_s.csv", vectors, [i // 3 for i in range(12)])
    assert main(["embed", str(tmp_path / "celeba_buffalo_s.csv"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "csv" and out["images"] == 12 and out["embedded"] == 12
    assert (
        main(["neighbours", str(tmp_path / "celeba_buffalo_s.csv"), "--image", "000003.jpg", "-k", "4", "--json"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    expected = np.argsort(np.linalg.norm(vectors - vectors[3], axis=1))[1:5]
    assert [h["image_id"] for h in result["neighbours"]] == [f"{i:06d}.jpg" for i in expected]
    assert result["neighbours"][0]["identity"] == "2"
    np.testing.assert_allclose(
        [h["distance"] for h in result["neighbours"]],
        np.linalg.norm(vectors[expected] - vectors[3], axis=1),
        atol=1e-3,
    )
    assert (
        main(
            [
                "neighbours",
                str(tmp_path / "celeba_buffalo_s.csv"),
                "--image",
                "000003.jpg",
                "-k",
                "2",
                "--by",
                "attributes",
                "--json",
            ]
        )
        == 0
    )
    hits = json.loads(capsys.readouterr().out)["neighbours"]
    assert [h["distance"] for h in hits] == [0.0, 0.0]  # rows 7 and 11 have the same Smiling/Male values as row 3
    assert [h["image_id"] for h in hits] == ["000007.jpg", "000011.jpg"]
