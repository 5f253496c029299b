import numpy as np

from maldoc.training.evaluate import binary_metrics, pick_threshold, tpr_at_fpr, verdict_scores


def test_threshold_keeps_false_positives_within_target():
    rng = np.random.default_rng(0)
    neg = rng.random(2000) * 0.6
    pos = 0.4 + rng.random(500) * 0.6
    scores = np.concatenate([neg, pos])
    y = np.r_[np.zeros(2000), np.ones(500)].astype(int)
    for target in (0.001, 0.005, 0.01, 0.1):
        t = pick_threshold(scores, y, target)
        fp = int((neg >= t).sum())
        assert fp <= target * len(neg)
        assert fp == int(np.floor(target * len(neg)))  # the lowest such threshold: no tighter than needed


def test_threshold_with_ties_and_zero_target():
    scores = np.array([0.9, 0.9, 0.1, 0.95, 0.99])
    y = np.array([0, 0, 0, 1, 1])
    t = pick_threshold(scores, y, 0.0)
    assert t > 0.9 and (scores[y == 1] >= t).all()
    assert tpr_at_fpr(scores, y, 0.0) == 1.0


def test_metrics_confusion_at_threshold():
    y = np.array([0, 0, 1, 1])
    m = binary_metrics(y, np.array([0.1, 0.8, 0.7, 0.9]), 0.75)
    assert m["confusion"] == {"tp": 1, "fp": 1, "fn": 1, "tn": 1}
    assert m["roc_auc"] == 0.75


class _Table:
    def __init__(self):
        self.X = np.array([[0.1], [0.2]])
        self.sub_X = np.array([[0.9], [0.05]])
        self.sub_owner = np.array([1, 0])

    def __len__(self):
        return 2


def test_verdict_scores_take_the_most_malicious_embedded_item():
    scores = verdict_scores(lambda rows: rows[:, 0], _Table())
    assert scores.tolist() == [0.1, 0.9]
