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

static PyMethodDef methods[] = {
    {"sparse_u8", sparse_u8, METH_VARARGS,
     "sparse_u8(gt, pred, hist, keys, counts) -> n: sorted distinct gt*256+pred keys and their counts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "segviz._count", NULL, -1, methods};

PyMODINIT_FUNC PyInit__count(void) { return PyModule_Create(&module); }
