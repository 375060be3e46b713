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

/* ======================================================================= fold: begin
 * (issue #17, branch "fold") The fold of the stored sparse rows through the class table, and the
 * per-image [TP | GT | PRED] aggregates, each in one pass with no temporary per row. Used by
 * segviz.evaluate (fold, _count_matrix) when present; the numpy code there is the reference and the
 * fallback, with identical results (tests/test_fold_kernel.py).
 *
 * fold_rows(offsets, g, p, c, lut_g, lut_p, k, colour, unknown, confusion, ignored, flags, rows) -> R
 *
 * offsets: int64 (N+1,), image i's rows are offsets[i]:offsets[i+1]. g, p, c: (offsets[N],) unsigned
 *      integers of 1, 2, 4 or 8 bytes each (raw gt value, raw pred value, pixels; non-negative).
 * lut_g: int32, class index of each raw gt value below len(lut_g) (K = ignored, K+1 = not in the
 *      table); lut_p: int32, of each raw pred value (K = not a class).
 * colour: uint8 (N,), 1 where the pair was colour-coded; unknown: the raw value of a colour not in
 *      the table (its invalid predictions were reported already: flag bit 2 not set for them).
 * confusion: writable int64 (K*(K+1),) of zeros, += the pixels of each (gt, pred) cell of the images
 *      kept; ignored: writable int64 (N,), set to the ignored pixels of each image (0 for one not
 *      kept); flags: writable uint8 (N,), set to 1 for an image with a gt value not in the table
 *      (not kept), else 2 when it holds invalid predictions (not of an unknown colour), else 0.
 * rows: writable int64 (offsets[N], 4): on return rows[:R] holds (image, gt, pred, pixels), the
 *      images numbered among those kept, each image's cells distinct and in increasing (gt, pred).
 * Returns -1 with ValueError for a raw value beyond its table or an entry out of 0..K+1.
 *
 * image_matrix(rows, n, k, indptr, indices, data) -> nnz
 *
 * rows: int64 (R, 4) of (image, gt, pred, pixels), images non-decreasing in 0..n-1, 0 <= gt < k,
 *      0 <= pred <= k. indptr: writable int64 (n+1,); indices: writable int32 or int64, data:
 *      writable int64, each of 3R entries (the most there can be). On return they hold the CSR
 *      arrays of the (n, 3k) [TP | GT | PRED] matrix (TP: gt == pred, PRED: pred < k), columns
 *      increasing in each row, zero sums not stored: indices[:nnz], data[:nnz] (one pass; the
 *      entries never written are never touched). ValueError when rows break the rules above.
 */

static inline uint64_t fold_read(const char *buf, Py_ssize_t size, Py_ssize_t i) {
    switch (size) {
    case 1: return ((const uint8_t *)buf)[i];
    case 2: return ((const uint16_t *)buf)[i];
    case 4: return ((const uint32_t *)buf)[i];
    default: return ((const uint64_t *)buf)[i];
    }
}

typedef struct {
    int64_t key, count;
} fold_cell;

/* sort cells by key: insertion sort of runs of 16, then bottom-up merges (skipped where the two
 * halves are in order already); tmp holds n cells */
static void fold_sort(fold_cell *a, Py_ssize_t n, fold_cell *tmp) {
    const Py_ssize_t run = 16;
    for (Py_ssize_t lo = 0; lo < n; lo += run) {
        Py_ssize_t hi = lo + run < n ? lo + run : n;
        for (Py_ssize_t i = lo + 1; i < hi; i++) {
            fold_cell x = a[i];
            Py_ssize_t j = i;
            while (j > lo && a[j - 1].key > x.key) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = x;
        }
    }
    for (Py_ssize_t width = run; width < n; width *= 2) {
        for (Py_ssize_t lo = 0; lo + width < n; lo += 2 * width) {
            Py_ssize_t mid = lo + width, hi = lo + 2 * width < n ? lo + 2 * width : n;
            if (a[mid - 1].key <= a[mid].key) continue;
            Py_ssize_t nl = mid - lo, i = 0, j = mid, o = lo;
            memcpy(tmp, a + lo, (size_t)nl * sizeof(fold_cell));
            while (i < nl && j < hi) a[o++] = a[j].key < tmp[i].key ? a[j++] : tmp[i++];
            while (i < nl) a[o++] = tmp[i++];
        }
    }
}

typedef struct {
    const int64_t *offsets;
    Py_ssize_t n;
    const char *g, *p, *c;
    Py_ssize_t gsize, psize, csize;
    const int32_t *lut_g, *lut_p;
    Py_ssize_t ng, np;
    int64_t k;
    const uint8_t *colour;
    uint64_t unknown;
    int64_t *confusion, *ignored, *rows;
    uint8_t *flags;
} fold_job;

/* returns R, or -1 (a raw value beyond its table), -2 (a table entry out of 0..K+1) */
static Py_ssize_t fold_run(const fold_job *job, fold_cell *cells, fold_cell *tmp) {
    const int64_t k = job->k, side = k + 1;
    Py_ssize_t out = 0;
    int64_t kept = 0;
    for (Py_ssize_t i = 0; i < job->n; i++) {
        Py_ssize_t lo = (Py_ssize_t)job->offsets[i], hi = (Py_ssize_t)job->offsets[i + 1];
        int bad = 0;
        for (Py_ssize_t r = lo; r < hi; r++) { /* an unknown gt value skips the whole image */
            uint64_t v = fold_read(job->g, job->gsize, r);
            if (v >= (uint64_t)job->ng) return -1;
            int64_t gi = job->lut_g[v];
            if (gi < 0 || gi > k + 1) return -2;
            bad |= gi == k + 1;
        }
        if (bad) {
            job->flags[i] = 1;
            job->ignored[i] = 0;
            continue;
        }
        int64_t ignored = 0, last = -1;
        int sorted = 1;
        uint8_t flag = 0;
        Py_ssize_t m = 0;
        for (Py_ssize_t r = lo; r < hi; r++) {
            int64_t gi = job->lut_g[fold_read(job->g, job->gsize, r)];
            int64_t count = (int64_t)fold_read(job->c, job->csize, r);
            if (gi == k) {
                ignored += count;
                continue;
            }
            uint64_t v = fold_read(job->p, job->psize, r);
            if (v >= (uint64_t)job->np) return -1;
            int64_t pi = job->lut_p[v];
            if (pi < 0 || pi > k) return -2;
            if (pi == k && !(job->colour[i] && v == job->unknown)) flag = 2;
            int64_t key = gi * side + pi;
            job->confusion[key] += count;
            sorted &= key > last;
            last = key;
            cells[m].key = key;
            cells[m++].count = count;
        }
        job->ignored[i] = ignored;
        job->flags[i] = flag;
        if (!sorted) { /* raw values folded out of order or onto one cell: sort, then sum */
            fold_sort(cells, m, tmp);
            Py_ssize_t w = 0;
            for (Py_ssize_t j = 0; j < m; j++) {
                if (w && cells[w - 1].key == cells[j].key) {
                    cells[w - 1].count += cells[j].count;
                } else {
                    cells[w++] = cells[j];
                }
            }
            m = w;
        }
        int64_t *row = job->rows + 4 * out;
        for (Py_ssize_t j = 0; j < m; j++, row += 4) {
            row[0] = kept;
            row[1] = cells[j].key / side;
            row[2] = cells[j].key % side;
            row[3] = cells[j].count;
        }
        out += m;
        kept++;
    }
    return out;
}

static int fold_int_buffer(PyObject *obj, Py_buffer *view, const char *name) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS) < 0) return -1;
    Py_ssize_t s = view->itemsize;
    if (!(s == 1 || s == 2 || s == 4 || s == 8) || view->len % s) {
        PyErr_Format(PyExc_ValueError, "fold_rows: %s must hold integers of 1, 2, 4 or 8 bytes", name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *fold_rows(PyObject *self, PyObject *args) {
    PyObject *objs[12];
    Py_buffer views[12];
    long long k_arg;
    unsigned long long unknown;
    int got = 0;
    Py_ssize_t result = 0;
    (void)self;
    /* offsets g p c lut_g lut_p | k | colour | unknown | confusion ignored flags rows */
    if (!PyArg_ParseTuple(args, "OOOOOOLOKOOOO:fold_rows", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4],
                          &objs[5], &k_arg, &objs[6], &unknown, &objs[7], &objs[8], &objs[9], &objs[10])) {
        return NULL;
    }
    static const char *names[] = {"offsets", "g", "p", "c", "lut_g", "lut_p", "colour",
                                  "confusion", "ignored", "flags", "rows"};
    for (; got < 11; got++) {
        if (got >= 1 && got <= 3) {
            if (fold_int_buffer(objs[got], &views[got], names[got]) < 0) goto fail;
        } else if (PyObject_GetBuffer(objs[got], &views[got], PyBUF_C_CONTIGUOUS | (got >= 7 ? PyBUF_WRITABLE : 0)) < 0) {
            goto fail;
        }
    }
    {
        Py_ssize_t n = views[0].len / 8 - 1, total;
        int64_t k = (int64_t)k_arg;
        const int64_t *offsets = (const int64_t *)views[0].buf;
        if (n < 0 || views[0].len % 8 || k < 1 || k > (1LL << 28)) { /* (k*(k+1)*8 fits int64) */
            PyErr_SetString(PyExc_ValueError, "fold_rows: offsets must be int64 (N+1,), k in 1..2**28");
            goto fail;
        }
        total = (Py_ssize_t)offsets[n];
        if (offsets[0] != 0 || views[1].len / views[1].itemsize != total || views[2].len / views[2].itemsize != total ||
            views[3].len / views[3].itemsize != total) {
            PyErr_SetString(PyExc_ValueError, "fold_rows: g, p and c must hold offsets[N] values");
            goto fail;
        }
        Py_ssize_t most = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (offsets[i + 1] < offsets[i]) {
                PyErr_SetString(PyExc_ValueError, "fold_rows: offsets must not decrease");
                goto fail;
            }
            if (offsets[i + 1] - offsets[i] > most) most = (Py_ssize_t)(offsets[i + 1] - offsets[i]);
        }
        if (views[4].len % 4 || views[5].len % 4 || views[6].len != n || views[7].len != k * (k + 1) * 8 ||
            views[8].len != n * 8 || views[9].len != n || views[10].len != total * 32) {
            PyErr_SetString(PyExc_ValueError,
                            "fold_rows: lut_g, lut_p int32; colour, flags uint8 (N,); confusion int64 (K*(K+1),); "
                            "ignored int64 (N,); rows int64 (offsets[N], 4)");
            goto fail;
        }
        fold_job job = {offsets, n, (const char *)views[1].buf, (const char *)views[2].buf,
                        (const char *)views[3].buf, views[1].itemsize, views[2].itemsize, views[3].itemsize,
                        (const int32_t *)views[4].buf, (const int32_t *)views[5].buf, views[4].len / 4,
                        views[5].len / 4, k, (const uint8_t *)views[6].buf, (uint64_t)unknown,
                        (int64_t *)views[7].buf, (int64_t *)views[8].buf, (int64_t *)views[10].buf,
                        (uint8_t *)views[9].buf};
        fold_cell *cells = (fold_cell *)malloc((size_t)(most ? most : 1) * 2 * sizeof(fold_cell));
        if (cells == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        Py_BEGIN_ALLOW_THREADS
        result = fold_run(&job, cells, cells + (most ? most : 1));
        Py_END_ALLOW_THREADS
        free(cells);
        if (result < 0) {
            PyErr_SetString(PyExc_ValueError, result == -1 ? "fold_rows: a raw value beyond its lookup table"
                                                           : "fold_rows: a lookup table entry out of 0..K+1");
            goto fail;
        }
    }
    for (int j = 0; j < got; j++) PyBuffer_Release(&views[j]);
    return PyLong_FromSsize_t(result);
fail:
    for (int j = 0; j < got; j++) PyBuffer_Release(&views[j]);
    return NULL;
}

/* one pass over the rows: per image, the sums of its [TP | GT | PRED] columns in a dense scratch
 * with a bitmap of the columns touched, then read in column order. Returns nnz, or -1 when the
 * rows break the rules. */
static Py_ssize_t matrix_run(const int64_t *rows, Py_ssize_t nrows, Py_ssize_t n, int64_t k, int64_t *indptr,
                             void *indices, int isize, int64_t *data, int64_t *dense, uint64_t *bits) {
    Py_ssize_t r = 0, nnz = 0;
    indptr[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t wlo = PY_SSIZE_T_MAX, whi = -1;
        for (; r < nrows && rows[4 * r] == i; r++) {
            int64_t g = rows[4 * r + 1], p = rows[4 * r + 2], c = rows[4 * r + 3];
            if (g < 0 || g >= k || p < 0 || p > k) return -1;
            int64_t cols[3] = {k + g, g, 2 * k + p};
            int ncols = 1 + (g == p); /* GT always, TP on the diagonal, PRED when valid */
            if (p < k) cols[ncols++] = 2 * k + p;
            for (int j = 0; j < ncols; j++) {
                int64_t col = cols[j];
                Py_ssize_t w = (Py_ssize_t)(col >> 6);
                dense[col] += c;
                bits[w] |= 1ULL << (col & 63);
                if (w < wlo) wlo = w;
                if (w > whi) whi = w;
            }
        }
        if (r < nrows && (rows[4 * r] < i || rows[4 * r] >= n)) return -1; /* out of order, or beyond n */
        for (Py_ssize_t w = wlo; w <= whi; w++) {
            uint64_t word = bits[w];
            while (word) {
                int64_t col = (int64_t)w * 64 + __builtin_ctzll(word);
                word &= word - 1;
                if (dense[col] != 0) { /* (nnz < 3R: a row adds at most three entries) */
                    if (isize == 4) {
                        ((int32_t *)indices)[nnz] = (int32_t)col;
                    } else {
                        ((int64_t *)indices)[nnz] = col;
                    }
                    data[nnz++] = dense[col];
                }
                dense[col] = 0;
            }
            bits[w] = 0;
        }
        indptr[i + 1] = nnz;
    }
    return r == nrows ? nnz : -1;
}

static PyObject *image_matrix(PyObject *self, PyObject *args) {
    PyObject *objs[4];
    Py_buffer views[4];
    Py_ssize_t n, nnz = -1;
    long long k;
    int got = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnLOOO:image_matrix", &objs[0], &n, &k, &objs[1], &objs[2], &objs[3])) return NULL;
    if (n < 0 || k < 1 || k > (1LL << 40)) {
        PyErr_SetString(PyExc_ValueError, "image_matrix: n must be >= 0, k positive");
        return NULL;
    }
    for (; got < 4; got++) { /* rows, indptr, indices, data */
        if (PyObject_GetBuffer(objs[got], &views[got], PyBUF_C_CONTIGUOUS | (got ? PyBUF_WRITABLE : 0)) < 0) goto done;
    }
    Py_ssize_t nrows = views[0].len / 32;
    if (views[0].len % 32 || views[1].len != (n + 1) * 8) {
        PyErr_SetString(PyExc_ValueError, "image_matrix: rows must be int64 (R, 4), indptr int64 (n+1,)");
        goto done;
    }
    if (!(views[2].itemsize == 4 || views[2].itemsize == 8) || views[3].itemsize != 8 ||
        views[2].len / views[2].itemsize < 3 * nrows || views[3].len / 8 < 3 * nrows) {
        PyErr_SetString(PyExc_ValueError, "image_matrix: indices (int32 or int64) and data (int64) need 3R entries");
        goto done;
    }
    {
        Py_ssize_t width = (Py_ssize_t)(3 * k), words = (width + 63) / 64;
        int64_t *dense = (int64_t *)calloc((size_t)width, sizeof(int64_t));
        uint64_t *bits = (uint64_t *)calloc((size_t)words, sizeof(uint64_t));
        if (dense == NULL || bits == NULL) {
            free(dense);
            free(bits);
            PyErr_NoMemory();
            goto done;
        }
        Py_BEGIN_ALLOW_THREADS
        nnz = matrix_run((const int64_t *)views[0].buf, nrows, n, (int64_t)k, (int64_t *)views[1].buf, views[2].buf,
                         (int)views[2].itemsize, (int64_t *)views[3].buf, dense, bits);
        Py_END_ALLOW_THREADS
        free(dense);
        free(bits);
        if (nnz < 0) {
            PyErr_SetString(PyExc_ValueError,
                            "image_matrix: rows must be (image, gt, pred, pixels), images non-decreasing in "
                            "0..n-1, gt in 0..k-1, pred in 0..k");
        }
    }
done:
    for (int j = 0; j < got; j++) PyBuffer_Release(&views[j]);
    return nnz < 0 ? NULL : PyLong_FromSsize_t(nnz);
}
/* ========================================================================= fold: end */

/* ======================================================================================== boot
 * The paired bootstrap's resampled sums (segviz.stats._resampled_sums; issue #17, task "boot").
 * Sums over resamples of weight x per-image count: S[j, c] = sum_i W[j, i] * M[i, c], for
 * BOOT_WIDTH resamples at a time, the per-image counts M sparse (n, m). Every product and partial
 * sum is a whole number below 2**53, exact in float64 whatever the order of the additions: the same
 * numbers as scipy's sparse product of float64 copies.
 *
 * blocked_csc(indptr, indices, data, n, m, ib, colptr, rows, vals) -> None
 *
 *   The CSR (n, m) matrix (indptr int64 (n+1), indices int32, data int64, nnz entries) regrouped
 *   by blocks of ib images, then by column: entries of image block g and column c are
 *   rows[colptr[g*m + c] : colptr[g*m + c + 1]] (image index, int32, increasing) and vals (float64).
 *   colptr: writable int64 (nblocks*m + 1) with nblocks = ceil(n / ib); rows, vals: nnz each.
 *
 * draw_counts(draws, n, counts) -> None
 *
 *   draws: int32 (b, n), b resamples of n image indices in [0, n) (checked); counts: writable
 *   int32 (b, n); on return counts[j, i] = how often image i is in draws[j] (the weights).
 *
 * weighted_sums(counts, b, n, ib, parts) -> None
 *
 *   counts: int32 (b, n) weights, 1 <= b <= BOOT_WIDTH; parts: up to 8 tuples (colptr, rows,
 *   vals, out, skip_lo, skip_hi), a matrix from blocked_csc (blocks of the same ib images) and a
 *   writable float64 (b, m) out. On return out[j, c] = sum_i counts[j, i] * M[i, c] for every
 *   column c outside [skip_lo, skip_hi) (those are left as they were). Image block by image block:
 *   the block's weights are transposed once (ib x 32 float64: each image's weights contiguous, in
 *   cache for every part), then column by column the BOOT_WIDTH sums of a column stay in registers
 *   while its entries add value x the image's weights (a chunk of at most 8 resamples: 8-wide).
 *   An entry whose image is outside its block is an error (ValueError, out not written).
 *
 * The GIL is released in all three.
 */
#define BOOT_WIDTH 32

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* one build for every x86-64: the widest vectors the CPU has, chosen when the module loads */
#define BOOT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BOOT_CLONES
#endif

static void boot_blocked_csc(const int64_t *indptr, const int32_t *indices, const int64_t *data, Py_ssize_t n,
                             Py_ssize_t m, Py_ssize_t ib, int64_t *colptr, int32_t *rows, double *vals) {
    Py_ssize_t nblocks = (n + ib - 1) / ib, cells = nblocks * m;
    memset(colptr, 0, (size_t)(cells + 1) * sizeof(int64_t));
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t *row_cells = colptr + 1 + (i / ib) * m;
        for (int64_t k = indptr[i]; k < indptr[i + 1]; k++) row_cells[indices[k]]++;
    }
    for (Py_ssize_t c = 0; c < cells; c++) colptr[c + 1] += colptr[c];
    /* fill, using colptr[cell] as the cursor, then shift back */
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t *cursor = colptr + (i / ib) * m;
        for (int64_t k = indptr[i]; k < indptr[i + 1]; k++) {
            int64_t at = cursor[indices[k]]++;
            rows[at] = (int32_t)i;
            vals[at] = (double)data[k];
        }
    }
    for (Py_ssize_t c = cells; c > 0; c--) colptr[c] = colptr[c - 1];
    colptr[0] = 0;
}

static int boot_draw_counts(const int32_t *draws, Py_ssize_t b, Py_ssize_t n, int32_t *counts) {
    /* returns 1 when a draw is outside [0, n) (counts then incomplete) */
    memset(counts, 0, (size_t)(b * n) * sizeof(int32_t));
    for (Py_ssize_t j = 0; j < b; j++) {
        const int32_t *d = draws + j * n;
        int32_t *c = counts + j * n;
        for (Py_ssize_t t = 0; t < n; t++) {
            if ((uint32_t)d[t] >= (uint64_t)n) return 1;
            c[d[t]]++;
        }
    }
    return 0;
}

#if defined(__GNUC__)
/* eight doubles as one value (GCC/Clang vector extension): each clone maps it to its own registers
 * (one zmm, two ymm, four xmm); the 32 sums of a column live in registers, not in memory */
typedef double boot_v8 __attribute__((vector_size(64)));
typedef double boot_v8u __attribute__((vector_size(64), aligned(8), may_alias)); /* unaligned access */

#define boot_load8(p) (*(const boot_v8u *)(p))
#define boot_add8(p, v) (*(boot_v8u *)(p) += (v))

BOOT_CLONES
static int boot_column(const double *weights, Py_ssize_t base, Py_ssize_t len, const int32_t *rows, const double *vals,
                       int64_t lo, int64_t hi, double *total) {
    /* returns 1 (nothing added) when an entry's image is outside the block base..base+len-1 */
    /* two sets of accumulators, for consecutive entries: two independent chains of additions */
    boot_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
    int64_t e = lo;
    for (; e + 1 < hi; e += 2) {
        Py_ssize_t r = (Py_ssize_t)rows[e] - base, t = (Py_ssize_t)rows[e + 1] - base;
        if ((size_t)r >= (size_t)len || (size_t)t >= (size_t)len) return 1;
        const double *w = weights + r * BOOT_WIDTH, *x = weights + t * BOOT_WIDTH;
        double v = vals[e], u = vals[e + 1];
        a0 += v * boot_load8(w);
        a1 += v * boot_load8(w + 8);
        a2 += v * boot_load8(w + 16);
        a3 += v * boot_load8(w + 24);
        b0 += u * boot_load8(x);
        b1 += u * boot_load8(x + 8);
        b2 += u * boot_load8(x + 16);
        b3 += u * boot_load8(x + 24);
    }
    if (e < hi) {
        Py_ssize_t r = (Py_ssize_t)rows[e] - base;
        if ((size_t)r >= (size_t)len) return 1;
        const double *w = weights + r * BOOT_WIDTH;
        double v = vals[e];
        a0 += v * boot_load8(w);
        a1 += v * boot_load8(w + 8);
        a2 += v * boot_load8(w + 16);
        a3 += v * boot_load8(w + 24);
    }
    boot_add8(total, a0 + b0);
    boot_add8(total + 8, a1 + b1);
    boot_add8(total + 16, a2 + b2);
    boot_add8(total + 24, a3 + b3);
    return 0;
}

BOOT_CLONES
static int boot_column8(const double *weights, Py_ssize_t base, Py_ssize_t len, const int32_t *rows, const double *vals,
                        int64_t lo, int64_t hi, double *total) {
    /* returns 1 (nothing added) when an entry's image is outside the block base..base+len-1 */
    boot_v8 a0 = {0}, b0 = {0};
    int64_t e = lo;
    for (; e + 1 < hi; e += 2) {
        Py_ssize_t r = (Py_ssize_t)rows[e] - base, t = (Py_ssize_t)rows[e + 1] - base;
        if ((size_t)r >= (size_t)len || (size_t)t >= (size_t)len) return 1;
        a0 += vals[e] * boot_load8(weights + r * 8);
        b0 += vals[e + 1] * boot_load8(weights + t * 8);
    }
    if (e < hi) {
        Py_ssize_t r = (Py_ssize_t)rows[e] - base;
        if ((size_t)r >= (size_t)len) return 1;
        a0 += vals[e] * boot_load8(weights + r * 8);
    }
    boot_add8(total, a0 + b0);
    return 0;
}
#else
static int boot_column8(const double *weights, Py_ssize_t base, Py_ssize_t len, const int32_t *rows, const double *vals,
                        int64_t lo, int64_t hi, double *total) {
    /* returns 1 (nothing added) when an entry's image is outside the block base..base+len-1 */
    for (int64_t e = lo; e < hi; e++) {
        Py_ssize_t r = (Py_ssize_t)rows[e] - base;
        if ((size_t)r >= (size_t)len) return 1;
        for (int j = 0; j < 8; j++) total[j] += vals[e] * weights[r * 8 + j];
    }
    return 0;
}

static int boot_column(const double *weights, Py_ssize_t base, Py_ssize_t len, const int32_t *rows, const double *vals,
                       int64_t lo, int64_t hi, double *total) {
    /* returns 1 (nothing added) when an entry's image is outside the block base..base+len-1 */
    for (int64_t e = lo; e < hi; e++) {
        Py_ssize_t r = (Py_ssize_t)rows[e] - base;
        if ((size_t)r >= (size_t)len) return 1;
        for (int j = 0; j < BOOT_WIDTH; j++) total[j] += vals[e] * weights[r * BOOT_WIDTH + j];
    }
    return 0;
}
#endif

static void boot_weight_block(const int32_t *counts, Py_ssize_t b, Py_ssize_t n, Py_ssize_t i0, Py_ssize_t i1,
                              Py_ssize_t width, double *wblock) {
    /* wblock[(i - i0) * width + j] = counts[j * n + i] for images i0..i1-1 (0 for j >= b) */
    for (Py_ssize_t j = 0; j < width; j++) {
        if (j < b) {
            const int32_t *c = counts + j * n;
            for (Py_ssize_t i = i0; i < i1; i++) wblock[(i - i0) * width + j] = (double)c[i];
        } else {
            for (Py_ssize_t i = i0; i < i1; i++) wblock[(i - i0) * width + j] = 0.0;
        }
    }
}

typedef struct {
    const int64_t *colptr;
    const int32_t *rows;
    const double *vals;
    double *out, *total;
    Py_ssize_t m, skip_lo, skip_hi;
} boot_part;

static int boot_sums(const int32_t *counts, Py_ssize_t b, Py_ssize_t n, Py_ssize_t ib, double *wblock,
                     boot_part *parts, Py_ssize_t nparts) {
    /* returns 1 when an entry's image is outside its block (then out is not written) */
    Py_ssize_t nblocks = (n + ib - 1) / ib, width = b <= 8 ? 8 : BOOT_WIDTH;
    for (Py_ssize_t p = 0; p < nparts; p++) memset(parts[p].total, 0, (size_t)parts[p].m * BOOT_WIDTH * sizeof(double));
    for (Py_ssize_t g = 0; g < nblocks; g++) {
        Py_ssize_t i0 = g * ib, i1 = i0 + ib < n ? i0 + ib : n;
        boot_weight_block(counts, b, n, i0, i1, width, wblock); /* this block's weights, in cache for every part */
        for (Py_ssize_t p = 0; p < nparts; p++) {
            const boot_part *q = parts + p;
            for (Py_ssize_t c = 0; c < q->m; c++) {
                int64_t lo = q->colptr[g * q->m + c], hi = q->colptr[g * q->m + c + 1];
                if (lo == hi || (c >= q->skip_lo && c < q->skip_hi)) continue;
                double *total = q->total + c * BOOT_WIDTH;
                if (width == 8 ? boot_column8(wblock, i0, i1 - i0, q->rows, q->vals, lo, hi, total)
                               : boot_column(wblock, i0, i1 - i0, q->rows, q->vals, lo, hi, total)) {
                    return 1;
                }
            }
        }
    }
    for (Py_ssize_t p = 0; p < nparts; p++) {
        const boot_part *q = parts + p;
        for (Py_ssize_t j = 0; j < b; j++) {
            for (Py_ssize_t c = 0; c < q->m; c++) {
                if (c < q->skip_lo || c >= q->skip_hi) q->out[j * q->m + c] = q->total[c * BOOT_WIDTH + j];
            }
        }
    }
    return 0;
}

static int boot_buffers(PyObject **objs, Py_buffer *views, int count, unsigned writable) {
    /* C-contiguous buffers; bit j of writable: objs[j] must be writable. Returns how many were got. */
    int got = 0;
    for (; got < count; got++) {
        int flags = PyBUF_C_CONTIGUOUS | ((writable >> got) & 1 ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(objs[got], &views[got], flags) < 0) break;
    }
    return got;
}

static void boot_release(Py_buffer *views, int got) {
    for (int j = 0; j < got; j++) PyBuffer_Release(&views[j]);
}

static PyObject *blocked_csc(PyObject *self, PyObject *args) {
    PyObject *objs[6];
    Py_buffer views[6];
    Py_ssize_t n, m, ib;
    int got;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOnnnOOO:blocked_csc", &objs[0], &objs[1], &objs[2], &n, &m, &ib, &objs[3],
                          &objs[4], &objs[5])) {
        return NULL;
    }
    got = boot_buffers(objs, views, 6, 0x38);
    if (got < 6) {
        boot_release(views, got);
        return NULL;
    }
    {
        const int64_t *indptr = (const int64_t *)views[0].buf;
        const int32_t *indices = (const int32_t *)views[1].buf;
        Py_ssize_t nnz = views[1].len / (Py_ssize_t)sizeof(int32_t), bad;
        Py_ssize_t nblocks = ib > 0 ? (n + ib - 1) / ib : 0;
        bad = n < 0 || n > INT32_MAX || m < 0 || ib < 1 || views[0].len != (n + 1) * (Py_ssize_t)sizeof(int64_t) ||
              views[2].len != nnz * (Py_ssize_t)sizeof(int64_t) ||
              views[3].len != (nblocks * m + 1) * (Py_ssize_t)sizeof(int64_t) ||
              views[4].len != nnz * (Py_ssize_t)sizeof(int32_t) || views[5].len != nnz * (Py_ssize_t)sizeof(double);
        if (!bad) bad = indptr[0] != 0 || indptr[n] != nnz;
        for (Py_ssize_t i = 0; i < n && !bad; i++) bad = indptr[i + 1] < indptr[i];
        for (Py_ssize_t k = 0; k < nnz && !bad; k++) bad = indices[k] < 0 || indices[k] >= m;
        if (bad) {
            boot_release(views, got);
            PyErr_SetString(PyExc_ValueError, "blocked_csc: not a CSR matrix of n rows and m columns, or bad sizes");
            return NULL;
        }
        Py_BEGIN_ALLOW_THREADS
        boot_blocked_csc(indptr, indices, (const int64_t *)views[2].buf, n, m, ib, (int64_t *)views[3].buf,
                         (int32_t *)views[4].buf, (double *)views[5].buf);
        Py_END_ALLOW_THREADS
    }
    boot_release(views, got);
    Py_RETURN_NONE;
}

static PyObject *draw_counts(PyObject *self, PyObject *args) {
    PyObject *objs[2];
    Py_buffer views[2];
    Py_ssize_t n, b, bad = 0;
    int got;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnO:draw_counts", &objs[0], &n, &objs[1])) return NULL;
    got = boot_buffers(objs, views, 2, 0x2);
    if (got < 2) {
        boot_release(views, got);
        return NULL;
    }
    b = n > 0 ? views[0].len / (n * (Py_ssize_t)sizeof(int32_t)) : 0;
    if (n < 1 || views[0].len != b * n * (Py_ssize_t)sizeof(int32_t) || views[1].len != views[0].len) {
        boot_release(views, got);
        PyErr_SetString(PyExc_ValueError, "draw_counts: draws and counts must be int32 (b, n)");
        return NULL;
    }
    {
        const int32_t *d = (const int32_t *)views[0].buf;
        Py_BEGIN_ALLOW_THREADS
        bad = boot_draw_counts(d, b, n, (int32_t *)views[1].buf);
        Py_END_ALLOW_THREADS
        if (bad) {
            boot_release(views, got);
            PyErr_SetString(PyExc_ValueError, "draw_counts: a draw is outside [0, n)");
            return NULL;
        }
    }
    boot_release(views, got);
    Py_RETURN_NONE;
}

#define BOOT_PARTS 8

static PyObject *weighted_sums(PyObject *self, PyObject *args) {
    /* weighted_sums(counts, b, n, ib, parts): parts = sequence of (colptr, rows, vals, out, skip_lo, skip_hi) */
    PyObject *counts_obj, *parts_obj, *seq = NULL, *objs[1 + 4 * BOOT_PARTS];
    Py_buffer views[1 + 4 * BOOT_PARTS];
    boot_part parts[BOOT_PARTS];
    Py_ssize_t b, n, ib, nparts = 0, nblocks;
    double *scratch = NULL;
    int got = 0;
    const char *problem = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnnnO:weighted_sums", &counts_obj, &b, &n, &ib, &parts_obj)) return NULL;
    if (b < 1 || b > BOOT_WIDTH || n < 1 || ib < 1) {
        PyErr_SetString(PyExc_ValueError, "weighted_sums: need 1 <= b <= 32, n >= 1, ib >= 1");
        return NULL;
    }
    nblocks = (n + ib - 1) / ib;
    seq = PySequence_Fast(parts_obj, "weighted_sums: parts must be a sequence");
    if (seq == NULL) return NULL;
    nparts = PySequence_Fast_GET_SIZE(seq);
    if (nparts < 1 || nparts > BOOT_PARTS) {
        problem = "weighted_sums: 1 to 8 parts";
        goto fail;
    }
    objs[0] = counts_obj;
    if (PyObject_GetBuffer(objs[0], &views[0], PyBUF_C_CONTIGUOUS) < 0) goto fail;
    got = 1;
    if (views[0].len != b * n * (Py_ssize_t)sizeof(int32_t)) {
        problem = "weighted_sums: counts must be int32 (b, n)";
        goto fail;
    }
    for (Py_ssize_t p = 0; p < nparts; p++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, p);
        Py_ssize_t nnz, m;
        boot_part *q = parts + p;
        if (!PyTuple_Check(item)) {
            problem = "weighted_sums: each part must be a tuple (colptr, rows, vals, out, skip_lo, skip_hi)";
            goto fail;
        }
        if (!PyArg_ParseTuple(item, "OOOOnn:weighted_sums part", &objs[got], &objs[got + 1], &objs[got + 2],
                              &objs[got + 3], &q->skip_lo, &q->skip_hi)) {
            goto fail;
        }
        for (int j = 0; j < 4; j++, got++) {
            if (PyObject_GetBuffer(objs[got], &views[got], PyBUF_C_CONTIGUOUS | (j == 3 ? PyBUF_WRITABLE : 0)) < 0) {
                goto fail;
            }
        }
        q->colptr = (const int64_t *)views[got - 4].buf;
        q->rows = (const int32_t *)views[got - 3].buf;
        q->vals = (const double *)views[got - 2].buf;
        q->out = (double *)views[got - 1].buf;
        nnz = views[got - 3].len / (Py_ssize_t)sizeof(int32_t);
        m = views[got - 1].len / (b * (Py_ssize_t)sizeof(double));
        q->m = m;
        if (views[got - 1].len != b * m * (Py_ssize_t)sizeof(double) ||
            views[got - 4].len != (nblocks * m + 1) * (Py_ssize_t)sizeof(int64_t) ||
            views[got - 2].len != nnz * (Py_ssize_t)sizeof(double) || q->colptr[0] != 0 || q->colptr[nblocks * m] != nnz) {
            problem = "weighted_sums: a part's sizes do not match (colptr of nblocks*m+1, rows and vals of nnz, out (b, m))";
            goto fail;
        }
        for (Py_ssize_t c = 0; c < nblocks * m && !problem; c++) {
            if (q->colptr[c + 1] < q->colptr[c]) problem = "weighted_sums: colptr decreases";
        }
        if (problem) goto fail;
    }
    {
        Py_ssize_t need = ib * BOOT_WIDTH;
        for (Py_ssize_t p = 0; p < nparts; p++) need += parts[p].m * BOOT_WIDTH;
        scratch = (double *)malloc((size_t)need * sizeof(double));
        if (scratch == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        need = ib * BOOT_WIDTH;
        for (Py_ssize_t p = 0; p < nparts; p++) {
            parts[p].total = scratch + need;
            need += parts[p].m * BOOT_WIDTH;
        }
    }
    {
        int bad;
        Py_BEGIN_ALLOW_THREADS
        bad = boot_sums((const int32_t *)views[0].buf, b, n, ib, scratch, parts, nparts);
        Py_END_ALLOW_THREADS
        free(scratch);
        if (bad) {
            problem = "weighted_sums: an entry's image is outside its block";
            goto fail;
        }
    }
    boot_release(views, got);
    Py_DECREF(seq);
    Py_RETURN_NONE;
fail:
    if (problem) PyErr_SetString(PyExc_ValueError, problem);
    boot_release(views, got);
    Py_XDECREF(seq);
    return NULL;
}
/* ==================================================================================== end boot */
/* statmany: begin (forward declaration; the function is at the end of this file) */
static PyObject *stat_many(PyObject *self, PyObject *args);
static PyObject *scan_folder(PyObject *self, PyObject *args);
/* statmany: end */

static PyMethodDef methods[] = {
    {"sparse_u8", sparse_u8, METH_VARARGS,
     "sparse_u8(gt, pred, hist, keys, counts) -> n: sorted distinct gt*256+pred keys and their counts."},
    {"unfilter_png", unfilter_png, METH_VARARGS,
     "unfilter_png(raw, out, width, height, bpp) -> 0, or -1 for an unknown filter type."},
    {"level_pairs_u8", level_pairs_u8, METH_VARARGS,
     "level_pairs_u8(level, gt, pred, code, ncodes, hist, keys, counts) -> n: sorted distinct "
     "level*256 + code[gt*256 + pred] and their counts."},
    /* fold: begin */
    {"fold_rows", fold_rows, METH_VARARGS,
     "fold_rows(offsets, g, p, c, lut_g, lut_p, k, colour, unknown, confusion, ignored, flags, rows) -> R: "
     "the stored sparse rows folded through the class table (see segviz/_count.c)."},
    {"image_matrix", image_matrix, METH_VARARGS,
     "image_matrix(rows, n, k, indptr, indices, data) -> nnz: the per-image [TP | GT | PRED] CSR arrays."},
    /* fold: end */
    /* boot */
    {"blocked_csc", blocked_csc, METH_VARARGS,
     "blocked_csc(indptr, indices, data, n, m, ib, colptr, rows, vals) -> None: a CSR matrix's entries "
     "by blocks of ib images, then by column."},
    {"draw_counts", draw_counts, METH_VARARGS,
     "draw_counts(draws, n, counts) -> None: counts[j, i] = how often image i is in draws[j]."},
    {"weighted_sums", weighted_sums, METH_VARARGS,
     "weighted_sums(counts, b, n, ib, parts) -> None: for each part (colptr, rows, vals, out, skip_lo, "
     "skip_hi), out[j, c] = sum_i counts[j, i] * M[i, c] outside the skipped columns."},
    /* end boot */
    /* statmany: begin */
    {"stat_many", stat_many, METH_VARARGS,
     "stat_many(paths, sizes, times, threads) -> n: st_size and st_mtime_ns of each path (stat(2), as os.stat), "
     "-1 where it fails, -2 where Python must stat it (see segviz/_count.c)."},
    {"scan_folder", scan_folder, METH_VARARGS,
     "scan_folder(path) -> (files, folders) by the entries' types, or None (see segviz/_count.c)."},
    /* statmany: end */
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "segviz._count", NULL, -1, methods};

PyMODINIT_FUNC PyInit__count(void) { return PyModule_Create(&module); }

/* ========================================================================= statmany: begin */
/* stat_many(paths, sizes, times, threads) -> n (issue #17: the results store's file keys)
 *
 * paths: a list of str (absolute paths; "" for no file). sizes, times: writable int64 buffers of
 *      len(paths) entries. threads: 1 or 2 (the stats split in two halves).
 * On return, for each path i:
 *   sizes[i], times[i] = st_size, st_mtime_ns of stat(2) (follows symlinks, as os.stat does);
 *   -1, -1 for "" or when stat fails (any errno: missing, unreadable, not a folder, ...);
 *   -2, -2 where the C side does not take the path and the caller must use os.stat in Python:
 *       not a str, not encodable by the file-system encoding (PyUnicode_EncodeFSDefault: what
 *       os.fsencode and os.stat do, UTF-8 with surrogateescape on Linux), an embedded NUL (os.stat
 *       raises ValueError), "://" inside (maybe a URL), or a time beyond int64 nanoseconds.
 * n is the number of -2 entries. The paths are encoded with the GIL held (ASCII text is used as it
 * is, no copy); the stats run with the GIL released.
 */
#if defined(__linux__) || defined(__APPLE__)
#include <pthread.h>
#include <sys/stat.h>

typedef struct {
    const char **names; /* NULL: already decided (sizes/times filled) */
    int64_t *sizes, *times;
    Py_ssize_t start, stop;
} stat_job;

#if defined(__linux__) && defined(O_PATH)
#include <fcntl.h>
#include <unistd.h>
#define STAT_DIRFD 1
#endif

static void *stat_run(void *arg) {
    stat_job *job = (stat_job *)arg;
    struct stat st;
#ifdef STAT_DIRFD
    /* The files of one folder (consecutive paths with the same parent) are stat'ed relative to
     * the folder, opened once with O_PATH (no permission needed on the folder itself, as for the
     * walk of a full path): the kernel does not walk the whole path again for each file (-20%).
     * Any path without a parent part, with a trailing '/', or whose folder cannot be opened is
     * stat'ed as it is: the same answer either way. */
    char folder[4096];
    size_t folder_len = 0; /* 0: no folder open */
    int fd = -1;
#endif
    for (Py_ssize_t i = job->start; i < job->stop; i++) {
        const char *name = job->names[i];
        int failed;
        if (name == NULL) continue;
#ifdef STAT_DIRFD
        const char *slash = strrchr(name, '/');
        size_t len = slash == NULL ? 0 : (size_t)(slash - name) + 1; /* (the parent, with its '/') */
        if (len == 0 || slash[1] == '\0' || len >= sizeof(folder)) {
            failed = stat(name, &st) != 0;
        } else {
            if (len != folder_len || memcmp(folder, name, len) != 0) {
                if (fd >= 0) close(fd);
                memcpy(folder, name, len);
                folder[len] = '\0';
                folder_len = len;
                fd = open(folder, O_PATH | O_DIRECTORY | O_CLOEXEC);
            }
            failed = (fd >= 0 ? fstatat(fd, slash + 1, &st, 0) : stat(name, &st)) != 0;
        }
#else
        failed = stat(name, &st) != 0;
#endif
        if (failed) {
            job->sizes[i] = job->times[i] = -1;
            continue;
        }
#if defined(__APPLE__)
        int64_t sec = (int64_t)st.st_mtimespec.tv_sec, nsec = (int64_t)st.st_mtimespec.tv_nsec;
#else
        int64_t sec = (int64_t)st.st_mtim.tv_sec, nsec = (int64_t)st.st_mtim.tv_nsec;
#endif
        if (sec > INT64_MAX / 1000000000 - 1 || sec < INT64_MIN / 1000000000 + 1) {
            job->sizes[i] = job->times[i] = -2; /* (Python's int has no limit) */
            continue;
        }
        job->sizes[i] = (int64_t)st.st_size;
        job->times[i] = sec * 1000000000 + nsec;
    }
#ifdef STAT_DIRFD
    if (fd >= 0) close(fd);
#endif
    return NULL;
}

static PyObject *stat_many(PyObject *self, PyObject *args) {
    PyObject *list, *osizes, *otimes, *items = NULL, *encoded = NULL;
    Py_buffer bs, bt;
    int threads, got = 0;
    Py_ssize_t n, python = -1;
    const char **names = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!OOi:stat_many", &PyList_Type, &list, &osizes, &otimes, &threads)) return NULL;
    if (PyObject_GetBuffer(osizes, &bs, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) return NULL;
    got = 1;
    if (PyObject_GetBuffer(otimes, &bt, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) goto done;
    got = 2;
    items = PyList_AsTuple(list); /* (holds every str while the GIL is released) */
    encoded = PyList_New(0);      /* (the bytes of non-ASCII paths, alive until the end) */
    if (items == NULL || encoded == NULL) goto done;
    n = PyTuple_GET_SIZE(items);
    if (bs.itemsize != 8 || bt.itemsize != 8 || bs.len != n * 8 || bt.len != n * 8) {
        PyErr_SetString(PyExc_ValueError, "stat_many: sizes and times must be int64 buffers of len(paths) entries");
        goto done;
    }
    if (threads < 1 || threads > 2) {
        PyErr_SetString(PyExc_ValueError, "stat_many: threads must be 1 or 2");
        goto done;
    }
    names = (const char **)malloc((size_t)(n ? n : 1) * sizeof(char *));
    if (names == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t *sizes = (int64_t *)bs.buf, *times = (int64_t *)bt.buf;
    python = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        const char *text = NULL;
        Py_ssize_t len = 0;
        names[i] = NULL;
#if PY_VERSION_HEX < 0x030C0000
        int ascii = PyUnicode_Check(item) && PyUnicode_IS_READY(item) && PyUnicode_IS_ASCII(item);
#else
        int ascii = PyUnicode_Check(item) && PyUnicode_IS_ASCII(item); /* (every str is "ready") */
#endif
        if (ascii) {
            text = PyUnicode_AsUTF8AndSize(item, &len); /* (an ASCII str's own bytes: no copy) */
        } else if (PyUnicode_Check(item)) {
            PyObject *bytes = PyUnicode_EncodeFSDefault(item);
            if (bytes != NULL && PyList_Append(encoded, bytes) == 0) {
                text = PyBytes_AS_STRING(bytes);
                len = PyBytes_GET_SIZE(bytes);
            }
            Py_XDECREF(bytes);
        }
        if (text == NULL) {
            PyErr_Clear();
            sizes[i] = times[i] = -2;
            python++;
        } else if (len == 0) {
            sizes[i] = times[i] = -1;
        } else if ((Py_ssize_t)strlen(text) != len || strstr(text, "://") != NULL) {
            sizes[i] = times[i] = -2;
            python++;
        } else {
            names[i] = text;
        }
    }
    stat_job jobs[2] = {{names, sizes, times, 0, n}, {names, sizes, times, n, n}};
    Py_BEGIN_ALLOW_THREADS
    pthread_t other;
    int started = 0;
    if (threads == 2 && n >= 2) {
        jobs[0].stop = jobs[1].start = n / 2;
        started = pthread_create(&other, NULL, stat_run, &jobs[1]) == 0;
        if (!started) jobs[0].stop = n;
    }
    stat_run(&jobs[0]);
    if (started) pthread_join(other, NULL);
    Py_END_ALLOW_THREADS
done:
    free(names);
    Py_XDECREF(items);
    Py_XDECREF(encoded);
    if (got >= 2) PyBuffer_Release(&bt);
    if (got >= 1) PyBuffer_Release(&bs);
    return python < 0 ? NULL : PyLong_FromSsize_t(python);
}
#else  /* another system: every path is left to os.stat in Python */
static PyObject *stat_many(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    PyErr_SetString(PyExc_NotImplementedError, "stat_many: not built on this system");
    return NULL;
}
#endif

/* scan_folder(path) -> (files, folders), or None
 *
 * path: str (encoded as os.scandir does: PyUnicode_FSConverter). The names of the folder's
 * entries but "." and ".." (decoded as os.scandir does: PyUnicode_DecodeFSDefaultAndSize), in the
 * order the system lists them, split by their type as readdir(3) gives it: files (DT_REG) and
 * folders (DT_DIR). None when the folder cannot be listed, or when any entry is of another type
 * (a symbolic link, a pipe, DT_UNKNOWN on file systems that do not say): the caller then lists it
 * with os.scandir. The folder is read with the GIL released.
 */
#if defined(__linux__) || defined(__APPLE__)
#include <dirent.h>
#include <errno.h>

static PyObject *scan_folder(PyObject *self, PyObject *args) {
    PyObject *path = NULL, *files = NULL, *folders = NULL, *out = NULL;
    char *buf = NULL, *kinds = NULL;
    size_t used = 0, cap = 0, count = 0, kcap = 0;
    int usable = 1;
    (void)self;
    if (!PyArg_ParseTuple(args, "O&:scan_folder", PyUnicode_FSConverter, &path)) return NULL;
    Py_BEGIN_ALLOW_THREADS
    DIR *dir = opendir(PyBytes_AS_STRING(path));
    if (dir == NULL) {
        usable = 0;
    } else {
        struct dirent *e;
        for (;;) {
            errno = 0;
            e = readdir(dir);
            if (e == NULL) {
                if (errno != 0) usable = 0;
                break;
            }
            const char *name = e->d_name;
            if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
            if (e->d_type != DT_REG && e->d_type != DT_DIR) {
                usable = 0;
                break;
            }
            size_t len = strlen(name) + 1;
            if (used + len > cap || count + 1 > kcap) {
                size_t ncap = cap < 65536 ? 65536 : cap;
                while (used + len > ncap) ncap *= 2;
                size_t nk = kcap < 4096 ? 4096 : (count + 1 > kcap ? kcap * 2 : kcap);
                char *nb = (char *)realloc(buf, ncap), *nkd = nb == NULL ? NULL : (char *)realloc(kinds, nk);
                if (nb != NULL) buf = nb;
                if (nb == NULL || nkd == NULL) {
                    usable = -1; /* (out of memory) */
                    break;
                }
                kinds = nkd;
                cap = ncap;
                kcap = nk;
            }
            memcpy(buf + used, name, len);
            used += len;
            kinds[count++] = e->d_type == DT_DIR;
        }
        closedir(dir);
    }
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (usable < 0) {
        free(buf);
        free(kinds);
        return PyErr_NoMemory();
    }
    if (!usable) {
        free(buf);
        free(kinds);
        Py_RETURN_NONE;
    }
    files = PyList_New(0);
    folders = PyList_New(0);
    if (files == NULL || folders == NULL) goto done;
    for (size_t i = 0, at = 0; i < count; i++) {
        size_t len = strlen(buf + at);
        PyObject *name = PyUnicode_DecodeFSDefaultAndSize(buf + at, (Py_ssize_t)len);
        at += len + 1;
        if (name == NULL || PyList_Append(kinds[i] ? folders : files, name) < 0) {
            Py_XDECREF(name);
            goto done;
        }
        Py_DECREF(name);
    }
    out = PyTuple_Pack(2, files, folders);
done:
    free(buf);
    free(kinds);
    Py_XDECREF(files);
    Py_XDECREF(folders);
    return out;
}
#else
static PyObject *scan_folder(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    Py_RETURN_NONE;
}
#endif
/* ========================================================================= statmany: end */
