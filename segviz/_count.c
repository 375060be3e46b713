/* The counting kernel of segviz, compiled when segviz is installed (optional: without a C compiler
 * segviz uses numba or numpy, with identical results; see segviz/kernels.py).
 *
 * sparse_u8(gt, pred, hist, keys, counts) -> n
 *
 * gt, pred: contiguous uint8 buffers of the same length (the two masks, flattened).
 * hist:     writable int64 buffer of 65536 zeros (scratch; left zeroed on return).
 * keys, counts: writable int64 buffers of 65536 entries; on return keys[:n] holds the distinct
 *           values gt*256 + pred in increasing order and counts[:n] how many pixels have each.
 *
 *
 * unfilter_png(raw, out, width, height, bpp) -> 0, or -1 for an unknown filter type
 *
 * raw: the inflated image data of a non-interlaced PNG (height rows of 1 filter byte + width*bpp
 *      bytes); out: writable contiguous buffer of height*width*bpp bytes. Undoes the five PNG row
 *      filters (None, Sub, Up, Average, Paeth) for 1..8 bytes per pixel. The GIL is released.
 *
 * level_pairs_u8(level, gt, pred, code, ncodes, hist, keys, counts) -> n
 *
 * level, gt, pred: contiguous uint8 buffers of the same length (a confidence map and the two
 *      masks); code: uint8[65536], a byte below ncodes for each (gt, pred) pair that occurs;
 *      hist, keys, counts: writable int64[65536], hist zeroed (left zeroed on return). On return
 *      keys[:n] holds the distinct level*256 + code[gt*256 + pred] in increasing order and
 *      counts[:n] their pixels. A dense count, as a confidence map changes from pixel to pixel
 *      (no runs to skip), and no (gt, pred) code map is built. The GIL is released.
 *
 * Label maps are mostly long runs of one (gt, pred) pair, so the loop compares eight bytes at a
 * time and only looks at single pixels where a run ends. The GIL is released while counting: the
 * threads of segviz.evaluate.count_pairs run in parallel.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 65536

static int compare_keys(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static Py_ssize_t count_runs(const uint8_t *gt, const uint8_t *pred, Py_ssize_t n, int64_t *hist,
                             int64_t *keys, int64_t *counts) {
    Py_ssize_t nk = 0;
    if (n == 0) return 0;
    int64_t key = (int64_t)gt[0] * 256 + pred[0];
    int64_t run = 0;
    Py_ssize_t i = 0;
    uint64_t gs = (uint64_t)gt[0] * 0x0101010101010101ULL, ps = (uint64_t)pred[0] * 0x0101010101010101ULL;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t gw, pw;
            memcpy(&gw, gt + i, 8);
            memcpy(&pw, pred + i, 8);
            if (gw == gs && pw == ps) {
                run += 8;
                i += 8;
                continue;
            }
        }
        Py_ssize_t end = i + 8 <= n ? i + 8 : n;
        for (; i < end; i++) {
            int64_t k = (int64_t)gt[i] * 256 + pred[i];
            if (k == key) {
                run++;
            } else {
                if (hist[key] == 0) keys[nk++] = key;
                hist[key] += run;
                key = k;
                run = 1;
            }
        }
        gs = (uint64_t)(key >> 8) * 0x0101010101010101ULL;
        ps = (uint64_t)(key & 255) * 0x0101010101010101ULL;
    }
    if (hist[key] == 0) keys[nk++] = key;
    hist[key] += run;
    qsort(keys, (size_t)nk, sizeof(int64_t), compare_keys);
    for (Py_ssize_t j = 0; j < nk; j++) {
        counts[j] = hist[keys[j]];
        hist[keys[j]] = 0;
    }
    return nk;
}

static PyObject *sparse_u8(PyObject *self, PyObject *args) {
    PyObject *objs[5];
    Py_buffer views[5];
    int got = 0;
    Py_ssize_t nk = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOO:sparse_u8", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4])) {
        return NULL;
    }
    for (; got < 5; got++) {
        int flags = PyBUF_C_CONTIGUOUS | (got >= 2 ? PyBUF_WRITABLE : 0); /* hist, keys, counts */
        if (PyObject_GetBuffer(objs[got], &views[got], flags) < 0) goto fail;
    }
    if (views[0].len != views[1].len) {
        PyErr_SetString(PyExc_ValueError, "sparse_u8: gt and pred differ in length");
        goto fail;
    }
    for (int j = 2; j < 5; j++) {
        if (views[j].len != NKEYS * (Py_ssize_t)sizeof(int64_t)) {
            PyErr_SetString(PyExc_ValueError, "sparse_u8: hist, keys and counts must be int64[65536]");
            goto fail;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    nk = count_runs((const uint8_t *)views[0].buf, (const uint8_t *)views[1].buf, views[0].len,
                    (int64_t *)views[2].buf, (int64_t *)views[3].buf, (int64_t *)views[4].buf);
    Py_END_ALLOW_THREADS
    for (int j = 0; j < got; j++) PyBuffer_Release(&views[j]);
    return PyLong_FromSsize_t(nk);
fail:
    for (int j = 0; j < got; j++) PyBuffer_Release(&views[j]);
    return NULL;
}

static inline uint8_t paeth(int a, int b, int c) {
    /* branch-free: the selects compile to conditional moves (a branch here mispredicts on photos) */
    int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
    int bc = pb <= pc ? b : c;
    int use_a = (pa <= pb) & (pa <= pc);
    return (uint8_t)(use_a ? a : bc);
}

static int unfilter(const uint8_t *raw, uint8_t *out, Py_ssize_t width, Py_ssize_t height, Py_ssize_t bpp) {
    Py_ssize_t stride = width * bpp;
    const uint8_t *prev = NULL;
    for (Py_ssize_t y = 0; y < height; y++) {
        const uint8_t *src = raw + y * (stride + 1);
        uint8_t filter = src[0];
        uint8_t *dst = out + y * stride;
        Py_ssize_t x, lead = bpp < stride ? bpp : stride;
        src++;
        if (prev == NULL && (filter == 2 || filter == 4)) filter = filter == 2 ? 0 : 1; /* up = 0 */
        switch (filter) {
        case 0:
            memcpy(dst, src, (size_t)stride);
            break;
        case 1:
            for (x = 0; x < lead; x++) dst[x] = src[x];
            for (; x < stride; x++) dst[x] = (uint8_t)(src[x] + dst[x - bpp]);
            break;
        case 2:
            for (x = 0; x < stride; x++) dst[x] = (uint8_t)(src[x] + prev[x]);
            break;
        case 3:
            if (prev == NULL) {
                for (x = 0; x < lead; x++) dst[x] = src[x];
                for (; x < stride; x++) dst[x] = (uint8_t)(src[x] + (dst[x - bpp] >> 1));
            } else {
                for (x = 0; x < lead; x++) dst[x] = (uint8_t)(src[x] + (prev[x] >> 1));
                for (; x < stride; x++) dst[x] = (uint8_t)(src[x] + ((dst[x - bpp] + prev[x]) >> 1));
            }
            break;
        case 4: /* prev != NULL here */
            for (x = 0; x < lead; x++) dst[x] = (uint8_t)(src[x] + prev[x]); /* a = c = 0: b */
            if (bpp == 1) {
                int a = dst[0], c = prev[0];
                for (x = 1; x < stride; x++) {
                    int b = prev[x];
                    a = (uint8_t)(src[x] + paeth(a, b, c));
                    dst[x] = (uint8_t)a;
                    c = b;
                }
            } else {
                for (; x < stride; x++) dst[x] = (uint8_t)(src[x] + paeth(dst[x - bpp], prev[x], prev[x - bpp]));
            }
            break;
        default:
            return -1;
        }
        prev = dst;
    }
    return 0;
}

static PyObject *unfilter_png(PyObject *self, PyObject *args) {
    PyObject *raw_obj, *out_obj;
    Py_ssize_t width, height, bpp;
    Py_buffer raw, out;
    int status;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOnnn:unfilter_png", &raw_obj, &out_obj, &width, &height, &bpp)) return NULL;
    if (width < 0 || height < 0 || bpp < 1 || bpp > 8) {
        PyErr_SetString(PyExc_ValueError, "unfilter_png: bad width, height or bytes per pixel");
        return NULL;
    }
    if (PyObject_GetBuffer(raw_obj, &raw, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&raw);
        return NULL;
    }
    if (raw.len != height * (width * bpp + 1) || out.len != height * width * bpp) {
        PyBuffer_Release(&raw);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "unfilter_png: buffer sizes do not match width x height");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    status = unfilter((const uint8_t *)raw.buf, (uint8_t *)out.buf, width, height, bpp);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&raw);
    PyBuffer_Release(&out);
    return PyLong_FromLong(status);
}

static PyObject *level_pairs_u8(PyObject *self, PyObject *args) {
    PyObject *objs[7];
    Py_buffer views[7];
    Py_ssize_t ncodes, nk = 0;
    int got = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOnOOO:level_pairs_u8", &objs[0], &objs[1], &objs[2], &objs[3], &ncodes,
                          &objs[4], &objs[5], &objs[6])) {
        return NULL;
    }
    for (; got < 7; got++) {
        int flags = PyBUF_C_CONTIGUOUS | (got >= 4 ? PyBUF_WRITABLE : 0); /* hist, keys, counts */
        if (PyObject_GetBuffer(objs[got], &views[got], flags) < 0) goto fail;
    }
    if (views[0].len != views[1].len || views[0].len != views[2].len) {
        PyErr_SetString(PyExc_ValueError, "level_pairs_u8: level, gt and pred differ in length");
        goto fail;
    }
    if (views[3].len != NKEYS || ncodes < 0 || ncodes > 256) {
        PyErr_SetString(PyExc_ValueError, "level_pairs_u8: code must be uint8[65536], ncodes in 0..256");
        goto fail;
    }
    for (int j = 4; j < 7; j++) {
        if (views[j].len != NKEYS * (Py_ssize_t)sizeof(int64_t)) {
            PyErr_SetString(PyExc_ValueError, "level_pairs_u8: hist, keys and counts must be int64[65536]");
            goto fail;
        }
    }
    {
        const uint8_t *level = (const uint8_t *)views[0].buf, *gt = (const uint8_t *)views[1].buf;
        const uint8_t *pred = (const uint8_t *)views[2].buf, *code = (const uint8_t *)views[3].buf;
        int64_t *hist = (int64_t *)views[4].buf, *keys = (int64_t *)views[5].buf;
        int64_t *counts = (int64_t *)views[6].buf;
        Py_ssize_t n = views[0].len;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n; i++) hist[((unsigned)level[i] << 8) | code[((unsigned)gt[i] << 8) | pred[i]]]++;
        /* codes >= ncodes never occur (the caller's code table): scan only the used columns */
        for (Py_ssize_t lv = 0; lv < 256; lv++) {
            for (Py_ssize_t c = 0; c < ncodes; c++) {
                Py_ssize_t key = (lv << 8) | c;
                if (hist[key]) {
                    keys[nk] = key;
                    counts[nk++] = hist[key];
                    hist[key] = 0;
                }
            }
        }
        Py_END_ALLOW_THREADS
    }
    for (int j = 0; j < got; j++) PyBuffer_Release(&views[j]);
    return PyLong_FromSsize_t(nk);
fail:
    for (int j = 0; j < got; j++) PyBuffer_Release(&views[j]);
    return NULL;
}

static PyMethodDef methods[] = {
    {"sparse_u8", sparse_u8, METH_VARARGS,
     "sparse_u8(gt, pred, hist, keys, counts) -> n: sorted distinct gt*256+pred keys and their counts."},
    {"unfilter_png", unfilter_png, METH_VARARGS,
     "unfilter_png(raw, out, width, height, bpp) -> 0, or -1 for an unknown filter type."},
    {"level_pairs_u8", level_pairs_u8, METH_VARARGS,
     "level_pairs_u8(level, gt, pred, code, ncodes, hist, keys, counts) -> n: sorted distinct "
     "level*256 + code[gt*256 + pred] and their counts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "segviz._count", NULL, -1, methods};

PyMODINIT_FUNC PyInit__count(void) { return PyModule_Create(&module); }
