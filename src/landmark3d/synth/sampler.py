"""Random scene parameters. Every choice for image ``index`` of run ``seed`` comes from
``numpy.random.default_rng([seed, index])``, so an image depends on (seed, index) only, not on
batch size or worker count.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields

import numpy as np

#: Linear-RGB diffuse albedos spanning human skin from very light to very dark (approximate
#: values of measured skin reflectance, e.g. the range in Jimenez et al. 2010 "A practical
#: appearance model for dynamic facial color"); a tone in [0, 1] interpolates between them.
SKIN_TONES = np.array([
    [0.72, 0.50, 0.40], [0.64, 0.42, 0.32], [0.56, 0.35, 0.25], [0.45, 0.27, 0.17],
    [0.33, 0.19, 0.11], [0.21, 0.115, 0.065], [0.12, 0.065, 0.04],
], dtype=np.float32)

#: Linear-RGB iris colours: dark brown, brown, hazel, green, blue, grey.
IRIS_COLOURS = np.array([
    [0.05, 0.025, 0.012], [0.14, 0.06, 0.02], [0.20, 0.14, 0.05], [0.12, 0.16, 0.07],
    [0.09, 0.13, 0.20], [0.16, 0.17, 0.18]], dtype=np.float32)

#: Linear-RGB hair colours (brows, stubble): black, dark brown, brown, blond, red, grey, and
#: how often each is drawn.
HAIR_COLOURS = np.array([
    [0.012, 0.010, 0.009], [0.035, 0.022, 0.014], [0.09, 0.055, 0.03], [0.35, 0.25, 0.13],
    [0.25, 0.08, 0.03], [0.30, 0.29, 0.28]], dtype=np.float32)
HAIR_WEIGHTS = np.array([0.33, 0.28, 0.16, 0.11, 0.05, 0.07])


@dataclass
class FaceParams:
    """One scene. Angles in degrees; distances in cm; colours linear RGB."""

    identity: np.ndarray            # (100,) PCA coefficients
    expression: np.ndarray          # (53,) blendshape weights in [0, 1]
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    focal_px: float                 # focal length for the output size
    translation: np.ndarray         # (3,) head origin in camera space, cm
    skin_tone: float                # [0, 1] index into SKIN_TONES
    skin_rgb: np.ndarray            # (3,)
    blotch: float                   # strength of low-frequency albedo variation
    redness: float
    lip_rgb: np.ndarray
    brow_rgb: np.ndarray
    brow_density: float
    stubble: float                  # 0: none
    beard: float                    # full beard coverage, 0: none
    hat: int                        # 1: a knitted hat replaces the hair
    iris_rgb: np.ndarray
    specular: float
    roughness: float
    env_index: int
    env_rotation_deg: float         # about the vertical axis
    env_tilt_deg: float
    exposure: float
    background: int                 # 0: the HDRI; procedural: 1 blotches, 2 blurred panels, 3 bokeh
    bg_colours: np.ndarray          # (2, 3) for procedural backgrounds
    bg_scale: float
    bg_env: np.ndarray              # (2,) another HDRI as the background (index, rotation deg); -1: the same
    detail_offset: np.ndarray       # (2,) offset of the skin-detail noise (its variety per image)
    hair_line: np.ndarray           # (4,) hairline height (model y, cm): front, sides, back; softness
    hair_shape: np.ndarray          # (4,) thickness cm, sideburn length cm, hair present (0/1), fringe cm
    hair_rgb: np.ndarray            # (3,)
    hair_curtain: np.ndarray        # (6,) long hair sheet: present, 5 shape values in [0, 1)
    torso_deg: np.ndarray           # (3,) torso yaw, pitch, roll relative to the head
    cloth_rgb: np.ndarray           # (2, 3)
    cloth_pattern: int              # 0 plain, 1 stripes, 2 print
    lash_opacity: float
    ao_strength: float
    shadows: int                    # 1: the HDRI's dominant light casts shadows (if it has one)
    glasses: np.ndarray             # (11,) present, 6 shape values in [0, 1), frame RGB, lens opacity
    hand: np.ndarray                # (12,) present, 8 placement values in [0, 1), skin RGB
    skin_var: np.ndarray            # (4,) dark circles, cheek/nose redness, T-zone shine, blush
    blush_rgb: np.ndarray           # (3,)
    mask: np.ndarray                # (13,) present, style, 5 shape values in [0, 1), RGB, second RGB
    headphones: np.ndarray          # (15,) present, 7 shape values in [0, 1), boom mic, shell RGB, pad RGB
    # (6,) a hard key light replacing the HDRI's dominant one: present, azimuth and elevation
    # (deg, camera frame: + = towards image right / up), strength (x the map's ambient level),
    # ambient scale, colour temperature shift; see _key_light
    key_light: np.ndarray = field(default_factory=lambda: np.zeros(6, np.float32))
    # (11,) something held to the face: present, kind (accessories.HELD_KINDS), 6 placement values
    # in [0, 1), RGB; see _held
    held: np.ndarray = field(default_factory=lambda: np.zeros(11, np.float32))
    # (4,) the hairline's shape: a fringe's lower edge over the forehead, model y in cm at
    # azimuth phi (radians), max(base + (tilt + arch * phi) * phi, FRINGE_LOWEST), as (base, tilt,
    # arch); and how far the hairline recedes at the temples (cm); see _hairline_shape. The
    # default is what sidecars written before it existed had: a straight fringe edge at the
    # brows' tops, no recession.
    hairline_shape: np.ndarray = field(default_factory=lambda: np.array([7.2, 0.0, 0.0, 0.0], np.float32))
    # (7,) eye make-up: liner strength, liner width (cm), wing length (cm), shadow strength,
    # shadow RGB; see _eye_makeup. The default (none) is what older sidecars mean.
    eye_makeup: np.ndarray = field(default_factory=lambda: np.zeros(7, np.float32))
    # (4,) how long hair falls (hair.long_hair_mesh): in front of the +x / -x shoulder (0/1),
    # the front band's length share, the waves' phase; see _hair_drape. The default (behind
    # both shoulders) is what older sidecars mean.
    hair_drape: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    seed: int = 0
    index: int = 0
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        # field by field: dataclasses.asdict deep-copies every array first (~0.3 ms per image)
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.tolist() if isinstance(v, np.ndarray) else copy.deepcopy(v) if isinstance(v, dict) else v
        return out


def _cloth_colours(rng: np.random.Generator) -> np.ndarray:
    """Two linear-RGB clothing colours: mostly muted (greys, navy, earth tones), some vivid."""
    out = []
    for _ in range(2):
        grey = rng.uniform(0.01, 0.7) ** 1.5
        tint = rng.normal(0, 0.25 if rng.random() < 0.8 else 0.6, 3)
        out.append(np.clip(grey * np.exp(tint), 0.005, 0.85))
    return np.array(out, np.float32)


def _hair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hairline (front, sides, back heights in model y, cm; edge softness) and shape (volume
    thickness, sideburn length, present, fringe length). Styles: short 38%, short with a fringe
    17%, long (over the ears, down the neck) 37%, bald 8%; 12% receding hairlines. (Long hair
    was 22% until 2026-11-28; 24 AFLW2000-3D-dev crops showed it in 11.) The brows are at
    y ~ 6.3, the ears' tops at ~ 7.3, the crown at 14.5."""
    style = rng.choice(4, p=[0.38, 0.17, 0.37, 0.08])  # short, fringe, long, bald
    front = rng.uniform(11.5, 13.5) if rng.random() < 0.12 else rng.uniform(8.8, 10.8)
    side, back, thick = rng.uniform(7.0, 8.8), rng.uniform(-7.0, -2.0), rng.uniform(0.3, 1.8)
    fringe = rng.uniform(1.5, 4.0) if style == 1 else 0.0
    if style == 2:
        side, back, thick = rng.uniform(-1.0, 4.0), rng.uniform(-11.0, -7.0), rng.uniform(1.0, 2.5)
        fringe = rng.uniform(1.5, 4.0) if rng.random() < 0.4 else 0.0
    sideburn = rng.uniform(0.0, 4.5) * (rng.random() < 0.6) if style != 2 else 0.0
    line = np.array([front, side, back, rng.uniform(0.2, 0.8)], np.float32)
    shape = np.array([thick, sideburn, float(style != 3), fringe], np.float32)
    return line, shape


#: The fringe's edge never comes lower than this (model y, cm; the brows' tops are at ~7.2).
FRINGE_LOWEST = 6.9
HAIRLINE_STREAM = 0x46E1  # the hairline shape's sub-stream of the image's random state


def _hairline_shape(seed: int, index: int, hat: int) -> np.ndarray:
    """(4,) FaceParams.hairline_shape. The fringe's edge: cut straight across only now and then;
    else swept to one side (higher at one temple), rounded (longest in the middle) or parted
    (shorter in the middle). The temples: receding by 0.8-2.5 cm in 35 % of heads without a
    beanie (an M-shaped hairline). From its own random stream, so the image's other choices are
    what they were before the hairline had a shape."""
    rng = np.random.default_rng([seed, index, HAIRLINE_STREAM])
    base, tilt, arch = rng.uniform(7.2, 8.4), rng.uniform(-1.6, 1.6), rng.uniform(-0.8, 1.6)
    if rng.random() < 0.2:  # a blunt, straight fringe
        tilt, arch = 0.0, 0.0
    temples = rng.uniform(0.8, 2.5) if rng.random() < 0.35 else 0.0
    return np.array([base, tilt, arch, 0.0 if hat else temples], np.float32)


HAIR_DRAPE_RATE = 0.45    # long hair in front of a shoulder, per side
DRAPE_STREAM = 0x10C5     # the drape's sub-stream of the image's random state


def _hair_drape(seed: int, index: int) -> np.ndarray:
    """(4,) FaceParams.hair_drape: long hair falls in front of each shoulder in
    HAIR_DRAPE_RATE of cases (often on one side only, as when it is pushed back on the other).
    From its own random stream (drawn for every image, used only with long hair)."""
    rng = np.random.default_rng([seed, index, DRAPE_STREAM])
    return np.array([rng.random() < HAIR_DRAPE_RATE, rng.random() < HAIR_DRAPE_RATE, rng.random(), rng.random()],
                    np.float32)


EYE_MAKEUP_RATE = 0.22
MAKEUP_STREAM = 0x3E1E  # the eye make-up's sub-stream of the image's random state


def _eye_makeup(seed: int, index: int) -> np.ndarray:
    """(7,) FaceParams.eye_makeup, in 22 % of faces (real photos, AFLW2000-3D's among them, show
    eyeliner and mascara often; our lashes alone draw a light lid line): a dark liner along the
    upper lid's margin (strength 0.5-0.95, 0.05-0.16 cm wide, in a third of them a wing at the
    outer corner 0.2-0.6 cm long) and, in 60 % of those, eye shadow on the lid up to the crease
    (strength 0.2-0.6; browns, greys, plums, a few colours). From its own random stream, so the
    image's other choices are what they were before make-up existed."""
    rng = np.random.default_rng([seed, index, MAKEUP_STREAM])
    out = np.zeros(7, np.float32)
    if rng.random() >= EYE_MAKEUP_RATE:
        return out
    out[0] = rng.uniform(0.5, 0.95)
    out[1] = rng.uniform(0.05, 0.16)
    out[2] = rng.uniform(0.2, 0.6) if rng.random() < 0.33 else 0.0
    if rng.random() < 0.6:
        out[3] = rng.uniform(0.2, 0.6)
        palette = np.array([[0.10, 0.06, 0.04], [0.05, 0.05, 0.06], [0.12, 0.05, 0.10], [0.20, 0.12, 0.06],
                            [0.04, 0.08, 0.14], [0.06, 0.10, 0.05]], np.float32)
        out[4:7] = palette[rng.choice(len(palette), p=[0.3, 0.25, 0.15, 0.15, 0.08, 0.07])] * rng.uniform(0.7, 1.3)
    return out


def _glasses(rng: np.random.Generator) -> np.ndarray:
    """(11,): present (1 in 5 faces), shape values, frame colour, lens opacity (1 in 8 dark)."""
    present = float(rng.random() < 0.2)
    shape = rng.random(6)
    frame = rng.choice([0.01, 0.04, 0.15, 0.4]) * np.exp(rng.normal(0, 0.3, 3))
    lens = rng.uniform(0.75, 0.92) if rng.random() < 0.12 else rng.uniform(0.0, 0.15)
    return np.concatenate([[present], shape, frame, [lens]]).astype(np.float32)


#: How often a face wears a face mask / over-ear headphones. Real test photos have both (masks in
#: street and clinic photos, headsets in video calls), so the model must see the mouth and jaw
#: under cloth and the face without visible ears; a few percent teaches that without making
#: covered faces common (compare glasses 20%, hands 12%, beanies 7%).
MASK_RATE = 0.06
HEADPHONES_RATE = 0.05
#: Linear-RGB surgical mask colours (light blue, white, black, teal, pink) and their weights.
SURGICAL_COLOURS = np.array([[0.30, 0.50, 0.72], [0.78, 0.80, 0.82], [0.02, 0.02, 0.025],
                             [0.25, 0.55, 0.55], [0.75, 0.42, 0.50]], dtype=np.float32)
SURGICAL_WEIGHTS = np.array([0.5, 0.3, 0.1, 0.05, 0.05])


def _mask(rng: np.random.Generator) -> np.ndarray:
    """(13,): present, style (0 surgical 55%, 1 plain cloth 30%, 2 printed cloth 15%), shape
    (distance from the skin, top edge, depth under the chin, width, folds), colour, second colour
    (the print's; cloth masks take clothing colours, a third of them black)."""
    present = float(rng.random() < MASK_RATE)
    style = int(rng.choice(3, p=[0.55, 0.3, 0.15]))
    shape = rng.random(5)
    cloth = _cloth_colours(rng)
    if style == 0:
        colour = SURGICAL_COLOURS[rng.choice(len(SURGICAL_COLOURS), p=SURGICAL_WEIGHTS)] * rng.uniform(0.9, 1.05)
        second = colour
    else:
        colour = cloth[0] if rng.random() < 0.67 else np.full(3, rng.uniform(0.008, 0.03))
        second = cloth[1]
    return np.concatenate([[present, style], shape, colour, second]).astype(np.float32)


#: Share of images lit by a hard key light (a low sun, a lamp or flash from the side) instead of
#: the HDRI's own dominant light: the maps' direct-to-ambient ratios are mostly mild, and side
#: light with deep shadows is among the worst cases on real photos (docs/generator.md).
KEY_LIGHT_RATE = 0.25


def _key_light(rng: np.random.Generator) -> np.ndarray:
    """(6,): present; azimuth 20-110 deg either side of the camera axis; elevation -15..60 deg;
    strength 1.5-6 x the ambient level; ambient scale 0.15-0.7; warmth -1..1 (cool..warm tint)."""
    present = float(rng.random() < KEY_LIGHT_RATE)
    azimuth = rng.uniform(20, 110) * rng.choice([-1, 1])
    return np.array([present, azimuth, rng.uniform(-15, 60), np.exp(rng.uniform(np.log(1.5), np.log(6.0))),
                     rng.uniform(0.15, 0.7), rng.uniform(-1, 1)], np.float32)


#: How often something is held to the face (a phone at the ear or before the chin, a cup at the
#: lips, a microphone before the mouth): hard occlusion of the jaw, mouth and chin by things
#: that are not hands, as in photos of calls, drinks and talks.
HELD_RATE = 0.05


def _held(rng: np.random.Generator) -> np.ndarray:
    """(11,): present, kind (phone at the ear 35 %, phone before the chin 25 %, cup 20 %,
    microphone 20 %), 6 placement values, colour (phones mostly black or white, cups mostly white,
    microphones near-black)."""
    present = float(rng.random() < HELD_RATE)
    kind = int(rng.choice(4, p=[0.35, 0.25, 0.2, 0.2]))
    values = rng.random(6)
    grey = [rng.uniform(0.006, 0.02), rng.uniform(0.03, 0.15), rng.uniform(0.6, 0.8)]
    if kind < 2:
        colour = np.full(3, grey[rng.choice(3, p=[0.6, 0.2, 0.2])]) if rng.random() < 0.85 else _cloth_colours(rng)[0]
    elif kind == 2:
        colour = np.full(3, rng.uniform(0.65, 0.8)) if rng.random() < 0.5 else _cloth_colours(rng)[0]
    else:
        colour = np.full(3, grey[0] if rng.random() < 0.8 else grey[1])
    return np.concatenate([[present, kind], values, colour]).astype(np.float32)


def _headphones(rng: np.random.Generator) -> np.ndarray:
    """(15,): present, shape (cup size, cup depth, band width, band tilt, cup tilt, microphone
    side, microphone distance), boom microphone (1 in 3: a headset), shell colour (half black,
    else grey, white or a clothing colour), cushion colour (mostly near-black)."""
    present = float(rng.random() < HEADPHONES_RATE)
    shape = rng.random(7)
    mic = float(rng.random() < 0.33)
    kind = rng.choice(4, p=[0.5, 0.2, 0.15, 0.15])
    shell = [np.full(3, rng.uniform(0.008, 0.025)), np.full(3, rng.uniform(0.05, 0.2)),
             np.full(3, rng.uniform(0.6, 0.8)), _cloth_colours(rng)[0]][kind]
    pad = np.full(3, rng.uniform(0.008, 0.03)) if rng.random() < 0.8 else shell * 0.6
    return np.concatenate([[present], shape, [mic], shell, pad]).astype(np.float32)


def _pairs(names: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """Group ARKit names into symmetric sets: 'browDown' -> (i_L, i_R), 'jawOpen' -> (i,)."""
    groups: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        base = n[:-2] if n.endswith(("_L", "_R")) else n
        groups.setdefault(base, []).append(i)
    return {k: tuple(v) for k, v in groups.items()}


_EYE_CONTROLLED = ("eyeLookDown", "eyeLookIn", "eyeLookOut", "eyeLookUp", "eyeBlink")
_EXCLUSIVE = {"jawLeft": "jawRight", "mouthLeft": "mouthRight"}


def sample_expression(rng: np.random.Generator, names: tuple[str, ...]) -> np.ndarray:
    """Sparse ARKit mix: a few random shapes (mostly symmetric, some asymmetric), a neutral face
    now and then, blinks, jaw opening and gaze."""
    w = np.zeros(len(names), np.float32)
    idx = {n: i for i, n in enumerate(names)}
    groups = _pairs(names)
    free = [g for g in groups if g not in _EYE_CONTROLLED]
    if rng.random() > 0.12:  # 12% neutral faces
        for g in rng.choice(free, size=min(len(free), rng.poisson(2.5) + 1), replace=False):
            if g in _EXCLUSIVE.values():
                continue
            level = float(rng.beta(1.2, 1.8))
            ids = groups[g]
            if len(ids) == 2:
                asym = rng.random() < 0.25
                for i in ids:
                    w[i] = level * (rng.uniform(0.0, 1.0) if asym else rng.uniform(0.85, 1.0))
            else:
                w[ids[0]] = level
    if rng.random() < 0.3:
        w[idx["jawOpen"]] = max(w[idx["jawOpen"]], float(rng.beta(1.5, 2.5)))
    # eyes: open / half / closed, with a little asymmetry
    r = rng.random()
    blink = 0.0 if r < 0.75 else (rng.uniform(0.2, 0.7) if r < 0.88 else rng.uniform(0.85, 1.0))
    for s in ("_L", "_R"):
        w[idx["eyeBlink" + s]] = np.clip(blink + rng.normal(0, 0.05), 0, 1)
    # gaze: h > 0 looks to the subject's left; v > 0 looks up
    h, v = np.clip(rng.normal(0, 0.45, size=2), -1, 1)
    if h > 0:
        w[idx["eyeLookOut_L"]] = h
        w[idx["eyeLookIn_R"]] = h
    else:
        w[idx["eyeLookIn_L"]] = -h
        w[idx["eyeLookOut_R"]] = -h
    for s in ("_L", "_R"):
        w[idx[("eyeLookUp" if v > 0 else "eyeLookDown") + s]] = abs(v)
    return np.clip(w, 0.0, 1.0)


#: Expressions common in photos, added (per-shape maximum) to the sparse random mix of
#: :func:`sample_expression`, which alone gave a smile in ~13 % of faces and bared teeth in few.
#: Per archetype: its share and its ARKit weights (pairs "_L"/"_R" by their base name).
EXPRESSION_ARCHETYPES = {
    "smile": (0.35, {"mouthSmile": 0.7, "cheekSquint": 0.35, "eyeSquint": 0.2, "mouthDimple": 0.2}),
    "toothy smile": (0.35, {"mouthSmile": 0.85, "cheekSquint": 0.45, "eyeSquint": 0.3, "mouthUpperUp": 0.4,
                            "mouthLowerDown": 0.35, "jawOpen": 0.1}),
    "laugh": (0.12, {"mouthSmile": 1.0, "cheekSquint": 0.6, "eyeSquint": 0.45, "mouthUpperUp": 0.45,
                     "mouthLowerDown": 0.55, "jawOpen": 0.4}),
    "talk": (0.12, {"jawOpen": 0.2, "mouthLowerDown": 0.25, "mouthUpperUp": 0.15, "mouthFunnel": 0.15}),
    "surprise": (0.06, {"browInnerUp": 0.7, "browOuterUp": 0.7, "eyeWide": 0.5, "jawOpen": 0.35}),
}
EXPRESSION_ARCHETYPE_RATE = 0.4
EXPRESSION_STREAM = 0x5A11  # the archetype's sub-stream of the image's random state


def expression_archetype(seed: int, index: int, names: tuple[str, ...]) -> np.ndarray:
    """(len(names),) the image's archetype weights (zeros in 60 % of images): one of
    :data:`EXPRESSION_ARCHETYPES` at 50-110 % strength, each shape jittered by ±20 %, the two
    sides by ±10 % more. From its own random stream, so the image's other choices are what
    they were before archetypes existed."""
    rng = np.random.default_rng([seed, index, EXPRESSION_STREAM])
    w = np.zeros(len(names), np.float32)
    if rng.random() >= EXPRESSION_ARCHETYPE_RATE:
        return w
    kinds = list(EXPRESSION_ARCHETYPES)
    share = np.array([EXPRESSION_ARCHETYPES[k][0] for k in kinds])
    shapes = EXPRESSION_ARCHETYPES[kinds[rng.choice(len(kinds), p=share / share.sum())]][1]
    level = rng.uniform(0.5, 1.1)
    idx = {n: i for i, n in enumerate(names)}
    for base, value in shapes.items():
        v = value * level * rng.uniform(0.8, 1.2)
        for name in (base, base + "_L", base + "_R"):
            if name in idx:
                w[idx[name]] = v * (rng.uniform(0.9, 1.1) if name != base else 1.0)
    return np.clip(w, 0.0, 1.0)


def sample_params(seed: int, index: int, size: int, num_identity: int,
                  expression_names: tuple[str, ...], num_envs: int) -> FaceParams:
    rng = np.random.default_rng([seed, index])
    identity = np.clip(rng.normal(0, 1, num_identity), -2.5, 2.5).astype(np.float32)
    expression = np.maximum(sample_expression(rng, expression_names),
                            expression_archetype(seed, index, expression_names))
    # pose: half near-frontal, half uniform in yaw up to profile
    yaw = rng.normal(0, 25) if rng.random() < 0.5 else rng.uniform(-90, 90)
    yaw = float(np.clip(yaw, -90, 90))
    pitch = float(np.clip(rng.normal(0, 14), -45, 45))
    roll = float(np.clip(rng.normal(0, 10), -40, 40))
    # camera: vertical field of view 18-60 degrees (narrower would magnify the 1024-pixel HDRI
    # background too much); the face (~16 cm incl. forehead) fills 28-65% of the frame, a little
    # above the centre, with some jitter (10%: more, so faces get cut by the edge)
    fov = np.deg2rad(rng.uniform(18, 60))
    focal = 0.5 * size / np.tan(fov / 2)
    fill = rng.uniform(0.28, 0.65)
    dist = focal * 16.0 / (fill * size)
    shift = rng.normal(0, 0.06, size=2) * (1.0 if rng.random() < 0.9 else 2.2) - [0.0, 0.04]
    tx, ty = shift * dist * size / focal
    translation = np.array([tx, ty, dist], np.float32)
    tone = float(rng.random())
    t = tone * (len(SKIN_TONES) - 1)
    lo = int(np.floor(t))
    hi = min(lo + 1, len(SKIN_TONES) - 1)
    skin = (SKIN_TONES[lo] * (1 - (t - lo)) + SKIN_TONES[hi] * (t - lo)) * rng.uniform(0.9, 1.1, 3)
    lip = skin * np.array([0.85, 0.55, 0.55]) * rng.uniform(0.7, 1.0)
    if rng.random() < 0.15:  # lipstick
        lip = np.array([rng.uniform(0.3, 0.6), rng.uniform(0.01, 0.08), rng.uniform(0.02, 0.1)])
    hair = HAIR_COLOURS[rng.choice(len(HAIR_COLOURS), p=HAIR_WEIGHTS)] * rng.uniform(0.7, 1.3)
    brow = hair * rng.uniform(0.5, 1.0)
    hair_line, hair_shape = _hair(rng)
    long_hair = hair_line[1] < 5.0  # _hair's long style: the side line runs below the ears' tops
    hat = int(rng.random() < 0.07)
    if hat:  # a beanie: low on the forehead, over the ears' tops, thick
        hair_line = np.array([rng.uniform(8.3, 9.8), rng.uniform(5.5, 7.0), rng.uniform(-3.0, 0.0), 0.15], np.float32)
        hair_shape = np.array([rng.uniform(1.2, 2.2), 0.0, 1.0, 0.0], np.float32)
    return FaceParams(
        identity=identity, expression=expression, yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll,
        focal_px=float(focal), translation=translation, skin_tone=tone,
        skin_rgb=skin.astype(np.float32), blotch=float(rng.uniform(0.0, 0.25)),
        redness=float(rng.uniform(0.0, 0.3)), lip_rgb=lip.astype(np.float32),
        brow_rgb=brow.astype(np.float32), brow_density=float(rng.uniform(0.5, 1.0)),
        stubble=float(rng.uniform(0, 0.8)) if rng.random() < 0.3 else 0.0,
        beard=float(rng.uniform(0.5, 1.0)) if rng.random() < 0.08 else 0.0,
        hat=hat,
        iris_rgb=(IRIS_COLOURS[rng.choice(len(IRIS_COLOURS), p=[0.4, 0.25, 0.12, 0.08, 0.1, 0.05])]
                  * rng.uniform(0.7, 1.2)).astype(np.float32),
        specular=float(rng.uniform(0.015, 0.04)), roughness=float(rng.uniform(0.3, 0.7)),
        env_index=int(rng.integers(num_envs)), env_rotation_deg=float(rng.uniform(0, 360)),
        env_tilt_deg=float(rng.normal(0, 10)), exposure=float(0.6 * np.exp(rng.normal(0, 0.35))),
        background=int(rng.integers(1, 4)) if rng.random() < 0.2 else 0,
        bg_env=np.array([rng.integers(num_envs) if rng.random() < 0.15 else -1, rng.uniform(0, 360)], np.float32),
        bg_colours=_cloth_colours(rng),
        bg_scale=float(np.exp(rng.uniform(np.log(1.0), np.log(12)))),
        detail_offset=rng.random(2).astype(np.float32),
        hair_line=hair_line, hair_shape=hair_shape, hair_rgb=hair.astype(np.float32),
        hair_curtain=np.concatenate([[float(long_hair and not hat)], rng.random(5)]).astype(np.float32),
        # (pitch: the head bowed or raised relative to the body, which the neck takes up)
        torso_deg=np.clip(rng.normal(0, [12, 8, 4]), [-30, -20, -30], [30, 20, 30]).astype(np.float32),
        cloth_rgb=_cloth_colours(rng),
        cloth_pattern=int(rng.choice(3, p=[0.6, 0.2, 0.2])),
        lash_opacity=float(rng.uniform(0.3, 0.8)),
        ao_strength=float(rng.uniform(0.6, 1.0)),
        shadows=int(rng.random() < 0.6),
        glasses=_glasses(rng),
        skin_var=np.array([rng.uniform(0, 0.9), rng.uniform(0, 0.8), rng.uniform(0, 1.0),
                           rng.uniform(0.1, 0.35) * (rng.random() < 0.15)], np.float32),
        blush_rgb=np.array([0.6, 0.2, 0.22], np.float32) * rng.uniform(0.6, 1.0),
        hand=np.concatenate([[float(rng.random() < 0.12)], rng.random(8),
                             skin * rng.uniform(0.85, 1.1, 3)]).astype(np.float32),
        # drawn last: the other choices of an image stay what they were before facewear, the key
        # light and held objects existed
        mask=_mask(rng), headphones=_headphones(rng), key_light=_key_light(rng), held=_held(rng),
        hairline_shape=_hairline_shape(seed, index, hat), eye_makeup=_eye_makeup(seed, index),
        hair_drape=_hair_drape(seed, index),
        seed=seed, index=index,
    )
