"""emolib.ensemble: combiners, diversity measures, reusable runs, the Keras
ensemble model and knowledge distillation, on hand-made inputs with known answers
and tiny models."""

import json

import keras
import numpy as np
import pytest

from emolib import ensemble, models
from emolib.data import synthetic
from emolib.experiment import DataConfig
from emolib.runs import _RUN_FILES

# Two members, three images, two classes.
P2 = np.array([
    [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]],
    [[0.3, 0.7], [0.1, 0.9], [0.4, 0.6]],
])


def one_hot(labels, k):
    return np.eye(k)[labels]


# --------------------------------------------------------------------------
# Combiners
# --------------------------------------------------------------------------


def test_soft_vote_is_the_weighted_mean():
    np.testing.assert_allclose(ensemble.soft_vote(P2), P2.mean(axis=0))
    np.testing.assert_allclose(ensemble.soft_vote(P2, [3, 1]), 0.75 * P2[0] + 0.25 * P2[1])
    np.testing.assert_allclose(ensemble.soft_vote(list(P2), [1, 0]), P2[0])  # a list of (n, k) arrays works


def test_inputs_are_checked_with_clear_errors():
    with pytest.raises(ValueError, match="members, images, classes"):
        ensemble.soft_vote(P2[0])
    with pytest.raises(ValueError, match="sum to 1"):
        ensemble.soft_vote(P2 * 0.5)
    with pytest.raises(ValueError, match="probabilities"):
        ensemble.soft_vote(-P2)
    with pytest.raises(ValueError, match="weights"):
        ensemble.soft_vote(P2, [1, 2, 3])
    with pytest.raises(ValueError, match="weights"):
        ensemble.soft_vote(P2, [0, 0])
    with pytest.raises(ValueError, match="val_labels"):
        ensemble.combine("soft", P2, [0, 1], P2)
    with pytest.raises(ValueError, match="method"):
        ensemble.combine("median", P2, [0, 1, 1], P2)


def test_hard_vote_majority_and_tie_break():
    # three members, one image each column; votes per image: [0, 0, 1] -> 0; [1, 1, 0] -> 1
    p = np.array([
        [[0.6, 0.4], [0.4, 0.6]],
        [[0.55, 0.45], [0.45, 0.55]],
        [[0.01, 0.99], [0.99, 0.01]],
    ])
    np.testing.assert_array_equal(ensemble.hard_vote(p), [0, 1])  # the soft vote would say [1, 0]
    assert ensemble.soft_vote(p).argmax(1).tolist() == [1, 0]
    # weights turn the vote: member 2 counts more than the other two together
    np.testing.assert_array_equal(ensemble.hard_vote(p, [1, 1, 3]), [1, 0])
    # two members that disagree tie on every image: the tie goes to the higher soft-vote probability
    np.testing.assert_array_equal(ensemble.hard_vote(P2), ensemble.soft_vote(P2).argmax(1))
    # a tie in votes and in soft probability goes to the lowest class index
    sym = np.array([[[0.7, 0.3]], [[0.3, 0.7]]])
    assert ensemble.hard_vote(sym).tolist() == [0]


def noisy_members(n=300, k=3, seed=0):
    """Member 0 is good (right class most probable on ~90% of images), member 1 guesses."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    good = np.full((n, k), 0.1 / (k - 1))
    good[np.arange(n), y] = 0.9
    flip = rng.random(n) < 0.1
    good[flip] = np.roll(good[flip], 1, axis=1)
    guess = rng.dirichlet(np.ones(k), n)
    return np.stack([good, guess]), y


def test_fit_weights_switches_off_a_guessing_member():
    p, y = noisy_members()
    w = ensemble.fit_weights(p, y)
    assert w.shape == (2,) and np.all(w >= 0) and w.sum() == pytest.approx(1)
    assert w[0] > 0.9
    fitted = ensemble.log_loss(ensemble.soft_vote(p, w), y)
    assert fitted <= ensemble.log_loss(ensemble.soft_vote(p), y)
    assert fitted <= min(ensemble.log_loss(m, y) for m in p) + 1e-9
    assert ensemble.fit_weights(p[:1], y).tolist() == [1.0]


def test_stacking_learns_a_member_that_is_consistently_wrong():
    """A member that always predicts the *next* class is useless to voting but
    perfectly informative to stacking."""
    rng = np.random.default_rng(1)
    k, n = 3, 240
    y = rng.integers(0, k, n)
    shifted = np.full((n, k), 0.05)
    shifted[np.arange(n), (y + 1) % k] = 0.9
    guess = rng.dirichlet(np.ones(k), n)
    p = np.stack([shifted, guess])
    assert np.mean(ensemble.soft_vote(p).argmax(1) == y) < 0.2
    oof = ensemble._cross_val_proba("stacking", p, y, folds=4, seed=0)
    assert oof.shape == (n, k) and np.allclose(oof.sum(1), 1)
    assert np.mean(oof.argmax(1) == y) > 0.95
    stacker = ensemble.fit_stacking(p, y)
    assert stacker.predict_proba(ensemble.stacking_features(p)).shape == (n, k)
    assert ensemble.stacking_features(p).shape == (n, 2 * k)
    np.testing.assert_allclose(ensemble.stacking_features(p)[:, :k], shifted)


def test_cross_val_proba_checks_its_arguments():
    p, y = noisy_members(n=30)
    with pytest.raises(ValueError, match="method"):
        ensemble._cross_val_proba("soft", p, y)
    with pytest.raises(ValueError, match="folds"):
        ensemble._cross_val_proba("weighted", p, y, folds=50)


def test_combine_fits_on_validation_and_predicts_test():
    p, y = noisy_members(n=400, seed=2)
    val, test, yv, yt = p[:, :200], p[:, 200:], y[:200], y[200:]
    out = {m: ensemble.combine(m, val, yv, test) for m in ensemble.METHODS}
    for m, fit in out.items():
        assert fit["val_pred"].shape == (200,) and fit["test_pred"].shape == (200,), m
    assert out["hard"]["test_proba"] is None
    np.testing.assert_array_equal(out["soft"]["test_pred"], ensemble.soft_vote(test).argmax(1))
    np.testing.assert_allclose(out["weighted"]["weights"], ensemble.fit_weights(val, yv))
    np.testing.assert_allclose(out["weighted"]["test_proba"], ensemble.soft_vote(test, out["weighted"]["weights"]))
    assert out["stacking"]["stacker"] is not None and out["stacking"]["weights"] is None
    # the guessing member drags the equal-weight vote down; the fitted combiners ignore it
    good = np.mean(test[0].argmax(1) == yt)
    assert np.mean(out["weighted"]["test_pred"] == yt) >= good - 0.02
    assert np.mean(out["stacking"]["test_pred"] == yt) >= good - 0.02


def test_log_loss_of_an_average_is_at_most_the_average_log_loss():
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(4), size=(5, 100))
    y = rng.integers(0, 4, 100)
    assert ensemble.log_loss(ensemble.soft_vote(p), y) <= np.mean([ensemble.log_loss(m, y) for m in p])


# --------------------------------------------------------------------------
# Diversity
# --------------------------------------------------------------------------


def test_disagreement_and_error_correlation_known_values():
    y = np.array([0, 1, 0, 1])
    preds = np.array([
        [0, 1, 1, 0],   # wrong on images 2, 3
        [0, 1, 1, 0],   # the same errors
        [1, 0, 0, 1],   # wrong exactly where member 0 is right
        [0, 1, 0, 1],   # always right: no variance
    ])
    dis = ensemble.disagreement(preds)
    assert dis[0, 1] == 0 and dis[0, 2] == 1 and dis[0, 3] == 0.5
    assert np.allclose(dis, dis.T) and np.all(np.diag(dis) == 0)
    corr = ensemble.error_correlation(preds, y)
    assert corr[0, 1] == pytest.approx(1) and corr[0, 2] == pytest.approx(-1)
    assert np.isnan(corr[0, 3]) and np.isnan(corr[3, 3])
    # probabilities work as well as predictions
    np.testing.assert_allclose(ensemble.disagreement(one_hot(preds, 2)), dis)
    with pytest.raises(ValueError, match="labels"):
        ensemble.error_correlation(preds, y[:3])


def test_pair_table_gain_is_over_the_better_member():
    y = np.array([0, 1, 1])
    table = ensemble.pair_table(P2, y, ["a", "b"])
    assert len(table) == 1
    row = table.iloc[0]
    assert row["accuracy a"] == pytest.approx(2 / 3) and row["accuracy b"] == pytest.approx(2 / 3)
    # each member is right on 2 of 3 images, on different ones; their average is right on all 3
    assert row["soft vote"] == pytest.approx(1.0)
    assert row["gain"] == pytest.approx(1 / 3)
    assert row["disagreement"] == pytest.approx(2 / 3)
    assert len(ensemble.pair_table(np.concatenate([P2, P2[:1]]), y)) == 3


# --------------------------------------------------------------------------
# Reusable runs
# --------------------------------------------------------------------------


def test_find_runs_keeps_complete_runs_on_the_same_data(tmp_path):
    data = DataConfig(classes=["happy", "sad"], image_size=32, channels=3, n_train=100)
    other = DataConfig(classes=["happy", "sad"], image_size=48, channels=3, n_train=100)

    def make_run(name, config_data, files=_RUN_FILES):
        run = tmp_path / "exp" / name
        run.mkdir(parents=True)
        for f in files:
            (run / f).write_text("{}")
        if "config.json" in files:
            (run / "config.json").write_text(json.dumps({"data": config_data}))

    from dataclasses import asdict

    make_run("good_seed0", asdict(data))
    make_run("other_seed0", asdict(other))
    make_run("incomplete_seed0", asdict(data), files=("config.json", "metrics.json"))
    make_run(".tmp-run", asdict(data))
    runs, skipped = ensemble.find_runs(tmp_path, "exp", data)
    assert [r.name for r in runs] == ["good_seed0"]
    assert set(skipped) == {"other_seed0", "incomplete_seed0"}
    assert "image_size" in skipped["other_seed0"]
    assert "best.keras" in skipped["incomplete_seed0"]
    assert ensemble.find_runs(tmp_path, "missing", data) == ([], {})
    # a dict works like the DataConfig (JSON lists vs tuples do not matter)
    assert [r.name for r in ensemble.find_runs(tmp_path, "exp", json.loads(json.dumps(asdict(data))))[0]] == ["good_seed0"]


# --------------------------------------------------------------------------
# Keras: the ensemble model and distillation
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    data = synthetic.generate(n_train=96, n_val=32, n_test=32, image_size=24, seed=0, classes="seed003")
    keras.utils.set_random_seed(0)
    members = [models.simple_cnn((24, 24, 1), 4, filters=(4, 8)) for _ in range(3)]  # all named "simple_cnn"
    return data, members


def test_ensemble_model_matches_soft_vote_and_round_trips(tiny, tmp_path):
    from emolib.evaluation import predict_proba

    data, members = tiny
    p = np.stack([predict_proba(m, data.test.images) for m in members])
    plain = ensemble.ensemble_model(members)
    assert len({layer.name for layer in plain.layers}) == len(plain.layers)
    np.testing.assert_allclose(predict_proba(plain, data.test.images), ensemble.soft_vote(p), atol=1e-6)

    weights = [0.5, 0.0, 0.25]
    weighted = ensemble.ensemble_model(members, weights=weights, names=["a", "b", "c"])
    assert [l.name for l in weighted.layers if isinstance(l, keras.Model)] == ["a", "c"]  # weight 0: left out
    expected = ensemble.soft_vote(p, weights)
    np.testing.assert_allclose(predict_proba(weighted, data.test.images), expected, atol=1e-6)

    path = ensemble.save_model(weighted, tmp_path / "sub" / "ens.keras")
    assert sorted(p.name for p in path.parent.iterdir()) == ["ens.keras"]  # no temporary left behind
    back = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(predict_proba(back, data.test.images), expected, atol=1e-6)
    with pytest.raises(ValueError, match=".keras"):
        ensemble.save_model(weighted, tmp_path / "ens.h5")
    with pytest.raises(ValueError, match="input shape"):
        ensemble.ensemble_model([members[0], models.simple_cnn((32, 32, 1), 4, filters=(4,))])


def test_distillation_loss_matches_a_numpy_reference():
    labels = one_hot(np.array([0, 2]), 3).astype("float32")
    teacher = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], "float32")
    student = np.array([[0.5, 0.25, 0.25], [0.2, 0.2, 0.6]], "float32")
    t, alpha = 2.0, 0.3

    def soften(p):
        z = np.log(p) / t
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    ce = -np.mean(np.log(student[[0, 1], [0, 2]]))
    kl = np.mean(np.sum(soften(teacher) * np.log(soften(teacher) / soften(student)), axis=1)) * t**2
    loss, hard, soft = (float(v) for v in ensemble.distillation_loss(labels, teacher, student, t, alpha))
    assert hard == pytest.approx(ce, rel=1e-5)
    assert soft == pytest.approx(kl, rel=1e-4)
    assert loss == pytest.approx(alpha * ce + (1 - alpha) * kl, rel=1e-4)
    assert float(ensemble.distillation_loss(labels, teacher, teacher, t, 0.0)[0]) == pytest.approx(0, abs=1e-6)
    # a higher temperature flattens the distribution but keeps its order
    flat = np.asarray(ensemble.soften(teacher, 5.0))
    assert np.all(np.argsort(flat, 1) == np.argsort(teacher, 1)) and flat.max() < teacher.max()


def test_distillation_dataset_keeps_images_labels_and_teacher_together():
    n, k = 50, 5
    images = np.zeros((n, 4, 4, 1), np.uint8)
    images[:, 0, 0, 0] = np.arange(n)  # each image carries its index
    labels = np.arange(n) % k
    teacher = np.full((n, k), 0.01)
    teacher[np.arange(n), (np.arange(n) * 3) % k] = 1 - 0.01 * (k - 1)
    ds = ensemble.distillation_dataset(images, labels, teacher, k, batch_size=8, training=True, seed=1)
    seen = []
    for x, (y, t) in ds:
        idx = np.rint(x.numpy()[:, 0, 0, 0] * 255).astype(int)
        np.testing.assert_array_equal(y.numpy().argmax(1), labels[idx])
        np.testing.assert_allclose(t.numpy(), teacher[idx], atol=1e-6)
        seen += idx.tolist()
    assert sorted(seen) == list(range(n)) and seen != list(range(n))  # all images, shuffled
    with pytest.raises(ValueError, match="teacher_proba"):
        ensemble.distillation_dataset(images, labels, teacher[:10], k)


def test_distiller_with_alpha_one_is_plain_training(tiny):
    """alpha=1 must train exactly like compile(loss="categorical_crossentropy")."""
    data, members = tiny
    teacher = np.full((len(data.train.images), 4), 0.25)

    def dataset():
        return ensemble.distillation_dataset(data.train.images, data.train.labels, teacher, 4, batch_size=32,
                                             training=True, seed=0)

    keras.utils.set_random_seed(5)
    a = models.simple_cnn((24, 24, 1), 4, filters=(4, 8))
    distiller = ensemble.Distiller(a, alpha=1.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"])
    history = distiller.fit(dataset(), epochs=2, verbose=0, shuffle=False)

    keras.utils.set_random_seed(5)
    b = models.simple_cnn((24, 24, 1), 4, filters=(4, 8))
    b.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
    b.fit(dataset().map(lambda x, yt: (x, yt[0])), epochs=2, verbose=0, shuffle=False)

    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, atol=1e-5)
    assert {"loss", "accuracy", "student_loss", "distillation_loss"} <= set(history.history)


def test_distiller_moves_the_student_towards_the_teacher(tiny):
    data, members = tiny
    from emolib.evaluation import predict_proba

    # a teacher that says "class 2, mostly" whatever the image: easy to imitate, far from the labels
    teacher = np.tile([0.1, 0.1, 0.7, 0.1], (len(data.train.images), 1))
    keras.utils.set_random_seed(0)
    student = models.simple_cnn((24, 24, 1), 4, filters=(4, 8), dropout=0.0)

    def gap():
        return float(ensemble.distillation_loss(one_hot(data.train.labels, 4), teacher,
                                                predict_proba(student, data.train.images), 1.0, 0.0)[0])

    before = gap()
    distiller = ensemble.Distiller(student, temperature=1.0, alpha=0.0)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2))
    ds = ensemble.distillation_dataset(data.train.images, data.train.labels, teacher, 4, batch_size=32,
                                       training=True, seed=0)
    distiller.fit(ds, epochs=5, verbose=0, shuffle=False)
    assert gap() < 0.5 * before
    assert np.mean(predict_proba(student, data.train.images).argmax(1) == 2) > 0.9
    with pytest.raises(ValueError, match="temperature"):
        ensemble.Distiller(student, temperature=0)
    with pytest.raises(ValueError, match="alpha"):
        ensemble.Distiller(student, alpha=1.5)
