"""Where a generator frame's drawing time goes, per draw call.

    LP_NUM_THREADS=1 python benchmarks/synth_draw_profile.py 256 [--count 150]

Each draw (and each framebuffer clear) is wrapped in glFinish calls, so the frame is slower than a
normal one and nothing overlaps; the shares are what this is for. Prints ms per frame by draw:
skin, mouth and eyes, lashes, the shadow passes, background, torso, hair cards, accessories.
"""
from __future__ import annotations

import argparse
import collections
import time


def draw_names(r) -> dict:
    """id(vertex array) -> name, for a synth Renderer."""
    names = {id(r.torso_vao): "torso", id(r.torso_shadow): "torso_shadow",
             id(r.lash_vao): "lashes", id(r.head_shadow): "head_shadow", id(r.neck_shadow): "neck_shadow"}
    for vao in r.bg_vaos:
        names[id(vao)] = "background"
    for hair, vao in r.neck_vaos.items():
        names[id(vao)] = "neck" + ("_hair" if hair else "")
    for (face, beard, makeup, hair), vao in r.skin.vaos.items():
        names[id(vao)] = ("skin_" + ("face" if face else "head") + ("_beard" if beard else "")
                          + ("_makeup" if makeup else "") + ("_hair" if hair else ""))
    for (vao, _), name in zip(r.head_draws, ("mouth_teeth_irises", "sclera")):
        names[id(vao)] = name
    for name in ("glasses_frame", "glasses_lens", "hand", "curtain", "cards", "mask", "headphones", "headphone_pads"):
        mesh = getattr(r, name)
        names[id(mesh["vao"])], names[id(mesh["shadow"])] = name, name + "_shadow"
    return names


def main() -> None:
    import moderngl

    from landmark3d.synth.generator import Generator, GeneratorConfig

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("size", type=int, nargs="?", default=256)
    ap.add_argument("--count", type=int, default=150)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    gen = Generator(GeneratorConfig(size=args.size, seed=args.seed, in_flight=1))
    r = gen.renderer
    names = draw_names(r)
    seconds, draws = collections.defaultdict(float), collections.Counter()

    def timed(original, key_of):
        def call(self, *a, **k):
            r.ctx.finish()
            t = time.perf_counter()
            original(self, *a, **k)
            r.ctx.finish()
            key = key_of(self)
            seconds[key] += time.perf_counter() - t
            draws[key] += 1
        return call

    moderngl.VertexArray.render = timed(moderngl.VertexArray.render, lambda vao: names.get(id(vao), "other"))
    moderngl.Framebuffer.clear = timed(moderngl.Framebuffer.clear, lambda fbo: "clear")
    gen.render_batch([10_000_000])  # warm-up: shader compilation
    seconds.clear()
    draws.clear()
    t0 = time.perf_counter()
    for _ in gen(range(args.count)):
        pass
    total = time.perf_counter() - t0
    n = args.count
    print(f"{args.size}x{args.size}, {n} frames: {1000 * total / n:.2f} ms per frame "
          f"({1000 * sum(seconds.values()) / n:.2f} in draws and clears)")
    for key, s in sorted(seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {key:24s} {1000 * s / n:6.2f} ms per frame  ({draws[key]} calls)")
    gen.close()


if __name__ == "__main__":
    main()
