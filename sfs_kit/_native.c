/* sfs_kit._native: the affine posing of float32 points, compiled (optional; numpy fallback).
 *
 * affine_f32(src, dst, matrix, translate) writes R @ p (+ t) of every (x, y, z) float32 point of
 * `src` into `dst`, each coordinate computed in float64 as ((x * r0 + y * r1) + z * r2) + t and
 * rounded to float32: the operations, in the order, of sfs_kit.models.geometry's numpy column
 * formula, so the two agree bit for bit. No fused multiply-add (-ffp-contract=off; the build
 * passes it) and no reassociation; on x86-64 Linux the loop is compiled for AVX-512, AVX2 and the
 * baseline, chosen at load time (target_clones), which changes only the speed. The GIL is
 * released while the loop runs. The points may be rows of a wider record (a PointCloud2's
 * x, y, z at a point_step): float32 x, y, z adjacent and 4-byte aligned, rows at any positive
 * stride; the output and the matrix are C-contiguous. All of it is checked here (and that the
 * output does not overlap the points: restrict); the Python wrapper passes other layouts as a
 * contiguous copy.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__) && defined(__ELF__) && !defined(__clang__)
#define SFS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SFS_CLONES
#endif

/* One loop body for both layouts; `rs` is the distance between points in floats (3 when
 * packed). Inlined into a packed and a strided instance so the packed one vectorises. */
static inline __attribute__((always_inline)) void affine_body(
    const float *restrict p, Py_ssize_t rs, float *restrict o, Py_ssize_t n,
    const double *restrict m, int translate) {
    const double r00 = m[0], r01 = m[1], r02 = m[2];
    const double r10 = m[4], r11 = m[5], r12 = m[6];
    const double r20 = m[8], r21 = m[9], r22 = m[10];
    if (translate) {
        const double t0 = m[3], t1 = m[7], t2 = m[11];
        for (Py_ssize_t i = 0; i < n; i++) {
            const double x = p[rs * i], y = p[rs * i + 1], z = p[rs * i + 2];
            double a = x * r00; a = a + y * r01; a = a + z * r02; a = a + t0;
            double b = x * r10; b = b + y * r11; b = b + z * r12; b = b + t1;
            double c = x * r20; c = c + y * r21; c = c + z * r22; c = c + t2;
            o[3 * i] = (float)a; o[3 * i + 1] = (float)b; o[3 * i + 2] = (float)c;
        }
    } else {
        for (Py_ssize_t i = 0; i < n; i++) {
            const double x = p[rs * i], y = p[rs * i + 1], z = p[rs * i + 2];
            double a = x * r00; a = a + y * r01; a = a + z * r02;
            double b = x * r10; b = b + y * r11; b = b + z * r12;
            double c = x * r20; c = c + y * r21; c = c + z * r22;
            o[3 * i] = (float)a; o[3 * i + 1] = (float)b; o[3 * i + 2] = (float)c;
        }
    }
}

SFS_CLONES static void affine_packed(const float *restrict p, float *restrict o, Py_ssize_t n,
                                     const double *restrict m, int translate) {
    affine_body(p, 3, o, n, m, translate);
}

SFS_CLONES static void affine_strided(const float *restrict p, Py_ssize_t rs, float *restrict o,
                                      Py_ssize_t n, const double *restrict m, int translate) {
    affine_body(p, rs, o, n, m, translate);
}

static int is_format(const Py_buffer *view, char code, Py_ssize_t itemsize) {
    const char *f = view->format == NULL ? "B" : view->format;
    if (*f == '<' || *f == '=' || *f == '@') {
        f++;
    }
    return f[0] == code && f[1] == '\0' && view->itemsize == itemsize;
}

static PyObject *affine_f32(PyObject *self, PyObject *args) {
    PyObject *src_obj, *dst_obj, *mat_obj;
    int translate;
    Py_buffer src, dst, mat;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOp", &src_obj, &dst_obj, &mat_obj, &translate)) {
        return NULL;
    }
    if (PyObject_GetBuffer(src_obj, &src, PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(dst_obj, &dst, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&src);
        return NULL;
    }
    if (PyObject_GetBuffer(mat_obj, &mat, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&src);
        PyBuffer_Release(&dst);
        return NULL;
    }
    PyObject *result = NULL;
    if (!is_format(&src, 'f', 4) || !is_format(&dst, 'f', 4) || !is_format(&mat, 'd', 8)) {
        PyErr_SetString(PyExc_TypeError, "affine_f32: float32 points and a float64 matrix");
    } else if (src.ndim != 2 || src.shape[1] != 3 || src.strides[1] != 4 ||
               src.strides[0] < 12 || src.strides[0] % 4 != 0 ||
               (uintptr_t)src.buf % 4 != 0 || dst.len != src.shape[0] * 12 ||
               mat.len != 12 * 8) {
        PyErr_SetString(PyExc_ValueError,
                        "affine_f32: (N, 3) points (x, y, z adjacent and aligned, rows at a "
                        "positive stride), an (N, 3) output and a 3 x 4 matrix");
    } else if ((const char *)src.buf < (const char *)dst.buf + dst.len &&
               (const char *)dst.buf < (const char *)src.buf + (src.shape[0] == 0 ? 0 :
                   (src.shape[0] - 1) * src.strides[0] + 12)) {
        PyErr_SetString(PyExc_ValueError, "affine_f32: the output overlaps the points");
    } else {
        const Py_ssize_t n = src.shape[0], rs = src.strides[0] / 4;
        const float *p = (const float *)src.buf;
        const double *m = (const double *)mat.buf;
        Py_BEGIN_ALLOW_THREADS
        if (rs == 3) {
            affine_packed(p, (float *)dst.buf, n, m, translate);
        } else {
            affine_strided(p, rs, (float *)dst.buf, n, m, translate);
        }
        Py_END_ALLOW_THREADS
        result = Py_None;
        Py_INCREF(result);
    }
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    PyBuffer_Release(&mat);
    return result;
}

static PyMethodDef methods[] = {
    {"affine_f32", affine_f32, METH_VARARGS,
     "affine_f32(src, dst, matrix, translate): R @ p (+ t) of float32 points into dst, in "
     "float64 as sfs_kit.models.geometry's column formula."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sfs_kit._native", "Compiled kernels of sfs_kit (optional).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
