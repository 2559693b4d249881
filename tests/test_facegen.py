"""The face generator (facegen), its parts one at a time: each part is drawn
on a blank canvas, with one action unit or parameter changed at a time."""

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import facegen
from facegen import accessories, brows, camera, eyes, head, mouth
from facegen.canvas import Canvas, Face, pixel_centres
from facegen.expressions import AU_COLUMNS
from facegen.params import sample_identities, sample_params

SIZE = 96


def make_face(n=1, size=SIZE, **values):
    """A blank canvas and ``n`` pictures of one person, frontal, expressionless and looking
    ahead, with ``values`` (a scalar or one value per picture) replacing their parameters."""
    rng = np.random.default_rng(0)
    params = sample_params(np.full(n, 6), rng, identity=np.zeros(n, int), identities=sample_identities(1, rng))
    for column in AU_COLUMNS:
        params[column] = np.zeros(n, dtype=np.float32)
    params.update(yaw=np.zeros(n), gaze=np.zeros((n, 2)), mouth_curve=np.zeros(n), brow_slant=np.zeros(n),
                  age=np.zeros(n), glasses=np.zeros(n, bool), sunglasses=np.zeros(n, bool))
    for key, value in values.items():
        params[key] = np.broadcast_to(np.asarray(value), params[key].shape).copy()
    return Canvas(n, size), Face(params, head.skin_colour(params))


def painted(canvas):
    """Boolean mask (B, size, size) of the pixels a part changed on the blank canvas."""
    return (canvas.rgb != 0).any(axis=1)


def mean_row_y(mask, cols):
    """Mean canonical y of the painted pixels in the columns ``cols`` of one mask (size, size)."""
    y = pixel_centres(mask.shape[0])
    rows = np.nonzero(mask[:, cols])[0]
    return y[rows].mean()


# --------------------------------------------------------------------------- mouth
def test_mouth_paints_only_the_lower_middle_of_the_face():
    canvas, face = make_face(au25=0.8, au26=0.6)
    mouth.draw(canvas, face)
    ys, xs = np.nonzero(painted(canvas)[0])
    assert len(ys) > 50
    y, x = pixel_centres(SIZE)[ys], pixel_centres(SIZE)[xs]
    assert y.min() > 0.15 and y.max() < 0.8  # below the nose, above the chin's edge
    assert np.abs(x).max() < 0.35
    assert abs(x.mean()) < 0.02  # centred on a frontal face
    assert not canvas.alpha.any()  # the mouth does not widen the face's silhouette


def corner_lift(**action_units):
    """How far the mouth's corners stand above its middle (canonical units), as drawn."""
    canvas, face = make_face(**action_units)
    mouth.draw(canvas, face)
    mask = painted(canvas)[0]
    cols = np.flatnonzero(mask.any(axis=0))
    middle = cols[len(cols) // 2]
    corners = np.r_[cols[:3], cols[-3:]]
    return mean_row_y(mask, [middle]) - mean_row_y(mask, corners)


def test_mouth_corners_follow_the_smile():
    neutral = corner_lift()
    smile = corner_lift(au12=1.0)
    half_smile = corner_lift(au12=0.5)
    frown = corner_lift(au15=1.0)
    assert frown < neutral - 0.02
    assert neutral < half_smile < smile
    assert smile > neutral + 0.05
    width = {}
    for name, action_units in {"rest": {}, "smile": {"au12": 1.0}, "tight": {"au23": 1.0}}.items():
        canvas, face = make_face(**action_units)
        mouth.draw(canvas, face)
        width[name] = painted(canvas)[0].any(axis=0).sum()
    assert width["tight"] < width["rest"] < width["smile"]


def test_mouth_opens_with_the_jaw_and_shows_teeth():
    closed, face_closed = make_face()
    mouth.draw(closed, face_closed)
    opened, face_opened = make_face(au25=1.0, au26=1.0)
    mouth.draw(opened, face_opened)
    height = {name: np.ptp(np.nonzero(painted(c)[0])[0]) for name, c in (("closed", closed), ("opened", opened))}
    assert height["opened"] > 1.5 * height["closed"]
    dark = {name: ((c.rgb[0].max(axis=0) < 0.15) & painted(c)[0]).sum() for name, c in (("closed", closed),
                                                                                       ("opened", opened))}
    assert dark["opened"] > 2 * dark["closed"]  # the inside of the mouth


def test_smile_deepens_the_nasolabial_folds_and_the_chin_raiser_the_chin_furrow():
    def shading(part, **action_units):
        canvas, face = make_face(**action_units)
        shade = np.ones((1, SIZE, SIZE), np.float32)
        part(canvas, face, shade)
        return 1.0 - shade[0]  # how much darker

    rest, smile = shading(mouth.shade_folds), shading(mouth.shade_folds, au12=1.0)
    assert smile.sum() > 2 * rest.sum() > 0
    assert np.abs(pixel_centres(SIZE)[np.nonzero(smile > 0.05)[1]]).min() > 0.05  # beside the mouth, not on it
    rest, raised = shading(mouth.shade_chin), shading(mouth.shade_chin, au17=1.0)
    assert raised.max() > rest.max() + 0.2


# --------------------------------------------------------------------------- eyes
def eye_pixels(**action_units):
    canvas, face = make_face(**action_units)
    eyes.draw(canvas, face)
    return painted(canvas)[0]


def test_eyes_open_wide_and_narrow_with_their_action_units():
    rest = eye_pixels().sum()
    wide = eye_pixels(au05=1.0).sum()
    narrowed = eye_pixels(au06=1.0, au07=1.0).sum()
    assert wide > 1.3 * rest
    assert narrowed < 0.8 * rest


def test_eyes_sit_in_the_upper_face_and_mirror_each_other():
    mask = eye_pixels()
    ys, xs = np.nonzero(mask)
    assert pixel_centres(SIZE)[ys].max() < 0.1
    left, right = mask[:, : SIZE // 2].sum(), mask[:, SIZE // 2:].sum()
    assert left > 20 and abs(left - right) <= 0.05 * left
    assert np.array_equal(mask[:, : SIZE // 2], mask[:, SIZE // 2:][:, ::-1])


def test_lid_heights():
    _, face = make_face(n=3, au05=[0.0, 1.0, 0.0], au07=[0.0, 0.0, 1.0])
    upper, lower = (h.ravel() for h in eyes.lid_heights(face))
    assert upper[1] > upper[0] > upper[2]
    assert lower[2] < lower[0]


# --------------------------------------------------------------------------- brows
def brow_pixels(**action_units):
    canvas, face = make_face(**action_units)
    brows.draw(canvas, face)
    return painted(canvas)[0]


def test_brows_rise_with_the_brow_raisers_and_come_together_when_lowered():
    y = pixel_centres(SIZE)

    def height(mask):
        return y[np.nonzero(mask)[0]].mean()

    def gap(mask):  # half the gap between the brows
        return np.abs(y[np.nonzero(mask)[1]]).min()

    rest, raised, lowered = brow_pixels(), brow_pixels(au01=1.0, au02=1.0), brow_pixels(au04=1.0)
    assert height(raised) < height(rest) - 0.05 < height(lowered) - 0.05
    assert gap(lowered) < gap(rest)
    assert y[np.nonzero(rest)[0]].max() < y[np.nonzero(eye_pixels())[0]].min()  # above the eyes


def test_forehead_is_smooth_without_age_or_raised_brows():
    def shade(canvas, face):
        shade = np.ones((1, SIZE, SIZE), np.float32)
        brows.shade_forehead(canvas, face, shade)
        return shade

    smooth = shade(*make_face())
    wrinkled = shade(*make_face(au01=1.0, au02=1.0))
    assert np.array_equal(smooth, np.ones_like(smooth))
    changed = np.nonzero((wrinkled != 1)[0])[0]
    assert len(changed) and pixel_centres(SIZE)[changed].max() < -0.1  # on the forehead only


# --------------------------------------------------------------------------- head
def test_face_outline_is_round_and_the_jaw_drop_lengthens_it():
    canvas, face = make_face(n=2, au26=[0.0, 1.0])
    skin = head.face_outline(canvas, face)
    coverage = np.zeros((2, SIZE, SIZE), np.float32)
    coverage[:, skin.rows, skin.cols] = skin.coverage
    assert coverage[:, SIZE // 2, SIZE // 2].min() == 1.0 and coverage[:, 0, 0].max() == 0.0
    lowest = [np.nonzero(c.any(axis=1))[0].max() for c in coverage > 0.5]
    assert lowest[1] > lowest[0]
    centre = skin.shade[0, SIZE // 2, SIZE // 2]
    edge = skin.shade[0, SIZE // 2, np.nonzero(coverage[0, SIZE // 2] > 0.5)[0].min()]
    assert edge < centre  # darker towards the edge


def test_back_hair_only_for_long_hair():
    canvas, face = make_face(n=2, hair_style=[1, head.LONG_HAIR])
    head.draw_back_hair(canvas, face)
    mask = painted(canvas)
    assert not mask[0].any() and mask[1].sum() > 100
    assert canvas.alpha[1].max() == 1.0


def test_skin_colour_flushes_red_and_pales_grey():
    _, face = make_face(n=3, flush=[0.0, 1.5, 0.0], pallor=[0.0, 0.0, 1.0], skin=[[0.8, 0.6, 0.5]])
    plain, flushed, pale = head.skin_colour(face.params)
    assert flushed[0] > plain[0] and flushed[2] < plain[2]
    assert np.ptp(pale) < np.ptp(plain)  # greyer


# --------------------------------------------------------------------------- accessories
def test_glasses_only_on_the_faces_that_wear_them_and_sunglasses_are_dark():
    canvas, face = make_face(n=3, glasses=[False, True, False], sunglasses=[False, False, True])
    canvas.rgb[:] = 1.0
    accessories.draw_glasses(canvas, face)
    changed = (canvas.rgb != 1.0).any(axis=1)
    assert not changed[0].any() and changed[1].any() and changed[2].any()
    y, x = pixel_centres(SIZE)[:, None], pixel_centres(SIZE)[None, :]
    left_lens = (np.abs(y - face.params["eye_y"][0]) < 0.03) & (np.abs(x + face.params["eye_dx"][0]) < 0.05)
    clear, dark = canvas.rgb[1][:, left_lens].mean(), canvas.rgb[2][:, left_lens].mean()
    assert dark < 0.35 < 0.75 < clear


def test_occluder_and_text_only_where_asked():
    params = make_face(n=2, occlusion=[0, 1], text=[False, True])[1].params
    params["occ_center"][1] = [0.0, 0.0]
    image = np.full((2, 3, 48, 48), 0.5, np.float32)
    accessories.occlude(image, params, 48)
    assert np.all(image[0] == 0.5) and np.any(image[1, :, 24, 24] != 0.5)
    image[:] = 0.5
    accessories.overlay_text(image, params, 48)
    assert np.all(image[0] == 0.5) and np.any(image[1] != 0.5)


# --------------------------------------------------------------------------- camera
def camera_params(n=2, **values):
    return make_face(n=n, **values)[1].params


def test_warp_with_the_identity_pose_keeps_the_face_and_a_shift_moves_it():
    rng = np.random.default_rng(1)
    rgb = rng.random((2, 3, 32, 32), dtype=np.float32)
    alpha = rng.random((2, 32, 32), dtype=np.float32)
    params = camera_params(rotation_deg=0.0, scale=1.0, shift_x=[0.0, 0.5], shift_y=0.0)
    out_rgb, out_alpha = camera.warp(rgb, alpha, params, 32)
    assert np.allclose(out_rgb[0], rgb[0], atol=1e-4) and np.allclose(out_alpha[0], alpha[0], atol=1e-4)
    assert np.allclose(out_rgb[1][:, :, 8:], rgb[1][:, :, :-8], atol=1e-4)  # 0.5 units = 8 pixels right


def test_face_frame_inverts_the_pose():
    size = 16
    grid = pixel_centres(size)
    params = {k: np.array(v, np.float32) for k, v in
              {"rotation_deg": [0.0, 90.0, 0.0], "scale": [1.0, 1.0, 2.0], "shift_x": [0.0, 0.0, 0.5],
               "shift_y": [0.0, 0.0, 0.0]}.items()}
    x, y = camera.face_frame(params, size)
    assert x.shape == y.shape == (3, size, size) and x.dtype == np.float32
    assert np.array_equal(x[0], np.broadcast_to(grid, (size, size)))  # identity: picture = face frame
    assert np.array_equal(y[0], np.broadcast_to(grid[:, None], (size, size)))
    assert np.allclose(x[1], y[0], atol=1e-6) and np.allclose(y[1], -x[0], atol=1e-6)  # a quarter turn
    assert np.allclose(x[2], (grid - 0.5) / 2)  # shifted right by 0.5, twice as large


def test_blur_is_a_binomial_filter():
    image = np.zeros((2, 3, 16, 16), np.float32)
    image[:, :, 8, 8] = 1.0
    camera.blur(image, {"blur": np.array([0, 1])})
    assert image[0, :, 8, 8].min() == 1.0 and image[0].sum() == 3.0
    kernel = np.outer([1, 2, 1], [1, 2, 1]) / 16
    assert np.allclose(image[1, 0, 7:10, 7:10], kernel) and np.isclose(image[1, 0].sum(), 1.0)


def test_jpeg_is_deterministic_and_loses_more_at_low_quality():
    rng = np.random.default_rng(2)
    original = rng.random((1, 3, 40, 40), dtype=np.float32)

    def compressed(quality):
        image = np.repeat(original, 2, axis=0)
        camera.jpeg(image, {"jpeg_quality": np.array([0, quality])}, 40)
        assert np.array_equal(image[0], original[0])  # quality 0: untouched
        return image[1]

    assert np.array_equal(compressed(30), compressed(30))
    error = {q: np.abs(compressed(q) - original[0]).mean() for q in (30, 90)}
    assert 0 < error[90] < error[30]
    flat = np.full((1, 3, 16, 16), 0.25, np.float32)
    camera.jpeg(flat, {"jpeg_quality": np.array([50])}, 16)
    assert np.allclose(flat, 0.25, atol=1 / 255)  # flat 8x8 blocks survive


def test_noise_is_fixed_by_its_index():
    params = {"noise_std": np.array([0.0, 0.05, 0.05]), "noise_index": np.array([3, 3, 4])}
    image = np.zeros((3, 3, 32, 32), np.float32)
    camera.add_noise(image, params, 32)
    assert not image[0].any()
    assert 0.03 < image[1].std() < 0.07 and not np.array_equal(image[1], image[2])
    again = np.zeros((3, 3, 32, 32), np.float32)
    camera.add_noise(again, params, 32)
    assert np.array_equal(image, again)


# --------------------------------------------------------------------------- the whole
def test_no_generator_function_over_80_lines():
    """The issue's limit for emolib, held here for the generator (docstrings included)."""
    lengths = {}
    for path in Path(facegen.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                lengths[f"{path.name}:{node.name}"] = node.end_lineno - node.lineno + 1
    assert len(lengths) > 50
    assert max(lengths.values()) <= 80, sorted(lengths.items(), key=lambda kv: -kv[1])[:3]


@pytest.mark.parametrize("size", [16, 33])
def test_parts_draw_at_small_odd_sizes(size):
    canvas, face = make_face(n=2, size=size, glasses=[True, False], hair_style=[2, 3])
    for part in (head.draw_back_hair, head.draw_ears, eyes.draw, brows.draw, mouth.draw, accessories.draw_glasses):
        part(canvas, face)
    assert canvas.rgb.shape == (2, 3, size, size) and np.isfinite(canvas.rgb).all()


def test_gray_is_pils_luma_of_the_very_same_rgb_images():
    params = make_face(n=5, age=[0.0, 0.3, 0.6, 0.8, 1.0], au12=[0.0, 0.2, 0.5, 0.8, 1.0])[1].params
    rgb = facegen.render(params, image_size=24, channels=3)
    gray = facegen.render(params, image_size=24, channels=1, batch_size=2)  # batches of 2, 2 and 1
    expected = np.stack([np.asarray(Image.fromarray(image).convert("L")) for image in rgb])[..., None]
    assert gray.shape == (5, 24, 24, 1) and np.array_equal(gray, expected)


@pytest.mark.parametrize("kwargs,name", [
    (dict(image_size=15), "image_size"), (dict(image_size=32.0), "image_size"),
    (dict(batch_size=0), "batch_size"), (dict(channels=True), "channels"),
])
def test_render_names_the_bad_argument(kwargs, name):
    params = make_face(n=1)[1].params
    with pytest.raises(ValueError, match=name):
        facegen.render(params, **kwargs)


def test_generate_names_a_bad_seed_or_size():
    for kwargs, name in ((dict(seed=-1), "seed"), (dict(seed=True), "seed"), (dict(n_val=2.5), "n_val")):
        with pytest.raises(ValueError, match=name):
            facegen.generate(**{**dict(n_train=7, n_val=7, n_test=7), **kwargs})


# --------------------------------------------------------------------------- the package
MODULES = sorted(f"facegen.{p.stem}" for p in Path(facegen.__file__).parent.glob("*.py") if p.stem != "__init__")


def test_the_package_imports_numpy_scipy_and_pillow_only():
    """In a fresh interpreter, importing facegen (whose ``__init__`` runs before any of its
    modules, and imports them all) loads every module and no emolib, TensorFlow, Keras or
    pandas; and no import statement anywhere in it, inside functions included, names
    anything but NumPy, SciPy, Pillow, the standard library or facegen itself."""
    root = Path(facegen.__file__).resolve().parents[1]
    code = ("import sys, facegen; print(facegen.__file__); "
            "print(sorted(m for m in sys.modules if m.startswith('facegen.'))); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'emolib', 'tensorflow', 'keras', 'pandas'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True).stdout
    where, loaded, forbidden = out.splitlines()
    assert Path(where).resolve().parent == root / "facegen"
    assert loaded == str(MODULES) and forbidden == "[]"
    allowed = {"numpy", "scipy", "PIL", "facegen", *sys.stdlib_module_names}
    for path in Path(facegen.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                assert {a.name.split(".")[0] for a in node.names} <= allowed, (path.name, ast.unparse(node))
            elif isinstance(node, ast.ImportFrom) and not node.level:
                assert node.module.split(".")[0] in allowed, (path.name, ast.unparse(node))


def test_the_package_imports_itself_in_no_cycle():
    """Module -> module imports inside facegen (``from . import x`` is module ``x``;
    any other name imported from ``.`` is the package's ``__init__``) form no cycle."""
    folder = Path(facegen.__file__).parent
    names = {p.stem for p in folder.glob("*.py")}
    graph = {}
    for name in names:
        targets = set()
        for node in ast.walk(ast.parse((folder / f"{name}.py").read_text())):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "facegen" for a in node.names), name
            elif isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("facegen")):
                assert node.level in (0, 1), f"{name} imports from outside facegen: {node.module}"
                module = (node.module or "").removeprefix("facegen").lstrip(".") if node.level == 0 else node.module
                targets |= {module} if module else {a.name if a.name in names else "__init__" for a in node.names}
        graph[name] = targets - {name}
    done, path = set(), []

    def visit(name):
        assert name not in path, f"import cycle: {' -> '.join(path[path.index(name):] + [name])}"
        if name not in done:
            path.append(name)
            for target in graph[name]:
                visit(target)
            path.pop()
            done.add(name)

    for name in graph:
        visit(name)
    assert graph["__init__"] >= {"expressions", "generate", "labels", "params", "render"}


def test_generate_returns_plain_arrays():
    drawn = facegen.generate(n_train=9, n_val=5, n_test=4, image_size=16, seed=1, classes="seed002")
    assert drawn["classes"] == ("angry", "happy", "sad") and drawn["info"]["identities"]["train"] >= 1
    for name, n in (("train", 9), ("val", 5), ("test", 4)):
        split = drawn["splits"][name]
        assert split["images"].shape == (n, 16, 16, 1) and split["labels"].shape == (n,)
        assert all(isinstance(v, np.ndarray) and len(v) == n for v in split["meta"].values())
        assert list(split["meta"])[:4] == ["label", "emotion", "source", "split"]
        assert np.array_equal(split["meta"]["label"], split["labels"])
        assert set(split["meta"]["split"]) == {name}
