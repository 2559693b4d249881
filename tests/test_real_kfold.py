"""benchmarks/real_photos_kfold.py: folds over persons, every photo tested once, and the real-photo
recipe (realphotos.photo_config) that trains each rung through run_experiment."""

import importlib.util
from pathlib import Path

import numpy as np

from emolib import realphotos

ROOT = Path(__file__).resolve().parents[1]


def kfold_script():
    spec = importlib.util.spec_from_file_location("real_photos_kfold", ROOT / "benchmarks" / "real_photos_kfold.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_folds_are_person_disjoint_and_test_every_photo_once():
    rng = np.random.default_rng(0)
    persons = np.repeat(np.arange(120), 3)  # 120 persons, 3 photos each
    labels = np.where(rng.random(120) < 0.85, rng.integers(0, 2, 120), rng.integers(2, 4, 120)).repeat(3)
    folds = kfold_script().fold_splits(labels, persons, folds=5, val_fraction=0.15, val_cap=20)
    assert len(folds) == 5
    tested = np.concatenate([test for _, _, test, _ in folds])
    assert sorted(tested) == list(range(len(labels)))  # every photo, rare classes included, exactly once
    for train, val, test, balanced in folds:
        assert not set(persons[train]) & set(persons[test]) and not set(persons[val]) & set(persons[test])
        assert not set(persons[train]) & set(persons[val])
        assert np.bincount(labels[val]).max() <= 20
        counts = np.bincount(labels[balanced], minlength=4)
        assert set(balanced) <= set(test) and counts.min() == counts.max() > 0  # every class, equally often


def test_photo_config_is_the_balanced_macro_f1_recipe():
    config = realphotos.photo_config("head", "fer_transfer", class_names=("happy", "sad"), epochs=3,
                                     learning_rate=3e-3, seed=2, image_size=64, epoch_size=512,
                                     params={"mode": "frozen"}, init_from=Path("runs/x/y"))
    assert config.data.sampling == "balanced" and config.data.classes == ["happy", "sad"]
    assert config.train.monitor == "val_macro_f1" and config.train.steps_per_epoch == 8
    assert config.train.early_stopping_patience is None and config.train.lr_decay["kind"] == "cosine"
    assert config.model.init_from == "runs/x/y" and config.model.params == {"mode": "frozen"}
    assert type(config).from_dict(config.to_dict()) == config  # saved with the run, reloaded by notebook 09
