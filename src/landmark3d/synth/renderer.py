"""Offscreen OpenGL renderer (moderngl, standalone EGL context: Mesa llvmpipe on a CPU, the
NVIDIA driver on a GPU).

Camera: pinhole, camera frame x right, y down, z forward (cm); principal point at the image
centre ``((S - 1) / 2, (S - 1) / 2)`` in the 0-based pixel-centre convention, so a camera point
projects to ``u = f X / Z + (S - 1) / 2``, ``v = f Y / Z + (S - 1) / 2``. The framebuffer's first
row read back is image row 0 (the projection maps y down to NDC y up), so no flip is needed.
One RGBA8 target holds the colour (RGB) and the segmentation class (A = class / 255).
"""
from __future__ import annotations

import numpy as np

from ..errors import Landmark3dError, require
from . import shaders
from .assets import PARTS
from .facemodel import (HEAD_ORIGIN, MATERIAL, MATERIAL_CLOTH, MATERIAL_FACEWEAR, MATERIAL_GLASSES, MATERIAL_HAIR,
                        MATERIAL_HAIR_CARDS, MATERIAL_HAND, MATERIAL_LENS, MODEL_TO_HEAD, SEG, FaceModel)
from .facewear import pleats
from .hair import (STRAND_TEX_H, STRAND_TEX_W, HairCards, azimuth, flow_style, hairline, hairline_basis,
                   LONG_HAIR_NEAR_DEG, long_hair_mesh, strand_texture, under_long_hair)
from .skin_parts import SkinParts, hair_reach
from .torso import NECK_PIVOT, Neck, boundary_loop, torso_mesh
from .lighting import Environment
from .textures import DETAIL_SIZE, REGION_SIZE, detail_texture, region_texture, skin_region_texture, vertex_noise

NEAR_CM = 1.0
FAR_CM = 10000.0
SHADOW_SIZE = 384        # shadow map side (texels)
SHADOW_RADIUS_CM = 30.0  # half-extent of the light's orthographic view: head, hair and shoulders
#: Frames a renderer may have submitted and not yet collected, by default (Renderer.submit).
IN_FLIGHT = 3


class RenderContextError(Landmark3dError, RuntimeError):
    """No headless OpenGL context could be created."""


def _load_torchvision_first() -> None:
    """Loading torchvision's native extension after Mesa's EGL/llvmpipe driver is in the process
    crashes it (segfault, seen with torch 2.14.1 + torchvision 0.29.1 + Mesa 22/LLVM 15). In a
    process that already uses torch, load torchvision now, before the driver."""
    import importlib.util
    import sys

    if "torch" in sys.modules and "torchvision" not in sys.modules and importlib.util.find_spec("torchvision"):
        import torchvision  # noqa: F401


def create_context(backend: str = "egl"):
    """A standalone OpenGL 3.3 context; raises :class:`RenderContextError` with install hints."""
    moderngl = require("moderngl", "synth", "the synthetic face renderer")
    _load_torchvision_first()
    try:
        ctx = moderngl.create_context(standalone=True, backend=backend, require=330)
    except Exception as exc:  # moderngl/glcontext raise plain Exceptions
        raise RenderContextError(
            f"could not create a headless OpenGL 3.3 context with the '{backend}' backend ({exc}). "
            "Headless rendering needs EGL and an OpenGL driver: on Debian/Ubuntu "
            "'apt-get install libegl1 libgl1-mesa-dri' (Mesa llvmpipe renders on the CPU); on an "
            "NVIDIA machine the driver's EGL vendor library (see __EGL_VENDOR_LIBRARY_FILENAMES)."
        ) from exc
    _current[0] = ctx  # a new standalone context is current
    return ctx


#: The context last made current by create_context or make_current in this process.
_current = [None]


def make_current(ctx) -> None:
    """Make ``ctx`` the current context unless it already is (draws go to the current context,
    and each renderer of a process has its own). Tracked here rather than made current every
    frame, which could flush or stall a GPU driver."""
    if _current[0] is not ctx:
        ctx.__enter__()  # (moderngl's way; its __exit__ would only restore the previous one)
        _current[0] = ctx


class Renderer:
    """Renders one face at a time into an S x S framebuffer; reuse it for many frames.

    Draw order per frame: the shadow map of the dominant light (if the HDRI has one); the skin
    (back faces culled), mouth and eyes, the sclera (the only program with ``discard``, for the
    transparent cornea: llvmpipe rejects hidden fragments before shading only in programs
    without it), long hair, glasses frames, hands, held objects, facewear (masks, headphones),
    the torso, the neck; then the background where nothing was drawn; then, blended and without writing
    depth, eyelashes and lenses (so the depth buffer used for landmark visibility holds what they
    cover).
    """

    def __init__(self, model: FaceModel, environments: list[Environment], size: int, ctx=None,
                 in_flight: int = IN_FLIGHT):
        self.model = model
        self.in_flight = int(in_flight)
        self.size = int(size)
        self.ctx = ctx if ctx is not None else create_context()
        ctx = self.ctx
        make_current(ctx)
        self._moderngl = moderngl = require("moderngl", "synth", "the synthetic face renderer")
        names = list(model.assets.expression_names)
        self.blink_ids = (names.index("eyeBlink_L"), names.index("eyeBlink_R"))
        self._programs = {}  # (material(s), cornea, hair cards, skin blocks) -> program
        self.cloth_prog = self._program(MATERIAL_CLOTH)
        # hair cards and the long-hair sheet: alpha-tested (discard), so programs of their own
        self.hair_prog = self._program(MATERIAL_HAIR_CARDS, hair_cards=True)
        self.curtain_prog = self._program(MATERIAL_HAIR, hair_cards=True)
        self.shadow_prog = ctx.program(vertex_shader=shaders.shadow_vs(), fragment_shader=shaders.SHADOW_FS)
        r = len(model.render_vertex)
        self.pos_buf = ctx.buffer(reserve=r * 12, dynamic=True)
        self.nrm_buf = ctx.buffer(reserve=r * 12, dynamic=True)
        info = np.stack([model.material, model.vertex_class], axis=1).astype("i4")
        noise = vertex_noise(model.assets.neutral[model.render_vertex])
        ambient = model.ambient_occlusion().astype("f4")
        attrs = [(self.pos_buf, "3f", "in_pos"), (self.nrm_buf, "3f", "in_normal"),
                 (ctx.buffer(model.render_uv.astype("f4").tobytes()), "2f", "in_uv"),
                 (ctx.buffer(model.assets.neutral[model.render_vertex].astype("f4").tobytes()), "3f", "in_rest"),
                 (ctx.buffer(info.tobytes()), "2i", "in_info"),
                 (ctx.buffer(ambient.tobytes()), "1f", "in_ao"),
                 (ctx.buffer(noise.tobytes()), "2f", "in_noise")]
        mat = model.material[model.indices[:, 0]]
        part = np.array(PARTS)[model.render_part[model.indices[:, 0]]]
        lash = mat == MATERIAL["M_EyeLashes"]
        sclera = mat == MATERIAL["M_ScleraLeft"]
        skin = np.isin(part, ["M_Face", "M_BackHead"])  # closed, outward-wound: back faces culled
        # mouth, teeth, irises: their back faces culled as well (closed, outward-wound meshes; of 150
        # open-mouthed renders 6 changed, by at most 2 pixels): the draw cost ~3 ms per frame, nearly
        # all the set-up of triangles facing away, 1.7 ms with culling (synth_draw_profile.py)
        other = ~(lash | sclera | skin)

        def vao(prog, mask):
            ib = ctx.buffer(np.ascontiguousarray(model.indices[mask], dtype="i4").tobytes())
            return ctx.vertex_array(prog, _present(prog, attrs), index_buffer=ib)

        mouth_eyes = tuple(sorted(set(mat[other].tolist())))  # gums and tongue, teeth, irises
        self.head_draws = [(vao(self._program(mouth_eyes), other), True),
                           (vao(self._program(MATERIAL["M_ScleraLeft"], cornea=True), sclera), False)]
        self.skin = SkinParts(self, model.indices[skin], model.render_uv,
                              model.assets.neutral[model.render_vertex], attrs)
        self.head_shadow = vao(self.shadow_prog, skin)
        self.lash_vao = vao(self._program(MATERIAL["M_EyeLashes"]), lash)
        self.neck = _neck(model, model.indices[skin], ambient)
        rest = self.neck.rest
        nattrs = [(ctx.buffer(reserve=len(rest) * 12, dynamic=True), "3f", "in_pos"),
                  (ctx.buffer(reserve=len(rest) * 12, dynamic=True), "3f", "in_normal"),
                  (ctx.buffer(self.neck.uv.tobytes()), "2f", "in_uv"),
                  (ctx.buffer(rest.astype("f4").tobytes()), "3f", "in_rest"),
                  (ctx.buffer(np.tile(np.array([[0, SEG["neck"]]], "i4"), (len(rest), 1)).tobytes()), "2i", "in_info"),
                  (ctx.buffer(self.neck.ao.tobytes()), "1f", "in_ao"),
                  (ctx.buffer(vertex_noise(rest).tobytes()), "2f", "in_noise")]
        self.neck_bufs = (nattrs[0][0], nattrs[1][0])
        nib = ctx.buffer(self.neck.triangles.tobytes())
        self.neck_vaos = {}  # scalp hair reaches it or not -> vertex array
        for hair in (True, False):
            prog = self._program(0, skin=(False, False, hair, False))
            self.neck_vaos[hair] = ctx.vertex_array(prog, _present(prog, nattrs), index_buffer=nib)
        self.neck_hair = (hairline_basis(azimuth(rest)), rest[:, 1])
        self.neck_shadow = ctx.vertex_array(self.shadow_prog, _present(self.shadow_prog, nattrs), index_buffer=nib)

        tp, tn, tuv, ttri = torso_mesh()
        tinfo = np.tile(np.array([[MATERIAL_CLOTH, SEG["clothing"]]], "i4"), (len(tp), 1))
        tattrs = [(ctx.buffer(tp.tobytes()), "3f", "in_pos"), (ctx.buffer(tn.tobytes()), "3f", "in_normal"),
                  (ctx.buffer(tuv.tobytes()), "2f", "in_uv"), (ctx.buffer(tp.tobytes()), "3f", "in_rest"),
                  (ctx.buffer(tinfo.tobytes()), "2i", "in_info"),
                  (ctx.buffer(np.ones(len(tp), "f4").tobytes()), "1f", "in_ao")]
        tib = ctx.buffer(ttri.tobytes())
        self.torso_vao = ctx.vertex_array(self.cloth_prog, _present(self.cloth_prog, tattrs), index_buffer=tib)
        self.torso_shadow = ctx.vertex_array(self.shadow_prog, _present(self.shadow_prog, tattrs), index_buffer=tib)

        self.glasses_frame = self._dynamic_mesh(MATERIAL_GLASSES, SEG["glasses"])
        self.glasses_lens = self._dynamic_mesh(MATERIAL_LENS, SEG["glasses"])
        self.hand = self._dynamic_mesh(MATERIAL_HAND, SEG["ignore"])  # no FaceSynthetics class
        self.held = self._dynamic_mesh(MATERIAL_GLASSES, SEG["ignore"])  # phones, cups, microphones: nor these
        self.curtain = self._dynamic_mesh(MATERIAL_HAIR, SEG["hair"], prog=self.curtain_prog)
        self.cards = self._dynamic_mesh(MATERIAL_HAIR_CARDS, SEG["hair"], prog=self.hair_prog)
        self.mask = self._dynamic_mesh(MATERIAL_FACEWEAR, SEG["facewear"])
        self.headphones = self._dynamic_mesh(MATERIAL_GLASSES, SEG["facewear"])
        self.headphone_pads = self._dynamic_mesh(MATERIAL_GLASSES, SEG["facewear"])
        # the head's skin and its ear regions, which facewear is fitted to
        self.skin_ids = np.flatnonzero(model.material == MATERIAL["M_Face"])
        cls = model.vertex_class[self.skin_ids]
        self.skin_rest = model.assets.neutral[model.render_vertex[self.skin_ids]].astype(np.float64)
        self.skin_noise = noise[self.skin_ids]
        self.skin_ear = np.where(cls == SEG["right_ear"], 1, np.where(cls == SEG["left_ear"], -1, 0))
        # the skin that long hair may come near (every other point of the head's sides, hair.skin_reach)
        side = np.abs(np.degrees(azimuth(self.skin_rest))) > LONG_HAIR_NEAR_DEG
        self.long_hair_skin = self.skin_ids[np.flatnonzero(side)[::2]]
        self.hair_cards = HairCards(self.skin_rest, _rest_normals(model)[self.skin_ids],
                                    _vertex_area(model)[self.skin_ids])
        quad = ctx.buffer(np.array([-1, -1, 3, -1, -1, 3], "f4").tobytes())
        self.bg_vaos = []  # one program per background mode (sampler.FaceParams.background)
        for mode in range(4):
            prog = ctx.program(vertex_shader=shaders.BACKGROUND_VS, fragment_shader=shaders.background_fs(mode))
            self.bg_vaos.append(ctx.vertex_array(prog, [(quad, "2f", "in_pos")]))

        # no mipmaps for the detail and mask textures: trilinear sampling costs llvmpipe ~15% of
        # a frame, and the masks are blurred and the noise is noise, so bilinear looks the same
        self.regions = ctx.texture((REGION_SIZE, REGION_SIZE), 4, region_texture(model).tobytes())
        self.skin_regions = ctx.texture((REGION_SIZE, REGION_SIZE), 4, skin_region_texture(model).tobytes())
        self.detail = ctx.texture((DETAIL_SIZE, DETAIL_SIZE), 4, detail_texture().tobytes())
        # mipmapped: far away the strands average into locks, and the alpha test cuts those
        self.strand_tex = ctx.texture((STRAND_TEX_W, STRAND_TEX_H), 4, strand_texture().tobytes())
        self.strand_tex.repeat_y = False
        self.strand_tex.build_mipmaps()
        self.strand_tex.filter = (moderngl.LINEAR_MIPMAP_NEAREST, moderngl.LINEAR)  # (trilinear costs more)
        self.environments = environments
        self.env_tex, self.bg_tex = [], []
        for env in environments:
            t = ctx.texture((env.texture.shape[1], env.texture.shape[0]), 3,
                            np.ascontiguousarray(env.texture, dtype="f4").tobytes(), dtype="f4")
            t.repeat_y = False
            t.build_mipmaps()
            self.env_tex.append(t)
            b = ctx.texture((env.background.shape[1], env.background.shape[0]), 3,
                            np.ascontiguousarray(env.background, dtype="f2").tobytes(), dtype="f2")
            b.repeat_y = False
            self.bg_tex.append(b)
        self.env_sh = [np.ascontiguousarray(env.sh, dtype="f4").tobytes() for env in environments]
        self.env_gloss = [np.ascontiguousarray(env.sh_gloss[:4], dtype="f4").tobytes() for env in environments]
        self.color = ctx.texture((self.size, self.size), 4)
        self.depth = ctx.depth_texture((self.size, self.size))
        self.fbo = ctx.framebuffer(color_attachments=[self.color], depth_attachment=self.depth)
        # pixel buffers the frames are copied into on the GPU side, read when collected
        pixels = self.size * self.size * 4  # bytes of an RGBA8 frame, and of its float32 depth
        self._readback = [(ctx.buffer(reserve=pixels), ctx.buffer(reserve=pixels)) for _ in range(self.in_flight)]
        self._busy, self._next_slot = set(), 0
        self.shadow_map = ctx.depth_texture((SHADOW_SIZE, SHADOW_SIZE))
        self.shadow_map.compare_func = "<="
        self.shadow_map.filter = (moderngl.LINEAR, moderngl.LINEAR)  # 2x2 percentage-closer filtering
        self.shadow_map.repeat_x = self.shadow_map.repeat_y = False
        self.shadow_fbo = ctx.framebuffer(depth_attachment=self.shadow_map)
        self.regions.use(1)
        self.detail.use(2)
        self.skin_regions.use(3)
        self.shadow_map.use(4)
        self.strand_tex.use(5)

    def release(self) -> None:
        if _current[0] is self.ctx:
            _current[0] = None
        self.ctx.release()

    def _program(self, material, cornea: bool = False, hair_cards: bool = False,
                 skin: tuple = (True, True, True, True)):
        """The shading program for one material (or a tuple of them): one per key, made once
        (shaders.face_fs says why each draw's materials get their own). ``skin``: the skin's
        blocks it has (face regions, beard, scalp hair, eye make-up; see skin_parts.py)."""
        key = (material, cornea, hair_cards, skin)
        if key not in self._programs:
            prog = self.ctx.program(vertex_shader=shaders.face_vs(scalp=material == 0, hair_cards=hair_cards),
                                    fragment_shader=shaders.face_fs(cornea, material, hair_cards, *skin))
            # its uniforms by name, looked up once: setting ~50 uniforms on several programs
            # through ``prog[name]`` every frame cost ~1 ms of Python
            table = {name: prog[name] for name in prog if isinstance(prog[name], self._moderngl.Uniform)}
            self._programs[key] = (prog, table)
        return self._programs[key][0]

    def vertex_array(self, prog, attrs, index_buffer=None):
        """A vertex array of ``prog`` over the (buffer, format, name) ``attrs`` it uses."""
        return self.ctx.vertex_array(prog, _present(prog, attrs), index_buffer=index_buffer)

    def _cull(self, on: bool) -> None:
        (self.ctx.enable if on else self.ctx.disable)(self.ctx.CULL_FACE)

    @staticmethod
    def _set(prog, name, value):
        if name in prog:
            prog[name].value = value

    def _dynamic_mesh(self, material: int, cls: int, capacity: int = 20000, prog=None):
        """Buffers, a shading and a shadow vertex array for a small per-image mesh (shaded by
        ``prog``, default the program of its material)."""
        ctx = self.ctx
        prog = prog or self._program(material)
        bufs = {name: ctx.buffer(reserve=capacity * size, dynamic=True)
                for name, size in (("pos", 12), ("nrm", 12), ("uv", 8), ("idx", 12), ("tan", 16))}
        info = np.tile(np.array([[material, cls]], "i4"), (capacity, 1))
        attrs = [(bufs["pos"], "3f", "in_pos"), (bufs["nrm"], "3f", "in_normal"), (bufs["uv"], "2f", "in_uv"),
                 (bufs["pos"], "3f", "in_rest"), (ctx.buffer(info.tobytes()), "2i", "in_info"),
                 (ctx.buffer(np.ones(capacity, "f4").tobytes()), "1f", "in_ao"), (bufs["tan"], "4f", "in_tangent")]
        return {"bufs": bufs, "count": 0, "prog": prog,
                "vao": ctx.vertex_array(prog, _present(prog, attrs), index_buffer=bufs["idx"]),
                "shadow": ctx.vertex_array(self.shadow_prog, _present(self.shadow_prog, attrs),
                                           index_buffer=bufs["idx"])}

    @staticmethod
    def _upload(mesh, pos, nrm, tris, uv=None, tangent=None) -> None:
        bufs = mesh["bufs"]
        arrays = {"pos": pos, "nrm": nrm, "uv": np.zeros((len(pos), 2)) if uv is None else uv, "idx": tris}
        if tangent is not None:
            arrays["tan"] = tangent
        for name, a in arrays.items():
            bufs[name].orphan()  # (see submit)
            bufs[name].write(np.ascontiguousarray(a, "i4" if name == "idx" else "f4"))
        mesh["count"] = tris.size

    def _accessories(self, params, landmarks_model, vertices, normals, camera=None, torso_rotation=None) -> list:
        """Build this image's hair cards, glasses, long hair, hand, held object and facewear; returns the
        meshes to draw as ``(mesh, colour or None)`` (the cards are drawn on their own).
        ``camera``: the (rotation, translation) of the model frame into the camera's;
        ``torso_rotation``: the torso's relative to the head (:func:`params_torso_rotation`), which
        long hair lies on (None: as if unturned)."""
        from . import accessories

        for mesh in (self.glasses_frame, self.glasses_lens, self.hand, self.held, self.curtain, self.mask,
                     self.headphones, self.headphone_pads, self.cards):
            mesh["count"] = 0
        cards = self.hair_cards.grow(params, camera=camera)
        if cards is not None and camera is not None:
            # cards wholly on the far side of the head cannot show: alpha-tested fragments are
            # shaded before the depth test, so they would cost as much as visible ones
            ids = self.skin_ids[cards[0]]
            p = np.asarray(vertices[ids], np.float64) @ camera[0].T + camera[1]
            n = np.asarray(normals[ids], np.float64) @ camera[0].T
            facing = np.sum(n * p, -1) / (np.linalg.norm(n, axis=-1) * np.linalg.norm(p, axis=-1) + 1e-9)
            keep = facing.min(axis=1) < 0.3
            cards = tuple(x[keep] for x in cards) if keep.any() else None
        if cards is not None and params.hair_curtain[0] > 0:
            # cards wholly under long hair cannot show either
            hidden = under_long_hair(params.hair_curtain[1:6], params.hair_drape, self.skin_rest[cards[0]])
            keep = ~hidden.all(axis=1)
            cards = tuple(x[keep] for x in cards) if keep.any() else None
        card_pos = np.zeros((0, 3), np.float32)
        if cards is not None:
            k = cards[0]
            height = _hair_height(params, self.skin_rest[k.ravel()], self.skin_noise[k.ravel()]).reshape(k.shape)
            card_pos, nrm, tan, uv, tris = HairCards.place(cards, vertices, normals, height, self.skin_ids)
            self._upload(self.cards, card_pos, nrm, tris, uv, tan)
        if params.glasses[0] > 0 and landmarks_model is not None:
            fpos, fnrm, ftri, lpos, lnrm, ltri = accessories.glasses_mesh(landmarks_model, params.glasses[1:7])
            self._upload(self.glasses_frame, fpos, fnrm, ftri)
            self._upload(self.glasses_lens, lpos, lnrm, ltri)
        curtain = None
        if params.hair_curtain[0] > 0:
            curtain, nrm, uv, tan, tris = long_hair_mesh(params.hair_curtain[1:6], params.hair_drape,
                                                         vertices[self.long_hair_skin], torso_rotation)
            self._upload(self.curtain, curtain, nrm, tris, uv, tan)
        if params.hand[0] > 0 and landmarks_model is not None:
            self._upload(self.hand, *accessories.hand_mesh(landmarks_model, params.hand[1:9]))
        if params.held[0] > 0 and landmarks_model is not None:
            self._upload(self.held, *accessories.held_object_mesh(landmarks_model, int(params.held[1]),
                                                                  params.held[2:8]))
        if (params.mask[0] > 0 or params.headphones[0] > 0) and landmarks_model is not None:
            # a headband goes over the long hair and the hair cards alike
            above = card_pos if curtain is None else np.concatenate([curtain, card_pos])
            self._facewear(params, landmarks_model, vertices, normals, above)
        return [(m, rgb) for m, rgb in ((self.curtain, None), (self.glasses_frame, params.glasses[7:10]),
                                         (self.hand, params.hand[9:12]), (self.held, params.held[8:11]),
                                         (self.mask, params.mask[7:10]),
                                         (self.headphones, params.headphones[9:12]),
                                         (self.headphone_pads, params.headphones[12:15])) if m["count"]]

    def _facewear(self, params, landmarks_model, vertices, normals, curtain) -> None:
        from . import facewear

        pts = np.asarray(vertices, np.float64)[self.skin_ids]
        nrm = np.asarray(normals, np.float64)[self.skin_ids]
        nrm /= np.linalg.norm(nrm, axis=1, keepdims=True) + 1e-12
        head = facewear.HeadSurface(pts, nrm, self.skin_ear)
        if params.mask[0] > 0:
            self._upload(self.mask, *_uv_last(facewear.mask_mesh(landmarks_model, head, params.mask[2:7],
                                                                 int(params.mask[1]))))
        if params.headphones[0] > 0:
            shell, pads = facewear.headphones_mesh(landmarks_model, head, params.headphones[1:8],
                                                   bool(params.headphones[8] > 0),
                                                   _hair_height(params, self.skin_rest, self.skin_noise),
                                                   curtain)
            self._upload(self.headphones, *shell)
            self._upload(self.headphone_pads, *pads)

    def _shadow_pass(self, sun_cam: np.ndarray, centre: np.ndarray, head_xform, torso_xform, meshes) -> np.ndarray:
        """Render the light's depth map; returns the (3, 3) light basis (rows a, b, l)."""
        ctx, sp = self.ctx, self.shadow_prog
        l = sun_cam / np.linalg.norm(sun_cam)
        a = np.cross(l, [0.0, 1.0, 0.0] if abs(l[1]) < 0.9 else [1.0, 0.0, 0.0])
        a /= np.linalg.norm(a)
        basis = np.stack([a, np.cross(l, a), l])
        self.shadow_fbo.use()
        ctx.viewport = (0, 0, SHADOW_SIZE, SHADOW_SIZE)
        self.shadow_fbo.clear(depth=1.0)
        ctx.depth_func = "<"
        for name, value in (("light_basis", _mat3(basis)), ("light_centre", tuple(map(float, centre))),
                            ("light_radius", SHADOW_RADIUS_CM)):
            self._set(sp, name, value)
        # the skin and the torso draw one side only: the light's view (a, b, -l) mirrors the
        # handedness of the camera's, for which front_face is "cw", so culling "front" here drops
        # the faces turned away from the light (the map holds the lit sides; FACE_FS's normal
        # offset and bias keep them from shadowing themselves)
        ctx.cull_face = "front"
        self._set(sp, "rot", _mat3(head_xform[0]))
        self._set(sp, "trans", tuple(map(float, head_xform[1])))
        self._cull(True)
        self.head_shadow.render()
        self.neck_shadow.render()
        self._cull(False)
        for mesh, _ in meshes:
            mesh["shadow"].render(vertices=mesh["count"])
        self._set(sp, "rot", _mat3(torso_xform[0]))
        self._set(sp, "trans", tuple(map(float, torso_xform[1])))
        self._cull(True)
        self.torso_shadow.render()
        ctx.cull_face = "back"
        return basis

    def render(self, vertices: np.ndarray, normals: np.ndarray, params, rotation: np.ndarray,
               landmarks_model: np.ndarray | None = None):
        """One frame. ``vertices``/``normals``: (R, 3) render-vertex order (FaceModel.mix_render),
        model frame; ``rotation``: head -> camera; ``landmarks_model`` (70, 3) places accessories.

        Returns ``(rgb (S, S, 3) uint8, seg (S, S) uint8, depth (S, S) float32 camera z in cm,
        inf where empty)``.
        """
        return self.collect(self.submit(vertices, normals, params, rotation, landmarks_model))

    def submit(self, *args, **kwargs) -> int:
        """Issue one frame's drawing and the copy of its pixels into a read-back slot, without
        waiting for either; returns the slot for :meth:`collect`. At most ``in_flight`` frames may
        be submitted and not yet collected: meanwhile the next face's Python work runs while the GPU
        (or llvmpipe's threads) draws the last ones. Arguments as for :meth:`render`."""
        make_current(self.ctx)  # another renderer of this process may have made its own current
        return self._submit(*args, **kwargs)

    def _submit(self, vertices: np.ndarray, normals: np.ndarray, params, rotation: np.ndarray,
                landmarks_model: np.ndarray | None = None) -> int:
        slot = self._next_slot
        if slot in self._busy:
            raise RuntimeError(f"{self.in_flight} frames submitted and none collected")
        ctx, s = self.ctx, self.size
        # orphaned first: a frame still being drawn keeps its own vertex data (no stall)
        self.pos_buf.orphan()
        self.pos_buf.write(np.ascontiguousarray(vertices, dtype="f4"))
        rot = rotation @ MODEL_TO_HEAD  # model -> camera rotation
        trans = params.translation - rot @ HEAD_ORIGIN
        rel = params_torso_rotation(params)  # the torso: the head's transform, turned about the neck
        torso_xform = (rot @ rel, rot @ (NECK_PIVOT - rel @ NECK_PIVOT) + trans)
        # (the neck tube also smooths the head's normals along the seam)
        neck_pos, neck_nrm, normals = self.neck.mesh(vertices, normals, rel)
        for buf, a in zip(self.neck_bufs + (self.nrm_buf,), (neck_pos, neck_nrm, normals)):
            buf.orphan()
            buf.write(np.ascontiguousarray(a, dtype="f4"))
        env_rot = _env_rotation(params.env_rotation_deg, params.env_tilt_deg)
        env = self.environments[params.env_index]
        seed = _shader_seed(params)
        meshes = self._accessories(params, landmarks_model, vertices, normals, (rot, trans), rel)
        # the projection maps the right-handed camera frame (y down) to NDC (y up), which turns
        # the model's counter-clockwise (outward) triangles clockwise on screen
        ctx.front_face = "cw"
        ctx.enable(ctx.DEPTH_TEST)
        self._cull(False)

        sun_on = float(params.shadows and env.sun_rgb.max() > 0)
        sun_cam = env_rot.T @ env.sun_dir  # camera-frame direction towards the light
        sun_rgb, sh, sh_gloss = env.sun_rgb, self.env_sh[params.env_index], self.env_gloss[params.env_index]
        if params.key_light[0] > 0:
            sun_cam, sun_rgb, ambient = key_light(params.key_light, env)
            sun_on = 1.0
            sh = (np.asarray(env.sh, np.float32) * ambient).tobytes()
            sh_gloss = (np.asarray(env.sh_gloss[:4], np.float32) * ambient).tobytes()
        centre = params.translation + rotation @ np.array([0.0, 6.0, 0.0])  # head and shoulders
        basis = self._shadow_pass(sun_cam, centre, (rot, trans), torso_xform, meshes) if sun_on else np.eye(3)

        self.fbo.use()
        ctx.viewport = (0, 0, s, s)
        self.fbo.clear(0, 0, 0, 0, depth=1.0)
        uniforms = (("rot", _mat3(rot)), ("trans", tuple(map(float, trans))), ("focal", params.focal_px),
                    ("size", float(s)), ("near", NEAR_CM), ("far", FAR_CM), ("env_rot", _mat3(env_rot)),
                    ("exposure", params.exposure), ("env_tex", 0), ("regions", 1), ("detail", 2),
                    ("skin_regions", 3), ("shadow_map", 4),
                    ("skin_rgb", tuple(params.skin_rgb)), ("lip_rgb", tuple(params.lip_rgb)),
                    ("brow_rgb", tuple(params.brow_rgb)), ("iris_rgb", tuple(params.iris_rgb)),
                    ("blotch", params.blotch), ("redness", params.redness),
                    ("brow_density", params.brow_density), ("stubble", params.stubble),
                    ("beard", float(params.beard)), ("hat", float(params.hat)),
                    ("specular", params.specular), ("roughness", params.roughness), ("seed", seed),
                    ("detail_offset", tuple(map(float, params.detail_offset))),
                    ("hair_line", tuple(map(float, params.hair_line))),
                    ("hair_shape", tuple(map(float, params.hair_shape))),
                    ("hairline_shape", tuple(map(float, params.hairline_shape))),
                    ("hair_rgb", tuple(map(float, params.hair_rgb))),
                    ("cloth_rgb", tuple(map(float, params.cloth_rgb[0]))),
                    ("cloth_rgb2", tuple(map(float, params.cloth_rgb[1]))),
                    ("cloth_pattern", float(params.cloth_pattern)),
                    ("ao_strength", float(params.ao_strength)),
                    ("skin_var", tuple(map(float, params.skin_var))),
                    ("blush_rgb", tuple(map(float, params.blush_rgb))),
                    ("sun_on", sun_on), ("sun_dir", tuple(map(float, sun_cam))),
                    ("sun_rgb", tuple(map(float, sun_rgb))), ("light_basis", _mat3(basis)),
                    ("light_centre", tuple(map(float, centre))), ("light_radius", SHADOW_RADIUS_CM),
                    ("lash_opacity", float(params.lash_opacity)), ("lens_opacity", float(params.glasses[10])),
                    ("eye_blink", tuple(float(params.expression[i]) for i in self.blink_ids)),
                    ("eye_makeup", tuple(map(float, params.eye_makeup[:4]))),
                    ("shadow_rgb", tuple(map(float, params.eye_makeup[4:7]))),
                    ("wear_style", float(params.mask[1])), ("wear_rgb2", tuple(map(float, params.mask[10:13]))),
                    ("wear_pleats", tuple(map(float, pleats(float(params.mask[6]))))),
                    ("hair_src", tuple(map(float, flow_style(params)))), ("strand_tex", 5))
        uniforms += _hair_light(env, env_rot)
        skin_draws = self.skin.draws(params)
        neck_vao = self.neck_vaos[bool(hair_reach(params, *self.neck_hair).any())]
        # only the programs this frame draws with
        drawn = [vao for vao, _ in self.head_draws] + [self.lash_vao, self.torso_vao, neck_vao]
        drawn += [vao for vao, _, _ in skin_draws]
        drawn += [m["vao"] for m in (self.cards, self.glasses_lens) if m["count"]] + [m["vao"] for m, _ in meshes]
        progs = {id(vao.program): vao.program for vao in drawn}
        for prog, table in self._programs.values():
            if id(prog) not in progs:
                continue
            for name, value in uniforms:
                u = table.get(name)
                if u is not None:
                    u.value = value
            if "sh" in prog:  # (absent only in debugging variants of the shader)
                prog["sh"].write(sh)
            if "sh_gloss" in prog:
                prog["sh_gloss"].write(sh_gloss)
        self.env_tex[params.env_index].use(0)
        ctx.depth_func = "<="
        # the hair cards first: the skin under their strands is then rejected before shading
        if self.cards["count"]:
            self.cards["vao"].render(vertices=self.cards["count"])
        self._cull(True)
        for vao, first, count in skin_draws:
            vao.render(vertices=count, first=first)
        for draw, cull in self.head_draws:
            self._cull(cull)
            draw.render()
        self._cull(False)  # (accessories are not consistently wound)
        for mesh, rgb in meshes:
            if rgb is not None:
                self._set(mesh["prog"], "frame_rgb", tuple(map(float, rgb)))
            mesh["vao"].render(vertices=mesh["count"])
        self._cull(True)
        self.cloth_prog["rot"].value = _mat3(torso_xform[0])
        self.cloth_prog["trans"].value = tuple(map(float, torso_xform[1]))
        self.torso_vao.render()
        neck_vao.render()  # after the torso: the part inside the collar is not shaded
        self._cull(False)

        # the background last among the opaque draws: only pixels nothing covers are shaded
        bg_vao = self.bg_vaos[int(params.background)]
        bg = bg_vao.program
        # the background is usually the lighting's own map; sometimes another one (a composite)
        bg_env, bg_rot = params.env_index, env_rot
        if params.bg_env[0] >= 0:
            bg_env, bg_rot = int(params.bg_env[0]), _env_rotation(params.bg_env[1], 0.0)
        for name, value in (("env_rot", _mat3(bg_rot)), ("exposure", params.exposure),
                            ("principal", ((s - 1) / 2, (s - 1) / 2)), ("focal", params.focal_px),
                            ("mode", int(params.background)), ("bg_a", tuple(params.bg_colours[0])),
                            ("bg_b", tuple(params.bg_colours[1])), ("bg_scale", params.bg_scale),
                            ("seed", seed), ("env_tex", 0), ("detail", 2)):
            self._set(bg, name, value)
        self.bg_tex[bg_env].use(0)
        self.fbo.depth_mask = False
        bg_vao.render()
        self.env_tex[params.env_index].use(0)

        # eyelashes and lenses: translucent films; RGB blended, alpha (the class) kept
        ctx.enable(ctx.BLEND)
        ctx.blend_func = (ctx.SRC_ALPHA, ctx.ONE_MINUS_SRC_ALPHA, ctx.ZERO, ctx.ONE)
        self.lash_vao.render()
        if self.glasses_lens["count"]:
            self.glasses_lens["vao"].render(vertices=self.glasses_lens["count"])
        ctx.disable(ctx.BLEND)
        self.fbo.depth_mask = True

        rgba_buf, depth_buf = self._readback[slot]
        self.fbo.read_into(rgba_buf, components=4)
        self.fbo.read_into(depth_buf, components=1, attachment=-1, dtype="f4")
        self._busy.add(slot)
        self._next_slot = (slot + 1) % self.in_flight
        return slot

    def collect(self, slot: int):
        """The pixels of a submitted frame (waits for its drawing): as :meth:`render` returns."""
        s = self.size
        self._busy.remove(slot)
        rgba_buf, depth_buf = self._readback[slot]
        make_current(self.ctx)
        rgba = np.frombuffer(rgba_buf.read(), np.uint8).reshape(s, s, 4)
        d = np.frombuffer(depth_buf.read(), np.float32).reshape(s, s)
        z_ndc = 2.0 * d - 1.0
        with np.errstate(divide="ignore"):
            depth = (2.0 * FAR_CM * NEAR_CM) / ((FAR_CM + NEAR_CM) - z_ndc * (FAR_CM - NEAR_CM))
        depth = np.where(d >= 1.0, np.inf, depth).astype(np.float32)
        return rgba[..., :3].copy(), rgba[..., 3].copy(), depth


def _neck(model: FaceModel, skin_triangles: np.ndarray, ambient: np.ndarray) -> Neck:
    """The neck tube under the skin's open boundary at the bust's cut (torso.Neck). Its texture
    coordinates carry on from the boundary's: the same u, v running on at the rate the head's
    runs at just above the cut (the median over the boundary), so the skin's noise has no seam."""
    mesh_ids = model.render_vertex
    rest = model.assets.neutral
    loop = boundary_loop(mesh_ids[skin_triangles], rest)
    copies = [np.flatnonzero(mesh_ids == v) for v in loop]  # render vertices split along UV seams
    render = np.array([c[0] for c in copies])
    rate = []
    for r in render:
        nb = np.unique(skin_triangles[np.any(skin_triangles == r, axis=1)])
        nb = nb[nb != r]
        d = rest[mesh_ids[nb]] - rest[mesh_ids[r]]
        j = np.argmax(d[:, 1] / (np.linalg.norm(d, axis=1) + 1e-9))  # the neighbour straight above
        rate.append((model.render_uv[r, 1] - model.render_uv[nb[j], 1]) / max(d[j, 1], 1e-3))
    down = np.tile([0.0, np.median(rate)], (len(render), 1))
    return Neck(render, rest[loop], model.render_uv[render].astype(np.float64), down, ambient[render],
                copies=copies)


def _uv_last(mesh):
    """(pos, nrm, uv, tris) -> the order of Renderer._upload: (pos, nrm, tris, uv)."""
    pos, nrm, uv, tris = mesh
    return pos, nrm, tris, uv


def _hair_height(params, rest: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """(N,) how far the scalp hair (or a beanie) stands out of the skin along its normal at
    neutral-mesh points ``rest`` (N, 3), in cm: FACE_VS's displacement, with its per-vertex lumps
    ``noise`` (N, 2) and the image's seed."""
    if params.hair_shape[2] <= 0:
        return np.zeros(len(rest))
    thick = float(params.hair_shape[0])
    line = hairline(params, np.arctan2(rest[:, 0], rest[:, 2] - 1.0))
    y = rest[:, 1]
    vol = _smoothstep(line, line + 3.0, y) * (0.3 + 0.7 * _smoothstep(4.0, 13.0, y)) * (y > -12.0)
    f = (_shader_seed(params) * 0.618) % 1.0
    lumps = noise[:, 0] * (1 - f) + noise[:, 1] * f
    return thick * vol * (0.55 + 0.9 * lumps)


def key_light(values: np.ndarray, env) -> tuple[np.ndarray, np.ndarray, float]:
    """A hard key light (sampler._key_light's ``values``) for the map ``env``: the camera-frame
    direction towards it, its ``sun_rgb`` and the factor on the map's ambient light. Strength
    and ambient are normalised so the lit side of a face is about as bright as under the map's
    own lights (the exposure keeps its meaning); the direct-to-ambient ratio spans ~3 to ~40."""
    azimuth, elevation = np.deg2rad(values[1]), np.deg2rad(values[2])
    direction = np.array([np.sin(azimuth) * np.cos(elevation), -np.sin(elevation),
                          -np.cos(azimuth) * np.cos(elevation)])
    level = float(np.mean(np.asarray(env.sh, np.float64)[0])) * 0.282095  # the map's DC irradiance / pi
    strength, ambient, warmth = float(values[3]), float(values[4]), float(values[5])
    norm = 1.6 / (ambient + 0.5 * strength)
    tint = np.array([1.0 + 0.15 * warmth, 1.0, 1.0 - 0.2 * warmth])
    tint /= tint @ [0.2126, 0.7152, 0.0722]
    return direction, (tint * strength * level * norm).astype(np.float32), ambient * norm


def _hair_light(env, env_rot: np.ndarray) -> tuple:
    """Uniforms of the hair's highlight light: the direction in which the map's ambient part
    (SH band 1 of the luminance) is brightest, camera frame, and the broad-lobe radiance there."""
    lum = np.asarray(env.sh, np.float64)[1:4] @ [0.2126, 0.7152, 0.0722]  # SH order y, z, x
    e = np.array([lum[2], lum[0], lum[1]])
    e = e / (np.linalg.norm(e) + 1e-9)
    g = np.asarray(env.sh_gloss, np.float64)[:4]
    rgb = np.maximum(g[0] * 0.282095 + 0.488603 * (g[1] * e[1] + g[2] * e[2] + g[3] * e[0]), 0.0)
    return (("hair_light_dir", tuple(map(float, env_rot.T @ e))), ("hair_light_rgb", tuple(map(float, rgb))))


def _rest_normals(model) -> np.ndarray:
    """(R, 3) unit normals of the neutral mesh per render vertex."""
    return model.normals(model.assets.neutral[None].astype(np.float32))[0][model.render_vertex]


def _vertex_area(model) -> np.ndarray:
    """(R,) a third of the area of the render triangles round each render vertex (cm^2), neutral."""
    p = model.assets.neutral[model.render_vertex].astype(np.float64)
    t = model.indices
    area = 0.5 * np.linalg.norm(np.cross(p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]]), axis=1)
    return np.bincount(t.ravel(), weights=np.repeat(area / 3, 3), minlength=len(p))


def _shader_seed(params) -> float:
    """The shaders' per-image ``seed`` uniform (hair lumps, background jitter)."""
    return float(params.index % 1000) + 0.5


def _smoothstep(a, b, x):
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def params_torso_rotation(params) -> np.ndarray:
    """Torso rotation relative to the head (model frame): yaw about the neck's vertical axis,
    then small pitch and roll."""
    yaw, pitch, roll = np.deg2rad(params.torso_deg)
    ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    rx = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    rz = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]])
    return ry @ rx @ rz


def _env_rotation(rot_deg: float, tilt_deg: float) -> np.ndarray:
    a, t = np.deg2rad([rot_deg, tilt_deg])
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    return ry @ rx


def _present(prog, attrs):
    """The (buffer, format, name) attributes that the program uses (the GLSL compiler drops
    unused ones)."""
    return [a for a in attrs if a[2] in prog]


def _mat3(m: np.ndarray) -> tuple:
    """Column-major tuple for a GLSL mat3 uniform."""
    return tuple(float(x) for x in np.asarray(m, np.float64).T.ravel())
