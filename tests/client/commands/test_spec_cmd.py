"""`spartacus spec build`: a spec from a torch network (safetensors weights + a JSON of its layers)
or from the buyer's own scikit-learn code, and CSV or safetensors data, that pricing.parse_spec
accepts and whose hash is printed; a model that does not fit its architecture is one named line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file
from typer.testing import CliRunner

from client.cli import app
from client.commands.buyer import DataFileError, load_table
from pricing import parse_spec, spec_hash

ARCH = {"layers": [{"type": "linear", "in": 3, "out": 5}, {"type": "tanh"}, {"type": "linear", "in": 5, "out": 2}]}


def _data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (rows, 3))
    return x, (x @ np.array([1.0, -1.0, 0.5]) > 0.25).astype(np.int64)


def _csv(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["age", "km", "income", "y"])
        w.writerows([[*map(float, r), int(v)] for r, v in zip(x, y)])
    return path


def _weights(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    save_file({"0.weight": rng.normal(size=(5, 3)), "0.bias": rng.normal(size=5),
               "2.weight": rng.normal(size=(2, 5)), "2.bias": rng.normal(size=2)}, str(path))
    return path


def _hash_in(output: str) -> str:
    (h,) = [w for w in output.split() if w.startswith("0x") and len(w) == 66]
    return h


def test_spec_from_a_torch_network_and_csv_parses_and_its_hash_is_printed(tmp_path: Path) -> None:
    x, y = _data(120, 1)
    train, val = _csv(tmp_path / "train.csv", x[:90], y[:90]), _csv(tmp_path / "val.csv", x[90:], y[90:])
    (tmp_path / "arch.json").write_text(json.dumps(ARCH))
    out = tmp_path / "spec.bundle"
    res = CliRunner().invoke(app, ["spec", "build", "--train", str(train), "--val", str(val), "--model",
                                   str(_weights(tmp_path / "w.safetensors")), "--arch", str(tmp_path / "arch.json"),
                                   "--method", "influence", "--l2", "0.01", "--out", str(out)])
    assert res.exit_code == 0, res.output
    bundle = out.read_bytes()
    spec = parse_spec(bundle)
    assert _hash_in(res.output) == spec.hash == spec_hash(bundle)
    assert f"({len(bundle)} bytes" in res.output and spec.method == "influence"
    assert spec.feature_names == ["age", "km", "income"]
    # another network gives another spec
    out2 = tmp_path / "spec2.bundle"
    res = CliRunner().invoke(app, ["spec", "build", "--train", str(train), "--val", str(val), "--model",
                                   str(_weights(tmp_path / "w2.safetensors", seed=5)), "--arch",
                                   str(tmp_path / "arch.json"), "--l2", "0.01", "--out", str(out2)])
    assert res.exit_code == 0 and _hash_in(res.output) != spec.hash
    # the same tables written with semicolons, a byte-order mark and CRLF (as some spreadsheets write
    # CSV) give the same spec
    for f in (train, val):
        text = "\ufeff" + f.read_text().replace(",", "; ").replace("\r\n", "\n").replace("\n", "\r\n")
        f.with_suffix(".semi.csv").write_bytes(text.encode("utf-8"))
    out3 = tmp_path / "spec3.bundle"
    res = CliRunner().invoke(app, ["spec", "build", "--train", str(train.with_suffix(".semi.csv")), "--val",
                                   str(val.with_suffix(".semi.csv")), "--model", str(tmp_path / "w.safetensors"),
                                   "--arch", str(tmp_path / "arch.json"), "--method", "influence", "--l2", "0.01",
                                   "--out", str(out3)])
    assert res.exit_code == 0, res.output
    assert out3.read_bytes() == bundle


def test_spec_from_the_buyers_own_sklearn_code_and_safetensors_data(tmp_path: Path) -> None:
    x, y = _data(100, 2)
    save_file({"features": x, "label": y}, str(tmp_path / "d.safetensors"))
    (tmp_path / "mymodel.py").write_text(
        "import warnings\nfrom sklearn.neural_network import MLPClassifier\n"
        "def make(x, y):\n    with warnings.catch_warnings():\n        warnings.simplefilter('ignore')\n"
        "        return MLPClassifier((4,), max_iter=100, random_state=0).fit(x, y)\n")
    out = tmp_path / "s.bundle"
    res = CliRunner().invoke(app, ["spec", "build", "--train", str(tmp_path / "d.safetensors"), "--factory",
                                   f"{tmp_path / 'mymodel.py'}:make", "--method", "group-influence", "--rank", "4",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    spec = parse_spec(out.read_bytes())
    assert spec.method == "group-influence" and _hash_in(res.output) == spec.hash


@pytest.mark.parametrize("arch, needle", [
    ({"layers": [{"type": "linear", "in": 3, "out": 4}, {"type": "relu"}, {"type": "linear", "in": 4, "out": 2}]},
     "weight 0.weight has shape (5, 3)"),
    ({"layers": [{"type": "conv2d"}]}, "type 'conv2d' is not one of"),
])
def test_a_model_that_does_not_fit_its_architecture_is_one_named_line(tmp_path: Path, arch, needle) -> None:
    x, y = _data(50, 3)
    train = _csv(tmp_path / "t.csv", x, y)
    (tmp_path / "arch.json").write_text(json.dumps(arch))
    res = CliRunner().invoke(app, ["spec", "build", "--train", str(train), "--model",
                                   str(_weights(tmp_path / "w.safetensors")), "--arch", str(tmp_path / "arch.json")])
    assert res.exit_code == 1 and needle in res.output and "Traceback" not in res.output, res.output
    res = CliRunner().invoke(app, ["spec", "build", "--train", str(train)])
    assert res.exit_code == 1 and "name the model one way" in res.output


def test_builder_options_reach_the_spec(tmp_path: Path) -> None:
    x, y = _data(120, 4)
    train, probe = _csv(tmp_path / "t.csv", x[:90], y[:90]), _csv(tmp_path / "p.csv", x[90:100], y[90:100])
    val = _csv(tmp_path / "v.csv", x[100:], y[100:])
    (tmp_path / "arch.json").write_text(json.dumps(ARCH))
    res = CliRunner().invoke(app, ["spec", "build", "--train", str(train), "--val", str(val), "--probe", str(probe),
                                   "--model", str(_weights(tmp_path / "w.safetensors")), "--arch",
                                   str(tmp_path / "arch.json"), "--method", "feature-newton", "--l2", "0.01",
                                   "--hyper", "steps=3", "--copies", "drop", "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    spec = parse_spec((tmp_path / "s").read_bytes())
    assert spec.manifest["hyper"]["steps"] == 3 and spec.manifest["dedup"]["copies"] == "drop"
    assert np.allclose(spec.tensors["probe.features"], x[90:100])
    res = CliRunner().invoke(app, ["spec", "build", "--train", str(train), "--model", str(tmp_path / "w.safetensors"),
                                   "--arch", str(tmp_path / "arch.json"), "--hyper", "nonsense"])
    assert res.exit_code == 1 and "NAME=NUMBER" in res.output


def test_a_network_retrain_spec_ships_the_anchor_and_with_the_flag_its_labels(tmp_path: Path) -> None:
    x, y = _data(120, 6)
    train, val = _csv(tmp_path / "t.csv", x[:90], y[:90]), _csv(tmp_path / "v.csv", x[90:], y[90:])
    (tmp_path / "arch.json").write_text(json.dumps(ARCH))
    base = ["spec", "build", "--train", str(train), "--val", str(val), "--model", str(_weights(tmp_path / "w.st")),
            "--arch", str(tmp_path / "arch.json"), "--method", "network-retrain", "--hyper", "inits=1"]
    res = CliRunner().invoke(app, base)
    assert res.exit_code == 1 and "--anchor FILE" in " ".join(res.output.split()), res.output
    res = CliRunner().invoke(app, [*base, "--anchor-labels"])
    assert res.exit_code == 1 and "pass --anchor too" in res.output, res.output
    for flags, labelled in (([], False), (["--anchor-labels"], True)):
        out = tmp_path / f"s{labelled}"
        res = CliRunner().invoke(app, [*base, "--anchor", str(train), *flags, "--out", str(out)])
        assert res.exit_code == 0, res.output
        spec = parse_spec(out.read_bytes())
        np.testing.assert_allclose(spec.tensors["anchor.features"], x[:90])
        assert ("anchor.label" in spec.tensors) is labelled and spec.hyper["steps"] >= 1
        if labelled:
            np.testing.assert_array_equal(spec.tensors["anchor.label"], y[:90])


@pytest.mark.parametrize("text, needle", [
    ("a,b,y\n1,2,0\n3,4\n", "line 3 has 2 fields, the header 3"),
    ("a,b,y\n1,2,0\n\n3,nan,1\n", "line 4 has a missing value \\(NaN\\)"),
    ("a,b,y\n1,2,yes\n", "the label column 'y' holds 'yes' on line 2; it must hold class indices"),
    ("a,b,y\n1,x,0\n", "every value must be a number; line 2"),
    ("a,b,y\n1,2,0\n4,,1\n", "column 'b' is empty on line 3: fill it or drop the row"),
    ("a,b,y\n", "needs a header row and at least one data row"),
])
def test_a_bad_data_file_is_refused_by_its_line(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataFileError, match=needle):
        load_table(path, None)
    path.write_bytes("a,b,y\n1,2,0\n".encode("utf-16"))
    with pytest.raises(DataFileError, match="not UTF-8 text: save it as CSV UTF-8"):
        load_table(path, None)


def test_a_label_written_as_the_datasets_categories_reads_as_their_indices(tmp_path: Path) -> None:
    path = tmp_path / "words.csv"
    path.write_text("a,b,diagnosis\n1,2,benign\n3,4,malignant\n5,6,1\n")
    x, y, names, label = load_table(path, None, ["malignant", "benign"])
    assert y.tolist() == [1.0, 0.0, 1.0] and names == ["a", "b"] and label == "diagnosis"
    with pytest.raises(DataFileError, match="the label column 'diagnosis' holds 'benign' on line 2"):
        load_table(path, None)  # without the dataset's categories a word is not a class
