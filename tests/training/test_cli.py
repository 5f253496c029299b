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


def test_two_corpora_and_a_limit(tiny_corpus, tmp_path, capsys):
    import shutil

    second = tmp_path / "second"
    shutil.copytree(tiny_corpus, second)  # the same files again: each used once
    out = tmp_path / "b2"
    args = _parser().parse_args(["train", "--corpus", str(tiny_corpus), "--corpus", str(second), "--out", str(out),
                                 "--jobs", "0", "--folds", "2", "--ooc-folds", "3", "--no-campaign-cv",
                                 "--cache", str(tmp_path / "c"), "--no-progress", "--limit", "18"])
    assert args.func(args) == 0
    err = capsys.readouterr().err
    assert "--limit 18: 18 of 25 files" in err and "more than one corpus" in err
    assert "out-of-collection fold 3/3" in err  # progress for each model fitted
    meta = json.loads((out / "bundle.json").read_text())
    assert 12 <= len(meta["training_data"]["sha256_prefixes"]) <= 18  # the labelled part of the 18
    assert "Out of collection" in (out / "MODEL_CARD.md").read_text()


def test_report_can_carry_the_method_checks(tiny_corpus, tmp_path):
    out = tmp_path / "b3"
    args = _parser().parse_args(["train", "--corpus", str(tiny_corpus), "--out", str(out), "--jobs", "0",
                                 "--ooc-folds", "2", "--no-campaign-cv", "--cache", str(tmp_path / "c"),
                                 "--no-progress", "--protocol-check", "repo0", "--ablation"])
    assert args.func(args) == 0
    text = (out / "report" / "report.md").read_text()
    assert "pseudo-holdout" in text and "Spearman" in text and "repo0" in text
    assert "Feature groups: out-of-collection effect of dropping each" in text


def test_evaluate_warns_of_training_files_and_unmeasurable_rates(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "bundle"
    args = _parser().parse_args(["train", "--corpus", str(tiny_corpus), "--out", str(out), "--jobs", "0",
                                 "--ooc-folds", "3", "--no-campaign-cv", "--cache", str(tmp_path / "c"),
                                 "--no-progress"])
    assert args.func(args) == 0
    capsys.readouterr()
    args = _parser().parse_args(["evaluate", str(out), "--corpus", str(tiny_corpus), "--out", str(tmp_path / "ev"),
                                 "--jobs", "0", "--cache", str(tmp_path / "c"), "--no-progress"])
    assert args.func(args) == 0
    err = capsys.readouterr().err
    assert "24 of 24 evaluation files were in the model's training data" in err
    assert "not measurable" in err
    assert "not measurable" in (tmp_path / "ev" / "report.md").read_text()


def test_empty_corpus_and_unlabelled_manifest_are_one_line_errors(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.csv").write_text("sha256,label\n")
    nolabel = tmp_path / "nolabel"
    nolabel.mkdir()
    (nolabel / "manifest.csv").write_text("sha256,format\nabc,pdf\n")
    for corpus, message in ((empty, "no labelled files"), (nolabel, "no 'label' column")):
        args = _parser().parse_args(["train", "--corpus", str(corpus), "--out", str(tmp_path / "b"), "--no-progress"])
        assert args.func(args) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
