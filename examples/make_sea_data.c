/* examples/make_sea_data.c: writes a synthetic stand-in for the notebook's sea-creature
 * photos: 5 classes (folders 0..4: sea sponge, sea star, crab, plankton, squid), 100x100 RGB
 * PNGs, 35/10/5 per class under OUT/train, OUT/test and OUT/validate. Deterministic: image
 * (split, class, i) is drawn from its own stream of a fixed seed, so every run writes the
 * same bytes. Each creature is drawn with random position, size, rotation and colour on a
 * varied underwater background with clutter, haze and sensor noise; the difficulty is tuned
 * with examples/check_sea_data.py so that the notebook's model learns it about as well as
 * the real photos.
 *
 *   usage: make_sea_data [OUT_DIR]      (default data/sea_creature_images) */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb_image_write.h>

#include "runtime/rng.h"

#define S 100                   /* image side */
#define SEED 20240613u
#define NCLASSES 5
#define PI 3.14159265358979323846

static const char *const split_names[3] = { "train", "test", "validate" };
static const int split_counts[3] = { 35, 10, 5 };

typedef struct { double r, g, b; } Rgb;

static double img[S][S][3];     /* the canvas, 0..1 */
static Rng rng;                 /* the current image's stream */

/* ---- random numbers and colours ---- */

static double uni(double a, double b) { return a + (b - a) * rng_uniform_double(&rng); }
static int coin(double p) { return rng_uniform_double(&rng) < p; }
static int irange(int a, int b) { return a + (int)rng_below(&rng, (uint32_t)(b - a + 1)); }
static double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

static double gauss(void)
{
    double u = rng_uniform_double(&rng) + 1e-12, v = rng_uniform_double(&rng);
    return sqrt(-2.0 * log(u)) * cos(2 * PI * v);
}

/* h in turns (0..1), s and v in 0..1 */
static Rgb hsv(double h, double s, double v)
{
    h = (h - floor(h)) * 6.0;
    int i = (int)h % 6;
    double f = h - floor(h), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    switch (i) {
    case 0: return (Rgb){ v, t, p };
    case 1: return (Rgb){ q, v, p };
    case 2: return (Rgb){ p, v, t };
    case 3: return (Rgb){ p, q, v };
    case 4: return (Rgb){ t, p, v };
    default: return (Rgb){ v, p, q };
    }
}

static Rgb mix(Rgb a, Rgb b, double t) { return (Rgb){ a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t }; }
static Rgb scale(Rgb a, double k) { return (Rgb){ a.r * k, a.g * k, a.b * k }; }

/* ---- value noise: smooth random texture with `cells` lattice cells across the image ---- */

typedef struct Noise {
    double g[17][17];
    double cells;
} Noise;

static void noise_init(Noise *n, double cells)
{
    n->cells = cells > 16 ? 16 : cells;
    for (int y = 0; y < 17; y++)
        for (int x = 0; x < 17; x++) n->g[y][x] = uni(-1, 1);
}

static double noise_at(const Noise *n, double x, double y)
{
    double fx = clamp01(x / S) * n->cells, fy = clamp01(y / S) * n->cells;
    int ix = (int)fx, iy = (int)fy;
    if (ix > 15) ix = 15;
    if (iy > 15) iy = 15;
    double tx = fx - ix, ty = fy - iy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    double a = n->g[iy][ix] + (n->g[iy][ix + 1] - n->g[iy][ix]) * tx;
    double b = n->g[iy + 1][ix] + (n->g[iy + 1][ix + 1] - n->g[iy + 1][ix]) * tx;
    return a + (b - a) * ty;
}

/* ---- shapes: a signed distance in pixels, painted with anti-aliased coverage ---- */

typedef enum { SH_ELLIPSE, SH_CAPSULE, SH_STAR } ShapeKind;

typedef struct Shape {
    ShapeKind kind;
    double cx, cy, a, b, rot;          /* ellipse: centre, semi-axes, rotation; star: a = outer, b = inner radius */
    double x0, y0, x1, y1, r0, r1;     /* capsule: segment and radius at each end */
    int    arms;                       /* star */
} Shape;

typedef struct Paint {
    Rgb          col;
    double       alpha;
    const Noise *tex;                  /* brightness texture, or NULL */
    double       tex_amp;
    double       shade;                /* lighter towards the top by this much */
} Paint;

static double shape_sdf(const Shape *s, double x, double y)
{
    switch (s->kind) {
    case SH_ELLIPSE: {
        double c = cos(s->rot), sn = sin(s->rot), dx = x - s->cx, dy = y - s->cy;
        double u = (dx * c + dy * sn) / s->a, v = (-dx * sn + dy * c) / s->b;
        return (sqrt(u * u + v * v) - 1.0) * (s->a < s->b ? s->a : s->b);
    }
    case SH_CAPSULE: {
        double vx = s->x1 - s->x0, vy = s->y1 - s->y0, l2 = vx * vx + vy * vy;
        double t = l2 > 0 ? ((x - s->x0) * vx + (y - s->y0) * vy) / l2 : 0;
        t = clamp01(t);
        double px = s->x0 + t * vx - x, py = s->y0 + t * vy - y;
        return sqrt(px * px + py * py) - (s->r0 + (s->r1 - s->r0) * t);
    }
    case SH_STAR: {
        double dx = x - s->cx, dy = y - s->cy, d = sqrt(dx * dx + dy * dy);
        double th = atan2(dy, dx) - s->rot;
        double f = pow(fabs(cos(s->arms * th / 2.0)), 2.2);
        return d - (s->b + (s->a - s->b) * f);
    }
    }
    return 1e9;
}

static void shape_bbox(const Shape *s, int *x0, int *y0, int *x1, int *y1)
{
    double r, lx, ly, hx, hy;
    if (s->kind == SH_CAPSULE) {
        r = (s->r0 > s->r1 ? s->r0 : s->r1) + 2;
        lx = fmin(s->x0, s->x1) - r, hx = fmax(s->x0, s->x1) + r;
        ly = fmin(s->y0, s->y1) - r, hy = fmax(s->y0, s->y1) + r;
    } else {
        r = (s->a > s->b ? s->a : s->b) + 2;
        lx = s->cx - r, hx = s->cx + r, ly = s->cy - r, hy = s->cy + r;
    }
    *x0 = lx < 0 ? 0 : (int)lx;
    *y0 = ly < 0 ? 0 : (int)ly;
    *x1 = hx > S - 1 ? S - 1 : (int)hx;
    *y1 = hy > S - 1 ? S - 1 : (int)hy;
}

static void draw(const Shape *s, const Paint *p)
{
    int x0, y0, x1, y1;
    shape_bbox(s, &x0, &y0, &x1, &y1);
    double top = s->kind == SH_CAPSULE ? fmin(s->y0, s->y1) : s->cy - s->b;
    double span = s->kind == SH_CAPSULE ? fabs(s->y1 - s->y0) + 2 * s->r0 + 1 : 2 * s->b + 1;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            double cov = clamp01(0.5 - shape_sdf(s, x + 0.5, y + 0.5));
            if (cov <= 0) continue;
            double k = 1.0 + p->shade * (0.5 - (y - top) / span);
            if (p->tex) k *= 1.0 + p->tex_amp * noise_at(p->tex, x, y);
            double a = cov * p->alpha;
            img[y][x][0] += (clamp01(p->col.r * k) - img[y][x][0]) * a;
            img[y][x][1] += (clamp01(p->col.g * k) - img[y][x][1]) * a;
            img[y][x][2] += (clamp01(p->col.b * k) - img[y][x][2]) * a;
        }
}

static void ellipse(double cx, double cy, double a, double b, double rot, const Paint *p)
{
    Shape s = { .kind = SH_ELLIPSE, .cx = cx, .cy = cy, .a = a, .b = b, .rot = rot };
    draw(&s, p);
}

static void capsule(double x0, double y0, double x1, double y1, double r0, double r1, const Paint *p)
{
    Shape s = { .kind = SH_CAPSULE, .x0 = x0, .y0 = y0, .x1 = x1, .y1 = y1, .r0 = r0, .r1 = r1 };
    draw(&s, p);
}

/* A wavy limb from (x, y) in direction ang: n segments, tapering from r0 to r1. */
static void limb(double x, double y, double ang, double len, double r0, double r1, double wave, int n, const Paint *p)
{
    double phase = uni(0, 2 * PI), seg = len / n;
    for (int i = 0; i < n; i++) {
        double a = ang + wave * sin(phase + i * 1.3);
        double nx = x + seg * cos(a), ny = y + seg * sin(a);
        capsule(x, y, nx, ny, r0 + (r1 - r0) * i / n, r0 + (r1 - r0) * (i + 1) / n, p);
        x = nx, y = ny;
    }
}

/* ---- the scene: water, floor, clutter ---- */

typedef struct Scene {
    Rgb   water_top, water_bottom;
    double haze;                        /* how much the creature fades into the water */
    Noise tex, tex2;
} Scene;

static void background(Scene *sc)
{
    double hue = uni(0.45, 0.62), light = uni(0.35, 0.85);
    sc->water_top = hsv(hue + uni(-0.04, 0.04), uni(0.35, 0.9), light);
    sc->water_bottom = hsv(hue + uni(-0.08, 0.05), uni(0.4, 0.95), light * uni(0.25, 0.7));
    Noise caustic;
    noise_init(&caustic, uni(4, 10));
    double floor_y = coin(0.6) ? uni(55, 95) : S + 10, ripple = uni(2, 6);
    Rgb sand = hsv(uni(0.07, 0.14), uni(0.2, 0.55), uni(0.35, 0.8));
    Noise grain;
    noise_init(&grain, 16);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            Rgb c = mix(sc->water_top, sc->water_bottom, (double)y / S);
            c = scale(c, 1.0 + 0.18 * noise_at(&caustic, x, y));
            double fy = floor_y + ripple * sin(x * 0.08 + floor_y);
            if (y > fy) c = mix(c, scale(sand, 1.0 + 0.3 * noise_at(&grain, x, y)), clamp01((y - fy) / 4.0) * 0.85);
            img[y][x][0] = c.r, img[y][x][1] = c.g, img[y][x][2] = c.b;
        }
}

static void rock(void)
{
    Noise t;
    noise_init(&t, 12);
    Paint p = { hsv(uni(0.0, 0.15), uni(0.05, 0.45), uni(0.15, 0.55)), uni(0.8, 1.0), &t, 0.35, 0.3 };
    ellipse(uni(-5, S + 5), uni(40, S + 5), uni(8, 25), uni(6, 16), uni(-0.4, 0.4), &p);
}

static void seaweed(double alpha)
{
    Paint p = { hsv(uni(0.2, 0.4), uni(0.4, 0.9), uni(0.2, 0.6)), alpha, NULL, 0, 0.2 };
    double x = uni(0, S), len = uni(25, 70);
    limb(x, S + 2, -PI / 2 + uni(-0.3, 0.3), len, uni(1.5, 3.5), 0.7, uni(0.2, 0.5), 6, &p);
}

/* dots that look like plankton, in every class: the plankton class differs by how many */
static void specks(int n)
{
    for (int i = 0; i < n; i++) {
        Paint p = { hsv(uni(0.1, 0.5), uni(0, 0.4), uni(0.6, 1.0)), uni(0.2, 0.6), NULL, 0, 0 };
        double r = uni(0.6, 2.0);
        ellipse(uni(0, S), uni(0, S), r, r * uni(0.7, 1.0), 0, &p);
    }
}

static void bubbles(int n)
{
    for (int i = 0; i < n; i++) {
        double x = uni(0, S), y = uni(0, S), r = uni(1.5, 4);
        Paint rim = { { 0.9, 0.95, 1.0 }, uni(0.3, 0.6), NULL, 0, 0 };
        ellipse(x, y, r, r, 0, &rim);
        Paint in = { mix(hsv(0.55, 0.5, 0.6), (Rgb){ 1, 1, 1 }, 0.3), 0.5, NULL, 0, 0 };
        ellipse(x, y, r * 0.7, r * 0.7, 0, &in);
    }
}

/* ---- the creatures: each at centre (cx, cy), size sz (pixels), rotation rot ---- */

static void sea_sponge(const Scene *sc, double cx, double cy, double sz, double rot)
{
    (void)rot;
    Rgb base = hsv(uni(0.10, 0.17), uni(0.55, 0.95), uni(0.6, 1.0));
    if (coin(0.2)) base = hsv(uni(0.03, 0.09), uni(0.6, 0.9), uni(0.6, 0.95));     /* orange sponges */
    int n = irange(2, 6);
    double lean = uni(-0.35, 0.35), foot = cy + sz * 0.5;
    for (int i = 0; i < n; i++) {
        double x = cx + uni(-0.45, 0.45) * sz, h = sz * uni(0.55, 1.1), w = sz * uni(0.10, 0.2);
        double a = -PI / 2 + lean + uni(-0.25, 0.25);
        double tx = x + h * cos(a), ty = foot + h * sin(a);
        Paint body = { mix(base, hsv(uni(0, 1), 0.5, 0.5), uni(0, 0.15)), 1.0, &sc->tex, 0.3, 0.35 };
        capsule(x, foot, tx, ty, w * uni(1.0, 1.3), w, &body);
        Paint hole = { scale(base, uni(0.15, 0.35)), 0.95, NULL, 0, 0 };
        ellipse(tx, ty, w * 0.75, w * 0.45, a + PI / 2, &hole);
        Paint pore = { scale(base, 0.55), 0.6, NULL, 0, 0 };
        for (int k = 0; k < (int)(h / 4); k++) {
            double t = uni(0.1, 0.9);
            ellipse(x + (tx - x) * t + uni(-0.5, 0.5) * w, foot + (ty - foot) * t, 0.9, 0.9, 0, &pore);
        }
    }
}

static void sea_star(const Scene *sc, double cx, double cy, double sz, double rot)
{
    static const double hues[][2] = { { 0.0, 0.04 }, { 0.04, 0.09 }, { 0.75, 0.9 }, { 0.9, 1.0 }, { 0.09, 0.13 } };
    int h = irange(0, 4);
    Rgb col = hsv(uni(hues[h][0], hues[h][1]), uni(0.55, 0.95), uni(0.55, 1.0));
    Shape s = { .kind = SH_STAR, .cx = cx, .cy = cy, .a = sz * 0.5, .b = sz * uni(0.13, 0.22), .rot = rot, .arms = 5 };
    Paint p = { col, 1.0, &sc->tex, 0.35, 0.3 };
    draw(&s, &p);
    /* bumps along the arms */
    Paint bump = { mix(col, (Rgb){ 1, 0.95, 0.8 }, uni(0.3, 0.6)), 0.8, NULL, 0, 0 };
    for (int arm = 0; arm < 5; arm++) {
        double a = rot + arm * 2 * PI / 5;
        for (double t = 0.2; t < 0.85; t += uni(0.12, 0.2))
            ellipse(cx + cos(a) * t * s.a, cy + sin(a) * t * s.a, 0.9 + 0.8 * (1 - t), 0.9 + 0.8 * (1 - t), 0, &bump);
    }
}

static void crab(const Scene *sc, double cx, double cy, double sz, double rot)
{
    Rgb col = coin(0.75) ? hsv(uni(0.97, 1.04), uni(0.6, 0.95), uni(0.5, 0.95)) : hsv(uni(0.04, 0.09), uni(0.5, 0.8), uni(0.35, 0.7));
    Paint body = { col, 1.0, &sc->tex, 0.25, 0.35 };
    Paint leg = { scale(col, 0.85), 1.0, NULL, 0, 0.2 };
    double w = sz * 0.42, h = sz * uni(0.25, 0.32), c = cos(rot), s = sin(rot);
    /* legs: 4 a side, two joints each, bending backwards */
    for (int side = -1; side <= 1; side += 2)
        for (int i = 0; i < 4; i++) {
            double lx = (-0.35 + 0.23 * i) * w, ly = side * h * 0.7;
            double x0 = cx + lx * c - ly * s, y0 = cy + lx * s + ly * c;
            double a = rot + side * (PI / 2 + uni(-0.2, 0.2)) + (i - 1.5) * 0.35;
            double l1 = sz * uni(0.22, 0.3), l2 = sz * uni(0.2, 0.28);
            double x1 = x0 + l1 * cos(a), y1 = y0 + l1 * sin(a);
            double b = a - side * uni(0.6, 1.1);
            capsule(x0, y0, x1, y1, sz * 0.035, sz * 0.03, &leg);
            capsule(x1, y1, x1 + l2 * cos(b), y1 + l2 * sin(b), sz * 0.03, sz * 0.015, &leg);
        }
    /* claws in front (+x in the crab's frame) */
    for (int side = -1; side <= 1; side += 2) {
        double ax = w * 0.8, ay = side * h * 0.9;
        double x0 = cx + ax * c - ay * s, y0 = cy + ax * s + ay * c;
        double a = rot + side * uni(0.2, 0.6);
        double x1 = x0 + sz * 0.22 * cos(a), y1 = y0 + sz * 0.22 * sin(a);
        capsule(x0, y0, x1, y1, sz * 0.05, sz * 0.06, &leg);
        ellipse(x1, y1, sz * 0.12, sz * 0.075, a, &body);
        Paint gap = { scale(col, 0.3), 0.9, NULL, 0, 0 };
        capsule(x1 + sz * 0.04 * cos(a), y1 + sz * 0.04 * sin(a), x1 + sz * 0.13 * cos(a), y1 + sz * 0.13 * sin(a),
                sz * 0.012, sz * 0.02, &gap);
    }
    ellipse(cx, cy, w, h, rot, &body);
    Paint eye = { { 0.05, 0.05, 0.05 }, 1.0, NULL, 0, 0 };
    for (int side = -1; side <= 1; side += 2) {
        double ex = w * 0.85, ey = side * h * 0.3;
        ellipse(cx + ex * c - ey * s, cy + ex * s + ey * c, sz * 0.03 + 0.6, sz * 0.03 + 0.6, 0, &eye);
    }
}

static void plankton(const Scene *sc, double cx, double cy, double sz, double rot)
{
    (void)sc, (void)rot;
    Rgb tint = hsv(uni(0.2, 0.55), uni(0.1, 0.6), 1.0);
    int n = irange(25, 90);
    double spread = sz * uni(0.6, 1.3);
    for (int i = 0; i < n; i++) {
        double x = cx + gauss() * spread * 0.5, y = cy + gauss() * spread * 0.5, r = uni(0.8, 3.2);
        Paint glow = { mix(tint, (Rgb){ 1, 1, 1 }, uni(0, 0.5)), uni(0.25, 0.7), NULL, 0, 0 };
        if (coin(0.25)) {                                /* copepod-like: a body and two antennae */
            double a = uni(0, 2 * PI);
            ellipse(x, y, r * 1.3, r * 0.6, a, &glow);
            capsule(x, y, x + 3 * r * cos(a + 2.5), y + 3 * r * sin(a + 2.5), 0.35, 0.3, &glow);
            capsule(x, y, x + 3 * r * cos(a - 2.5), y + 3 * r * sin(a - 2.5), 0.35, 0.3, &glow);
        } else {
            ellipse(x, y, r, r, 0, &glow);
            Paint core = { (Rgb){ 1, 1, 1 }, glow.alpha * 0.6, NULL, 0, 0 };
            ellipse(x, y, r * 0.4, r * 0.4, 0, &core);
        }
    }
}

static void squid(const Scene *sc, double cx, double cy, double sz, double rot)
{
    Rgb col = coin(0.6) ? hsv(uni(0.93, 1.02), uni(0.15, 0.5), uni(0.7, 1.0)) : hsv(uni(0.02, 0.08), uni(0.4, 0.7), uni(0.45, 0.8));
    double L = sz * 0.55, W = sz * uni(0.15, 0.21), c = cos(rot), s = sin(rot);
    Paint body = { col, uni(0.9, 1.0), &sc->tex, 0.25, 0.25 };
    Paint arm = { scale(col, 0.9), body.alpha, NULL, 0, 0.1 };
    /* tentacles trail from the head end (-x in the squid's frame) */
    double hx = cx - L * c, hy = cy - L * s;
    for (int i = 0; i < 8; i++) {
        double a = rot + PI + (i - 3.5) * 0.11;
        limb(hx, hy, a, sz * uni(0.3, 0.45), W * 0.25, 0.5, uni(0.15, 0.35), 5, &arm);
    }
    for (int i = 0; i < 2; i++) limb(hx, hy, rot + PI + (i ? 0.15 : -0.15), sz * uni(0.5, 0.7), W * 0.15, 0.5, 0.2, 7, &arm);
    /* fins at the tail */
    double fx = cx + L * 0.8 * c, fy = cy + L * 0.8 * s;
    ellipse(fx, fy, W * 0.7, W * 1.6, rot, &body);
    ellipse(cx, cy, L, W, rot, &body);
    /* head, eyes, chromatophore spots */
    ellipse(cx - L * 0.95 * c, cy - L * 0.95 * s, W * 0.8, W * 0.75, rot, &body);
    Paint eye = { { 0.05, 0.05, 0.08 }, 1.0, NULL, 0, 0 };
    ellipse(cx - L * 0.95 * c - W * 0.4 * s, cy - L * 0.95 * s + W * 0.4 * c, 1.3, 1.3, 0, &eye);
    Paint spot = { scale(hsv(0.02, 0.8, 0.6), 1.0), 0.5, NULL, 0, 0 };
    for (int i = 0; i < (int)(L / 3); i++) {
        double t = uni(-0.8, 0.8), v = uni(-0.6, 0.6);
        ellipse(cx + t * L * c - v * W * s, cy + t * L * s + v * W * c, 0.8, 0.8, 0, &spot);
    }
}

typedef void (*CreatureFn)(const Scene *sc, double cx, double cy, double sz, double rot);
static const CreatureFn creatures[NCLASSES] = { sea_sponge, sea_star, crab, plankton, squid };

/* ---- one image ---- */

static void render(int cls)
{
    Scene sc;
    background(&sc);
    noise_init(&sc.tex, uni(6, 16));
    sc.haze = uni(0.0, 0.3);
    for (int i = irange(0, 3); i > 0; i--) rock();
    for (int i = irange(0, 4); i > 0; i--) seaweed(uni(0.6, 1.0));
    specks(irange(0, 15));
    /* the creature, drawn on a copy so it can be hazed into the water */
    static double before[S][S][3];
    memcpy(before, img, sizeof img);
    double sz = uni(45, 80);
    double cx = uni(25, 75), cy = uni(25, 75), rot = uni(0, 2 * PI);
    creatures[cls](&sc, cx, cy, sz, rot);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            Rgb w = mix(sc.water_top, sc.water_bottom, (double)y / S);
            double wc[3] = { w.r, w.g, w.b };
            for (int k = 0; k < 3; k++)
                if (img[y][x][k] != before[y][x][k]) img[y][x][k] += (wc[k] - img[y][x][k]) * sc.haze;
        }
    /* clutter in front: seaweed, specks, bubbles */
    if (coin(0.35)) seaweed(uni(0.4, 0.9));
    specks(irange(0, 8));
    bubbles(irange(0, 4));
    /* light falloff, colour cast and sensor noise (grain in 2x2 blocks, as in a downscaled photo) */
    double vig = uni(0.1, 0.45), noise = uni(0.003, 0.012);
    Rgb cast = { uni(0.85, 1.1), uni(0.9, 1.1), uni(0.9, 1.15) };
    static double grain[S / 2][S / 2];
    for (int y = 0; y < S / 2; y++)
        for (int x = 0; x < S / 2; x++) grain[y][x] = noise * gauss();
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double dx = (x - 50) / 50.0, dy = (y - 50) / 50.0, v = 1.0 - vig * (dx * dx + dy * dy) * 0.5;
            double cc[3] = { cast.r, cast.g, cast.b };
            for (int k = 0; k < 3; k++) img[y][x][k] = img[y][x][k] * v * cc[k] + grain[y / 2][x / 2];
        }
}

static int write_png(const char *path)
{
    static unsigned char px[S * S * 3];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            for (int k = 0; k < 3; k++) px[(y * S + x) * 3 + k] = (unsigned char)lrint(clamp01(img[y][x][k]) * 255.0);
    return stbi_write_png(path, S, S, 3, px, S * 3) ? 0 : -1;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    fprintf(stderr, "make_sea_data: error: cannot create %s: %s\n", path, strerror(errno));
    return -1;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char p[4096];
    if (strlen(path) >= sizeof p) return -1;
    strcpy(p, path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (make_dir(p)) return -1;
            *s = '/';
        }
    return make_dir(p);
}

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : "data/sea_creature_images";
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: make_sea_data [OUT_DIR]   (default data/sea_creature_images)\n");
        return 2;
    }
    stbi_write_png_compression_level = 8;
    int total = 0;
    for (int sp = 0; sp < 3; sp++)
        for (int cls = 0; cls < NCLASSES; cls++) {
            char dir[4200], path[4300];
            snprintf(dir, sizeof dir, "%s/%s/%d", out, split_names[sp], cls);
            if (make_dirs(dir)) return 1;
            for (int i = 0; i < split_counts[sp]; i++) {
                rng_seed3(&rng, SEED, (uint64_t)sp * 16 + (uint64_t)cls, (uint64_t)i);
                render(cls);
                snprintf(path, sizeof path, "%s/%03d.png", dir, i);
                if (write_png(path)) {
                    fprintf(stderr, "make_sea_data: error: cannot write %s: %s\n", path, strerror(errno));
                    return 1;
                }
                total++;
            }
        }
    printf("make_sea_data: wrote %d synthetic images (5 classes, 100x100 RGB) under %s\n", total, out);
    return 0;
}
