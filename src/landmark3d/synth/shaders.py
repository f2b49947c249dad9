"""GLSL sources of the renderer (OpenGL 3.3 core). Conventions: see renderer.py."""
import re

from .hair import FRAY_CM, RAGGED_V
from .sampler import FRINGE_LOWEST

_COMMON = """
uniform mat3 env_rot;        // camera direction -> environment direction
uniform sampler2D env_tex;   // equirectangular, linear RGB, mipmapped
uniform float exposure;

const float PI = 3.14159265;

vec2 equirect_uv(vec3 e) {
    // column: atan2(x, z) / 2pi + 0.5; row 0 = up (-y); textures have row 0 at v = 0
    return vec2(atan(e.x, e.z) / (2.0 * PI) + 0.5, acos(clamp(-e.y, -1.0, 1.0)) / PI);
}

vec3 tonemap(vec3 x) {
    // ACES filmic fit (Narkowicz 2015), then sRGB gamma
    x *= exposure;
    x = clamp((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0);
    return pow(x, vec3(1.0 / 2.2));
}

"""

BACKGROUND_VS = """
#version 330
in vec2 in_pos;
void main() { gl_Position = vec4(in_pos, 0.99999, 1.0); }
"""

BACKGROUND_FS = """
#version 330
""" + _COMMON + """
uniform vec2 principal;      // (cx, cy) in pixels, pixel-centre convention
uniform float focal;
uniform int mode;            // 0: HDRI, 1: procedural
uniform vec3 bg_a;
uniform vec3 bg_b;
uniform float bg_scale;
uniform float seed;
uniform sampler2D detail;
out vec4 frag;
void main() {
    // framebuffer row 0 is image row 0 (see renderer.py), so pixel (row i, col j) = FragCoord - 0.5
    vec2 px = gl_FragCoord.xy - 0.5;
    vec3 d = normalize(vec3((px - principal) / focal, 1.0));
    vec3 c;
    if (mode == 0) {
        c = textureLod(env_tex, equirect_uv(env_rot * d), 0.0).rgb;  // the full-size map
    } else {
        vec2 uv = px / (2.0 * principal + 1.0);   // [0, 1) over the image, whatever its size
        vec2 jitter = vec2(seed * 0.137, seed * 0.071);
        if (mode == 1) {                          // cloudy blotches
            vec2 q = uv * 0.25 * bg_scale + jitter;
            vec4 t = texture(detail, q);
            vec4 t2 = texture(detail, q * 0.21 + vec2(0.5));
            float n = t2.g + 0.3 * (t.r - 0.5);
            float m = t.b * 0.5 + t2.r * 0.5;
            c = mix(bg_a, bg_b, smoothstep(0.3, 0.7, n)) * (0.7 + 0.6 * m) * 1.2;
        } else if (mode == 2) {                   // out-of-focus panels: walls, windows, shelves
            vec2 q = uv * vec2(1.0 + bg_scale * 0.5, 1.0 + bg_scale * 0.25);
            vec2 cell = floor(q);
            vec2 f = fract(q);
            vec4 r = texture(detail, cell / 37.0 + jitter);
            float edge = smoothstep(0.0, 0.12, min(min(f.x, 1.0 - f.x), min(f.y, 1.0 - f.y)));
            c = mix(bg_a, bg_b, step(0.5, r.g)) * (0.4 + 1.2 * r.b) * mix(0.55, 1.0, edge);
        } else {                                  // bokeh: blurred lights over a gradient
            c = mix(bg_a, bg_b, uv.y) * 0.6;
            vec2 q = uv * (2.0 + bg_scale);
            vec2 cell = floor(q);
            vec4 r = texture(detail, cell / 41.0 + jitter);
            float dist = length(fract(q) - (0.3 + 0.4 * r.xy));
            float rad = 0.12 + 0.25 * r.z;
            vec3 light = mix(bg_b, vec3(r.x, r.y, 1.0 - r.x), 0.5) * (0.6 + 1.2 * r.z);
            c += step(0.6, r.w) * smoothstep(rad, rad * 0.35, dist) * light;
        }
    }
    frag = vec4(tonemap(c), 0.0);
}
"""

FACE_VS = """
#version 330
in vec3 in_pos;       // model frame (cm)
in vec3 in_normal;    // model frame
in vec2 in_uv;
in vec3 in_rest;      // neutral model-frame position: anchors procedural noise to the skin
in ivec2 in_info;     // (material, segmentation class)
in float in_ao;       // ambient occlusion of the neutral mesh (1 = unoccluded)
in vec2 in_noise;     // two smooth noise values per vertex (textures.vertex_noise): hair lumps

uniform mat3 rot;     // model -> camera rotation (includes the model->head flip)
uniform vec3 trans;   // model origin in camera space (cm)
uniform float focal;
uniform float size;
uniform float near;
uniform float far;
uniform vec4 hair_line;   // hairline height (model y, cm) at the front, sides, back; edge softness
uniform vec4 hair_shape;  // thickness (cm), sideburn length (cm), 1 if hair at all, fringe (cm)
uniform vec4 hair_src;    // the comb's source (model frame) and the flow's sign (hair.py)
uniform vec4 hairline_shape;  // fringe edge: base height, tilt, arch; temples' recession (sampler)
""" + f"const float FRINGE_LOWEST = {FRINGE_LOWEST!r};\n" + """uniform float seed;
#ifdef HAIR_CARDS
in vec4 in_tangent;   // hair cards: the strands' direction (model frame); w: across the card, -1 .. 1
out vec4 v_tangent;
#endif

invariant gl_Position;  // the depth pre-pass and the shading pass must agree exactly
out vec3 v_normal;
out vec3 v_cam;
out vec2 v_uv;
out vec3 v_rest;
out float v_hair;
out vec3 v_flow;      // scalp hair: the comb direction (camera frame; hair.flow)
out vec2 v_comb;      // scalp hair: polar coordinates about the comb's source (strand texture)
out float v_ao;
flat out ivec2 v_info;

// Scalp hair: a mask over the head's skin bounded by a hairline that runs round the head
// (azimuth 0 = the face's front, about a vertical axis through the cranium, model frame),
// lowest at the nape, with optional sideburns in front of the ears (at ~75 degrees) and an
// optional fringe; the scalp is pushed out along the normal for the hair's volume.
float hairline(float phi) {
    float c = cos(phi);
    float line = c > 0.0 ? mix(hair_line.y, hair_line.x, pow(c, 0.7))
                         : mix(hair_line.y, hair_line.z, pow(-c, 0.6));
    line -= hair_shape.y * exp(-pow((abs(phi) - 1.3) / 0.09, 2.0));   // sideburns
    line += hairline_shape.w * exp(-pow((abs(phi) - 0.6) / 0.25, 2.0));  // receding temples
    // a fringe: the line comes down over the forehead to its edge, which is straight, swept
    // or curved, and not below the brows' tops
    float front = smoothstep(1.0, 0.35, abs(phi));
    float edge = max(hairline_shape.x + (hairline_shape.y + hairline_shape.z * phi) * phi, FRINGE_LOWEST);
    return mix(line, max(line - hair_shape.w, edge), front * step(0.01, hair_shape.w));
}

void main() {
    v_ao = in_ao;
    v_hair = 0.0;
    v_flow = vec3(0.0);
    v_comb = vec2(0.0);
    vec3 pos = in_pos;
#ifdef SCALP
    if (in_info.x == 0 && hair_shape.z > 0.0 && in_rest.y > -12.0) {
        float line = hairline(atan(in_rest.x, in_rest.z - 1.0));
        // (the band is widened by 7 mm each way: the fragment shader breaks it into strands)
        v_hair = smoothstep(line - hair_line.w - 0.7, line + hair_line.w + 0.7, in_rest.y);
        // the hair's volume: the scalp pushed out along the normal, growing over 3 cm above the
        // hairline, thickest on the crown
        float vol = smoothstep(line, line + 3.0, in_rest.y) * (0.3 + 0.7 * smoothstep(4.0, 13.0, in_rest.y));
        // lumps: strands gather in locks, so the outline is not a smooth shell
        float lumps = mix(in_noise.x, in_noise.y, fract(seed * 0.618));
        vec3 nm = normalize(in_normal);
        pos += nm * hair_shape.x * vol * (0.55 + 0.9 * lumps);
        // the comb (per vertex: cheaper than per fragment in the skin's program); hair.flow
        vec3 d = normalize(in_rest - hair_src.xyz) * hair_src.w + vec3(0.0, -0.6, 0.0);
        v_flow = rot * (d - nm * dot(nm, d));
        // angle about the source's axis (strands radiate from it) and distance; the angle's
        // seam runs from the source down the back of the head, where it is least seen
        vec3 ax = normalize(hair_src.xyz - vec3(0.0, 4.0, 1.0));
        vec3 b1 = normalize(cross(vec3(1.0, 0.0, 0.0), ax));   // forwards from the source
        vec3 e = in_rest - hair_src.xyz;
        v_comb = vec2(atan(dot(e, cross(ax, b1)), dot(e, b1)) * 0.159155, length(e) * 0.03);
    }
#endif
    vec3 p = rot * pos + trans;   // camera frame: x right, y down, z forward
    v_cam = p;
    v_normal = rot * in_normal;
    v_uv = in_uv;
    v_rest = in_rest;
    v_info = in_info;
#ifdef HAIR_CARDS
    v_tangent = vec4(rot * in_tangent.xyz, in_tangent.w);
#endif
    // symmetric frustum: pixel u = f X / Z + (S - 1) / 2 <-> ndc x = 2 f X / (S Z); row 0 at ndc y = -1
    float zc = (p.z * (far + near) - 2.0 * far * near) / (far - near);
    gl_Position = vec4(2.0 * focal / size * p.x, 2.0 * focal / size * p.y, zc, p.z);
}
"""

#: The beard's top edge (model y, cm) as c0 + c1 az + c2 az^2 + c3 az^4 in the azimuth about the
#: head's axis, az = 1 at 75 degrees: 1.35 cm below the nose base at the front, lowest beside
#: the mouth's corners, rising to meet the sideburns (before 2026-11-28: -0.6 + 3.6 az^2, which
#: put the edge almost at the eyes' height at az 0.8).
BEARD_TOP = (-1.1, -1.5, 2.0, 3.5)

FACE_FS = """
#version 330
""" + _COMMON + "#define BEARD_TOP(az, az2) ({!r} + {!r} * (az) + {!r} * (az2) + {!r} * (az2) * (az2))\n".format(
    *BEARD_TOP) + f"const float FRAY_CM = {FRAY_CM!r};\nconst float RAGGED_V = {RAGGED_V!r};\n" + """
uniform vec3 sh[9];          // diffuse irradiance / pi
uniform vec3 sh_gloss[4];    // radiance convolved with a broad glossy lobe, bands 0-1 (skin sheen)
uniform sampler2D regions;   // face UV tile: r top lip, g bottom lip, b brows, a nose
uniform sampler2D detail;    // tiling noise: r blotches, g redness patches, b fine grain, a hair strands
uniform vec2 detail_offset;
uniform vec3 skin_rgb;
uniform vec3 lip_rgb;
uniform vec3 brow_rgb;
uniform vec3 iris_rgb;
uniform float blotch;
uniform float redness;
uniform float brow_density;
uniform float stubble;
uniform float beard;   // full beard: 0 none, else coverage
uniform float hat;     // 1: the hair mask is a knitted hat
uniform float specular;
uniform float roughness;
uniform float seed;

in vec3 v_normal;
in vec3 v_cam;
in vec2 v_uv;
in vec3 v_rest;
in float v_hair;
in vec3 v_flow;
in vec2 v_comb;
in float v_ao;
flat in ivec2 v_info;
uniform vec3 hair_rgb;
uniform vec3 cloth_rgb;
uniform vec3 cloth_rgb2;
uniform float cloth_pattern;
uniform float lash_opacity;
uniform vec2 eye_blink;          // eyeBlink_L (the model's +x eye), eyeBlink_R
uniform vec4 eye_makeup;         // liner strength, liner width (cm), wing length (cm), shadow strength
uniform vec3 shadow_rgb;         // eye shadow colour
uniform float ao_strength;
uniform vec3 frame_rgb;
uniform float lens_opacity;
uniform float wear_style;        // face mask: 0 surgical, 1 plain cloth, 2 printed cloth
uniform vec3 wear_rgb2;          // the print's second colour
uniform vec3 wear_pleats;        // surgical: the fold edges' v (facewear.pleats)
uniform sampler2D skin_regions;  // r eye surroundings, g cheeks, b nose, a T-zone (renderer.py)
uniform sampler2DShadow shadow_map;
uniform float sun_on;
uniform vec3 sun_dir;      // camera frame, towards the light
uniform vec3 sun_rgb;      // irradiance / pi at normal incidence
uniform mat3 light_basis;  // rows a, b, l of the shadow map's view (see shadow_vs)
uniform vec3 light_centre;
uniform float light_radius;
uniform vec4 skin_var;           // dark circles, cheek/nose redness, T-zone shine, blush amount
uniform vec3 blush_rgb;
uniform mat3 rot;                // model -> camera
uniform vec3 hair_light_dir;     // camera frame: the environment's brightest direction (SH band 1)
uniform vec3 hair_light_rgb;     // its broad-lobe radiance: lights the hair's highlight band
uniform sampler2D strand_tex;    // hair cards: r brightness, g strand id, b depth, a coverage
#ifdef HAIR_CARDS
in vec4 v_tangent;
#endif
out vec4 frag;

// Kajiya-Kay strand highlights along tangent t: a white primary reflection shifted towards the
// root and a broader secondary one tinted by the hair (light through the strand), broken up
// per strand by brk
vec3 hair_spec(vec3 t, vec3 n, vec3 view, vec3 l, vec3 albedo, float brk) {
    vec3 h = normalize(l - view);
    float d1 = dot(normalize(t - 0.1 * n), h);
    float d2 = dot(normalize(t + 0.15 * n), h);
    float r = pow(max(1.0 - d1 * d1, 0.0), 40.0);
    float trt = pow(max(1.0 - d2 * d2, 0.0), 8.0);
    float facing = smoothstep(-0.2, 0.5, dot(n, l));
    return facing * brk * (0.1 * r * (0.5 + 2.0 * sqrt(albedo)) + 3.0 * trt * albedo * sqrt(albedo));
}

vec3 sh_eval4(vec3 c[4], vec3 d) {  // bands 0 and 1 only: enough for the broad gloss lobe
    vec3 e = env_rot * d;
    return max(c[0] * 0.282095 + c[1] * 0.488603 * e.y + c[2] * 0.488603 * e.z + c[3] * 0.488603 * e.x, vec3(0.0));
}

vec3 sh_eval(vec3 c[9], vec3 d) {
    vec3 e = env_rot * d;
    float x = e.x, y = e.y, z = e.z;
    return max(c[0] * 0.282095 + c[1] * 0.488603 * y + c[2] * 0.488603 * z + c[3] * 0.488603 * x
        + c[4] * 1.092548 * x * y + c[5] * 1.092548 * y * z + c[6] * 0.315392 * (3.0 * z * z - 1.0)
        + c[7] * 1.092548 * x * z + c[8] * 0.546274 * (x * x - y * y), vec3(0.0));
}

void main() {
    int material = v_info.x;
    int cls = v_info.y;
    vec3 n = normalize(v_normal);
    vec3 view = normalize(v_cam);
    if (!gl_FrontFacing && material != 11) n = -n;  // (cards keep the scalp's normal)
    vec3 albedo = vec3(0.0);
    vec3 hair_t = vec3(0.0);   // strand direction (camera frame) where hair_amt > 0
    float hair_amt = 0.0;
    float hair_brk = 1.0;
    float spec = specular;
    float rough = roughness;
    float ao = 1.0;
    if (material == 0) {                          // skin
        vec4 dn = texture(detail, fract(v_uv) + detail_offset) - 0.5;
        albedo = skin_rgb * (1.0 + 2.0 * blotch * dn.r);
        albedo *= mix(vec3(1.0), vec3(1.1, 0.86, 0.86), clamp(redness * (1.0 + 3.0 * dn.g), 0.0, 1.0));
        albedo *= 1.0 + 0.12 * dn.b;              // fine grain
#ifndef NO_FACE_REGIONS
        if (v_uv.x < 1.0) {
            vec4 reg = texture(regions, v_uv);
            vec4 sk = texture(skin_regions, v_uv);
            albedo *= mix(vec3(1.0), vec3(0.78, 0.72, 0.78), sk.r * skin_var.x);
            albedo *= mix(vec3(1.0), vec3(1.12, 0.84, 0.84), (0.6 * sk.g + sk.b) * skin_var.y);
            albedo = mix(albedo, blush_rgb, sk.g * skin_var.w);
            spec *= 1.0 + 2.0 * sk.a * skin_var.z;
            float lip = max(reg.r, reg.g);
            albedo = mix(albedo, lip_rgb * (1.0 + 0.3 * dn.b), lip);
            spec = mix(spec, spec * 2.0, lip);
            float hairs = smoothstep(-0.3, 0.3, dn.a + dn.r);
            // (the strands only break the brow up a little: stronger, they drew a barcode)
            albedo = mix(albedo, brow_rgb, reg.b * brow_density * (0.75 + 0.25 * hairs));
            // upper-lid creases (model frame, either eye): an arch from the eye's corners (y ~3.5
            // at |x| 1.7 and 4.6 cm) to ~0.75 cm above the lid's margin (y 4.65 at |x| 3.15), a
            // soft, darker fold line whose depth varies per face
            float eu = (abs(v_rest.x) - 3.15) / 1.45;
            float crease_y = 3.5 + 1.15 * sqrt(max(1.0 - eu * eu, 0.0));
            float crease = exp(-pow((v_rest.y - crease_y) / 0.12, 2.0)) * smoothstep(1.1, 0.85, abs(eu))
                * step(7.5, v_rest.z);
            // (a closing lid stretches the fold flat: it fades with the eye's blink)
            albedo *= 1.0 - (0.2 + 0.25 * fract(seed * 0.37)) * crease * (1.0 - (v_rest.x > 0.0 ? eye_blink.x : eye_blink.y));
            // eye make-up (sampler._eye_makeup): a liner along the upper lid's margin (an arch
            // through iBUG 36-39 of the neutral mesh: y 3.34 + 0.09 u + 0.58 sqrt(1 - u^2)),
            // wider and optionally winged at the outer corner, and shadow up to the crease
#ifndef NO_EYE_MAKEUP
            if (eye_makeup.x + eye_makeup.w > 0.0 && v_rest.z > 7.5 && abs(eu) < 1.6) {
                float mu = (abs(v_rest.x) - 3.15) / 1.31;
                float margin = 3.34 + 0.09 * mu + 0.58 * sqrt(max(1.0 - mu * mu, 0.0));
                float above = v_rest.y - margin;
                float width = eye_makeup.y * (0.6 + 0.6 * smoothstep(-0.6, 1.0, mu));
                float liner = smoothstep(-0.03, 0.0, above) * (1.0 - smoothstep(0.6 * width, width, above))
                    * smoothstep(1.05, 0.9, abs(mu));
                // the wing: beyond the outer corner, rising outwards
                float wx = abs(v_rest.x) - 4.46;
                float wing = step(0.0, wx) * (1.0 - smoothstep(0.7 * eye_makeup.z, eye_makeup.z, wx))
                    * (1.0 - smoothstep(0.02, 0.06, abs(v_rest.y - (3.43 + 0.6 * wx))));
                float lid = smoothstep(-0.02, 0.05, above) * (1.0 - smoothstep(crease_y - margin - 0.1, crease_y - margin + 0.15, above))
                    * smoothstep(1.15, 0.8, abs(mu));
                albedo = mix(albedo, shadow_rgb, lid * eye_makeup.w);
                albedo = mix(albedo, vec3(0.006, 0.005, 0.005), max(liner, wing * step(0.01, eye_makeup.z)) * eye_makeup.x);
            }
#endif
            if (cls == 1) {
                if (reg.r > 0.5) cls = 10;
                else if (reg.g > 0.5) cls = 11;
                else if (reg.b > 0.5) cls = v_rest.x > 0.0 ? 5 : 6;
                else if (reg.a > 0.5) cls = 2;
            }
#ifndef NO_BEARD
            // beard area (model frame): under the nose, along a cheek line that dips beside the
            // mouth and rises to the sideburns (azimuth about the head's axis), down to the chin's
            // underside; skin_parts.beard_reach mirrors it
            float az = abs(atan(v_rest.x, v_rest.z - 1.0)) / 1.31;  // 1 at 75 degrees
            float az2 = az * az;
            float top = BEARD_TOP(az, az2);
            float beard_area = smoothstep(top + 0.5, top - 1.0, v_rest.y) * smoothstep(-9.0, -6.5, v_rest.y)
                * smoothstep(1.1, 0.95, az) * (1.0 - lip);
            albedo = mix(albedo, brow_rgb, beard_area * stubble * smoothstep(0.0, 0.25, dn.b) * 0.6);
            if (beard > 0.0) {
                // a soft, streaky edge (hair thinning out), not a cut
                float b = smoothstep(0.3, 0.75, beard_area + 0.35 * dn.a + 0.2 * dn.r - (1.0 - beard) * 0.6);
                albedo = mix(albedo, mix(hair_rgb, brow_rgb, 0.3) * (0.5 + 1.2 * (dn.a + 0.5)), b);
                rough = mix(rough, 0.5, b);
                if (b > 0.5 && cls == 1) cls = 14;
            }
#endif
        }
#endif
#ifndef NO_SCALP_HAIR
        // scalp hair: streaky albedo, a ragged edge, sheen
        if (v_hair > 0.05) {
            float strands = texture(detail, fract(v_uv * vec2(1.0, 0.5)) + detail_offset.yx).a;
            if (hat > 0.0) {                      // a knitted hat where the hair would be
                float h = step(0.5, v_hair);
                float rib = 0.8 + 0.4 * step(0.5, fract(v_uv.x * 60.0 + 0.2 * strands));
                albedo = mix(albedo, cloth_rgb2 * rib * (0.85 + 0.3 * dn.b), h);
                spec = mix(spec, 0.01, h);
                rough = mix(rough, 0.9, h);
                if (h > 0.5) cls = 17;
            } else {
                // the under-layer of the cards (hair.py): strands radiating from the comb's
                // source (polar texture coordinates about it), darker than the cards on top
                float comb = texture(detail, v_comb + detail_offset).a;
                // a soft, streaky hairline: coverage fades over the edge band in strands along
                // the comb (the class still switches at one half)
                float hair = smoothstep(0.15, 0.85, v_hair + 0.5 * (comb - 0.5) + 0.2 * (strands - 0.5) + 0.1 * dn.r);
                // coverage rises fast, then slowly: dark hair on light skin darkens the skin about
                // evenly across the band (a linear mix would look sharp at its dark end)
                float cover = 1.0 - (1.0 - hair) * (1.0 - hair) * (1.0 - hair);
                albedo = mix(albedo, hair_rgb * (0.25 + 1.0 * comb * comb), cover);
                spec = mix(spec, 0.0, hair);
                hair_amt = cover;
                hair_t = normalize(v_flow + vec3(1e-5));
                hair_brk = 0.3 + comb;
                if (hair > 0.35) cls = 13;
            }
        }
#endif
    } else if (material == 1) {                   // gums, tongue, mouth interior
        albedo = vec3(0.45, 0.14, 0.13);
        ao = 0.5;
    } else if (material == 2) {                   // teeth
        albedo = vec3(0.70, 0.66, 0.58);
        ao = 0.8;
        spec = 0.1;
    } else if (material == 3) {                   // sclera: white; transparent cornea over the iris
        float d = length(v_uv - vec2(0.5));
#ifdef CORNEA
        if (d < 0.13) discard;   // the cornea: ~30 degrees about the eye's axis
#endif
        albedo = vec3(0.62, 0.55, 0.50) * mix(0.75, 1.0, smoothstep(0.13, 0.3, d));
        spec = 0.04;
        rough = 0.1;
    } else if (material == 4) {                   // iris
        float d = length(v_uv - vec2(0.5));
        float ring = 0.75 + 0.5 * texture(detail, vec2(atan(v_uv.y - 0.5, v_uv.x - 0.5) / 6.2832, d * 0.3) + detail_offset).a;
        albedo = iris_rgb * ring * mix(0.35, 1.0, smoothstep(0.5, 0.38, d));  // darker limbal ring
        if (d < 0.1 || !gl_FrontFacing) albedo = vec3(0.005);
        spec = 0.04;
        rough = 0.05;
    } else if (material == 5) {                   // eyelashes (blended, see renderer.py)
        albedo = mix(brow_rgb * 0.4, vec3(0.008, 0.006, 0.005), 0.6);  // darker than the brows
        spec = 0.0;
    } else if (material == 9) {                   // long hair (a sheet hanging from the crown)
        if (dot(n, view) > 0.0) n = -n;
        float strands = texture(detail, fract(v_uv * vec2(1.0, 0.5)) + detail_offset.yx).a;
        // ragged ends: the strand texture's tips over the sheet's last fifth
        vec4 st = texture(strand_tex, vec2(v_uv.x * 9.0, 0.3 + 3.5 * max(v_uv.y - RAGGED_V, 0.0)));
#ifdef HAIR_CARDS
        // (the sheet stays closed above its ends); its sides thin out into single strands over
        // the last FRAY_CM (v_tangent.w: cm to the nearest side edge), the sparser the nearer
        float sides = v_tangent.w < FRAY_CM ? st.a * step(st.g, 0.25 + 0.75 * smoothstep(0.0, FRAY_CM, v_tangent.w)) : 1.0;
        if (mix(1.0, st.a, step(RAGGED_V, v_uv.y)) * sides < 0.5) discard;
        hair_t = normalize(v_tangent.xyz - n * dot(n, v_tangent.xyz) + vec3(1e-5));   // down the strands
#else
        vec3 down = -(rot * vec3(0.0, 1.0, 0.0));       // the model frame's down, camera frame
        hair_t = normalize(down - n * dot(n, down) + vec3(1e-5));
#endif
        albedo = hair_rgb * (0.35 + 1.1 * strands) * (0.6 + 0.6 * st.r);
        spec = 0.0;
        ao = 0.6 + 0.4 * smoothstep(0.0, 0.3, v_uv.y);  // the crown's shade at the top
        hair_amt = 1.0;
        hair_brk = 0.4 + st.g;
    } else if (material == 11) {                  // hair cards (hair.py): alpha-tested strands
        vec4 st = texture(strand_tex, v_uv);
#ifdef HAIR_CARDS
        // frayed long edges and a soft root: no card's outline shows, only strands
        float fray = 0.3 * (st.g - 0.5);
        if (st.a * smoothstep(1.0, 0.55, abs(v_tangent.w) + fray) * smoothstep(0.0, 0.15, v_uv.y + fray) < 0.5) discard;
#endif
        albedo = hair_rgb * (0.45 + 1.0 * st.r) * (0.45 + 0.55 * st.b);
        spec = 0.0;
#ifdef HAIR_CARDS
        hair_t = normalize(v_tangent.xyz);
#endif
        hair_amt = 1.0;
        hair_brk = 0.4 + st.g;
    } else if (material == 7) {                   // glasses frame
        if (dot(n, view) > 0.0) n = -n;           // tubes are not consistently wound
        albedo = frame_rgb;
        spec = 0.06;
        rough = 0.25;
    } else if (material == 8) {                   // lens: a tinted film with reflections
        if (dot(n, view) > 0.0) n = -n;
        albedo = vec3(0.02);
        spec = 0.3;
        rough = 0.1;
    } else if (material == 10) {                  // face mask (frame_rgb: its colour) and ear loops
        if (dot(n, view) > 0.0) n = -n;           // a sheet: seen from either side at its edges
        vec4 t = texture(detail, v_uv * vec2(2.0, 1.4) + detail_offset);
        albedo = frame_rgb;
        if (v_uv.x >= 0.0) {
            if (wear_style > 1.5) albedo = mix(albedo, wear_rgb2, smoothstep(0.45, 0.55, t.g));
            // surgical: fine non-woven grain and welded hems; cloth: a coarser weave
            albedo *= wear_style < 0.5 ? 0.95 + 0.1 * t.b : 0.9 + 0.2 * t.b;
            if (wear_style < 0.5) {               // shade under each fold's overhang
                vec3 s = (vec3(v_uv.y) - wear_pleats) / 0.13;
                vec3 groove = step(0.0, s) * (1.0 - smoothstep(0.0, 0.2, s));
                albedo *= 1.0 - 0.25 * max(groove.x, max(groove.y, groove.z));
            }
            float edge = min(min(v_uv.x, 1.0 - v_uv.x) * 1.4, min(v_uv.y, 1.0 - v_uv.y));
            albedo *= mix(0.88, 1.0, smoothstep(0.02, 0.035, edge));
        }
        spec = 0.02;
        rough = 0.85;
    } else if (material == 12) {                  // hands (frame_rgb: their skin colour): the skin's
        // blotches, redness and grain, without the face's regions; skin-like gloss, not plastic
        if (dot(n, view) > 0.0) n = -n;           // (the ellipsoids' winding is not consistent)
        vec4 dn = texture(detail, v_rest.xy * 0.11 + v_rest.zx * 0.07 + detail_offset) - 0.5;
        albedo = frame_rgb * (1.0 + 1.5 * blotch * dn.r) * (1.0 + 0.12 * dn.b);
        albedo *= mix(vec3(1.0), vec3(1.1, 0.86, 0.86), clamp(redness * (1.0 + 3.0 * dn.g), 0.0, 1.0));
        rough = mix(roughness, 0.8, 0.4);
    } else if (material == 6) {                   // clothing: plain, stripes or noise print
        vec4 t = texture(detail, v_uv * 0.5 + detail_offset);
        float stripes = step(0.5, fract(v_uv.y * 6.0 + 0.3 * t.r));
        float print_ = smoothstep(0.45, 0.55, t.g);
        float m = cloth_pattern < 1.0 ? 0.0 : (cloth_pattern < 2.0 ? stripes : print_);
        albedo = mix(cloth_rgb, cloth_rgb2, m) * (0.92 + 0.16 * t.b) * (0.9 + 0.2 * t.r);  // weave, folds
        spec = 0.02;
        rough = 0.8;
        ao = 0.6 + 0.4 * smoothstep(0.0, 0.25, v_uv.y);  // darker under the collar
    }
    ao *= mix(1.0, v_ao, ao_strength);
    vec3 c = albedo * sh_eval(sh, n) * ao;
    vec3 r = reflect(view, n);
    // Schlick Fresnel with F0 = spec, damped at grazing angles for rough surfaces
    float fres = spec + (0.25 - spec) * (1.0 - rough) * pow(1.0 - max(dot(-view, n), 0.0), 5.0);
    if (material == 3 || material == 4 || material == 8) {  // eyes, lenses: sharp reflections
        c += fres * textureLod(env_tex, equirect_uv(env_rot * r), 1.0).rgb * ao;
    } else if (material != 6 && material != 9 && material != 11) {  // (cloth: matte; hair: hair_spec)
        c += fres * sh_eval4(sh_gloss, r) * ao;
    }
    if (hair_amt > 0.0) {
        c += hair_amt * hair_spec(hair_t, n, view, hair_light_dir, albedo, hair_brk) * hair_light_rgb * ao;
    }
    if (sun_on > 0.5) {                           // the dominant light, with cast shadows
        float ndl = max(dot(n, sun_dir), 0.0);
        // light_basis has the rows a, b, l (renderer._mat3 uploads a matrix as it is), so
        // light_basis * x is (a.x, b.x, l.x): the point in the shadow map's view
        vec3 q = light_basis * (v_cam + n * 0.25 - light_centre) / light_radius;
        float lit = texture(shadow_map, vec3(q.xy * 0.5 + 0.5, 0.5 - 0.5 * q.z - 0.002));
        vec3 h = normalize(sun_dir - view);
        float shin = (material == 3 || material == 4 || material == 8) ? 400.0 : mix(60.0, 8.0, rough);
        float spec_sun = fres * (shin + 8.0) / 8.0 * pow(max(dot(n, h), 0.0), shin);
        if (material == 9 || material == 11) spec_sun = 0.0;
        c += (albedo + spec_sun) * sun_rgb * ndl * lit * mix(1.0, ao, 0.5);
        // (the shell's sun highlight is left out: it shows mostly between the cards, and the
        // skin program is the most expensive one)
        if (material != 0 && hair_amt > 0.0) c += hair_spec(hair_t, n, view, sun_dir, albedo, hair_brk) * sun_rgb * lit;
    }
    // alpha carries the class; the eyelashes' alpha is their opacity (blended, class kept)
    // ICT's lashes are three layered ribbons per lid, each six rows in v from the tips (0) to
    // the roots (1): solid along the lid's margin, thinning into separate strands at the tips
    float root = clamp(fract((v_uv.y - (v_uv.y > 0.5 ? 0.516 : 0.014)) / 0.166 + 0.01) / 0.843, 0.0, 1.0);
    float t0 = mix(0.55, 0.15, root);
    float lash = lash_opacity * max(smoothstep(t0, t0 + 0.25, texture(detail, fract(v_uv) * vec2(3.0, 0.2)).a),
                                    smoothstep(0.65, 0.95, root))
        * mix(0.6, 1.0, root) * (v_rest.y < 3.3 ? 0.2 : 1.0);  // lower lashes: barely a line
    frag = vec4(tonemap(c), material == 5 ? lash : (material == 8 ? lens_opacity : float(cls) / 255.0));
}
"""

SHADOW_FS = """
#version 330
void main() {}
"""


def shadow_vs() -> str:
    """FACE_VS seen from the dominant light: an orthographic view along ``light_basis`` row 2
    (towards the light) of half-extent ``light_radius`` cm around ``light_centre``; depth grows
    away from the light. Without the scalp hair's volume (no SCALP)."""
    vs = FACE_VS.replace("uniform float far;", "uniform float far;\nuniform mat3 light_basis;\n"
                         "uniform vec3 light_centre;\nuniform float light_radius;")
    line = "    gl_Position = vec4(2.0 * focal / size * p.x, 2.0 * focal / size * p.y, zc, p.z);"
    assert line in vs
    return vs.replace(line, "    vec3 q = light_basis * (p - light_centre) / light_radius;\n"
                            "    gl_Position = vec4(q.x, q.y, -q.z, 1.0);")


def _with_defines(src: str, **flags: bool) -> str:
    """``src`` with ``#define NAME 1`` after its ``#version`` line for each true flag."""
    defines = "".join(f"#define {name} 1\n" for name, on in flags.items() if on)
    return src.replace("#version 330\n", "#version 330\n" + defines, 1)


def background_fs(mode: int) -> str:
    """BACKGROUND_FS for one background ``mode`` (a constant: llvmpipe would shade the HDRI's
    pixels through the procedural branches too, taken or not)."""
    assert "uniform int mode;" in BACKGROUND_FS
    return BACKGROUND_FS.replace("uniform int mode;", f"const int mode = {int(mode)};", 1)


def face_vs(scalp: bool = False, hair_cards: bool = False) -> str:
    """FACE_VS; with ``scalp`` the scalp hair's mask, volume and comb (the skin's program only:
    llvmpipe would run that block for every vertex of every other draw too), with ``hair_cards``
    the cards' tangent attribute."""
    return _with_defines(FACE_VS, SCALP=scalp, HAIR_CARDS=hair_cards)


def face_fs(cornea: bool = False, material: int | tuple[int, ...] | None = None, hair_cards: bool = False,
            face_regions: bool = True, beard: bool = True, scalp_hair: bool = True, eye_makeup: bool = True) -> str:
    """The shading program. The variant with ``cornea`` may discard (slower on llvmpipe, which
    then cannot reject hidden fragments before shading), so only the sclera uses it.
    ``material``: the one material (or the few) the program will shade. llvmpipe runs every
    branch of the material chain that a group of fragments could take, taken or not, so each draw
    gets a program whose other branches the compiler drops: the tests of absent materials become
    constants (a 256-px frame's eyelashes took 1.9 ms in the generic program, ~1 in their own).
    ``hair_cards``: the program of the hair cards and the long-hair sheet, which discards the
    strands' gaps (alpha test) and takes the cards' tangents. Without ``face_regions``,
    ``beard`` or ``scalp_hair``, the skin's blocks for the face's painted regions (lips, brows;
    where ``v_uv.x < 1``), for stubble and beard (inside that block, where ``beard_area > 0``) or
    for the scalp hair (where ``v_hair > 0.05``) are left out, for the skin's triangles that
    cannot reach them (the same reason: llvmpipe would run them everywhere); likewise the eye
    make-up's block (inside the face regions' block, around the upper lids) without ``eye_makeup``."""
    src = _with_defines(FACE_FS, HAIR_CARDS=hair_cards, CORNEA=cornea, NO_FACE_REGIONS=not face_regions,
                        NO_BEARD=not beard, NO_SCALP_HAIR=not scalp_hair, NO_EYE_MAKEUP=not eye_makeup)
    if isinstance(material, int):
        src = src.replace("    int material = v_info.x;", f"    const int material = {int(material)};", 1)
    elif material is not None:
        keep = {int(m) for m in material}
        head, body = src.split("void main() {", 1)

        def fold(m: re.Match) -> str:
            if int(m.group(2)) in keep:
                return m.group(0)
            return "false" if m.group(1) == "==" else "true"

        src = head + "void main() {" + re.sub(r"\bmaterial (==|!=) (\d+)\b", fold, body)
    return src
