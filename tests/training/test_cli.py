import argparse
import json

from maldoc.training.cli import register


def _parser():
    parser = argparse.ArgumentParser(prog="maldoc")
    register(parser.add_subparsers(dest="command"))
    return parser


def test_train_then_evaluate_from_the_command_line(tiny_corpus, tmp_path):
    out = tmp_path / "bundle"
    args = _parser().parse_args(["train", "--corpus", str(tiny_corpus), "--out", str(out), "--jobs", "0",
                                 "--folds", "2", "--no-loco", "--cache", str(tmp_path / "c"), "--no-progress",
                                 "--group-by", "source_repo"])
    assert args.func(args) == 0
    assert {"model.txt", "bundle.json", "MODEL_CARD.md"} <= {p.name for p in out.iterdir()}
    assert (out / "report" / "report.md").is_file()
    meta = json.loads((out / "bundle.json").read_text())
    assert meta["metrics"]["group_by"] == "source_repo"
    args = _parser().parse_args(["evaluate", str(out), str(tiny_corpus), "--out", str(tmp_path / "ev"),
                                 "--jobs", "0", "--cache", str(tmp_path / "c"), "--no-progress"])
    assert args.func(args) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["models"]["lightgbm"]["n"] == 24
    assert (tmp_path / "ev" / "report.html").is_file()


def test_evaluate_refuses_a_broken_bundle(tiny_corpus, tmp_path, capsys):
    args = _parser().parse_args(["evaluate", str(tmp_path), str(tiny_corpus), "--out", str(tmp_path / "ev")])
    assert args.func(args) == 2
    assert "not a model bundle" in capsys.readouterr().err


def test_train_without_generator_or_corpus_explains(tmp_path, capsys, monkeypatch):
    import maldoc.training.synthetic as synthetic

    def missing(count, seed=0):
        raise RuntimeError("the synthetic sample generator is not available")

    monkeypatch.setattr(synthetic, "synthetic_items", missing)
    args = _parser().parse_args(["train", "--out", str(tmp_path / "b"), "--no-progress"])
    assert args.func(args) == 2
    assert "generator" in capsys.readouterr().err
