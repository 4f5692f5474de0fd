"""Fast Fourier transforms for any length, in NumPy.

The engine is :func:`_c2c`, an unnormalised complex transform along the last
axis of a ``(batch, N)`` array:

* ``N`` whose prime factors are all small (2, 3, 5, 7, 11, 13, with at most one
  larger factor up to ``_MAX_LEAF``) goes through an iterative, decimation in
  time, mixed-radix Cooley-Tukey (Stockham) algorithm. For a block of ``b``
  signals the work array has shape ``(P, L, b)``, later ``(L, P, b)``:
  column ``c`` holds the length-``P`` DFTs of the subsequences ``x[c::L]``.
  Each stage of radix ``r`` merges ``r`` columns ``L/r`` apart into DFTs of
  length ``r P`` with one vectorised butterfly, so the Python loop runs over
  the ``O(log N)`` stages (and over cache-sized blocks of a large batch),
  never over butterflies or single signals. The stages of a block are first
  compiled into a flat list of ufunc calls on fixed views of the work
  buffers, which every block of the batch then reruns.
* any other ``N`` goes through Bluestein's chirp-z algorithm, which writes the
  DFT as a convolution of length ``M >= 2N - 1`` computed by the fast path.

Twiddle factors are computed once per (length, direction, dtype) from exactly
reduced angles and cached.
"""

import functools
import math
import operator
from numbers import Integral

import numpy as np

from mathlearn.utils._sklearn_compat import Interval, StrOptions
from mathlearn.utils._validation import check_scalar

_NORMS = StrOptions({"backward", "ortho", "forward"})
_N_POINTS = Interval(Integral, 1, None, closed="left")
# Largest factor made of primes above 13 that one dense DFT stage handles.
_MAX_LEAF = 128
# Elements transformed at a time: a block of rows whose buffers fit in cache.
_BLOCK = 2**16
# NumPy's ufunc buffer size (elements) while the stages run. With the default
# (8192), an operand whose contiguous runs are shorter than the buffer, such as
# one radix-r slice of a stage's input, is first copied into the buffer so
# that the inner loop can be longer: twice the time of the operation itself.
# A small buffer makes NumPy loop over the runs where they lie.
_BUFSIZE = 256
# Smallest slice (elements) worth updating in place when other slices of the
# same buffer are operands too: NumPy then first checks whether they overlap,
# which costs more than the in-place update saves on shorter slices.
_INPLACE_MIN = 4096


# ---------------------------------------------------------------------------
# Validation shared by the public functions.


def _check_norm(norm):
    return "backward" if norm is None else check_scalar("norm", norm, _NORMS)


def _check_n(n, x, axis, *, from_length=None):
    """The number of FFT data points: ``n``, or read off ``x`` when None.

    ``from_length`` turns the length of ``x`` along ``axis`` into the default
    (irfft's ``2 (m - 1)``); both must be at least 1.
    """
    if n is not None:
        return int(check_scalar("n", n, _N_POINTS))
    length = x.shape[axis]
    n = length if from_length is None else from_length(length)
    if n < 1:
        raise ValueError(
            f"x has {length} point(s) along axis {axis}, which gives n={n} FFT "
            "data points; pass n >= 1 or more points"
        )
    return n


def _check_axis(axis, ndim):
    """``axis`` as an index in ``[0, ndim)``, or an error naming its value."""
    try:
        index = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis={axis!r} must be an integer") from None
    if not -ndim <= index < ndim:
        raise np.exceptions.AxisError(
            f"axis={axis!r} is out of range for an array of {ndim} "
            f"dimension(s); it must be in [{-ndim}, {ndim})"
        )
    return index % ndim


def _check_axes(axes, ndim):
    """``axes`` (an int or a sequence of ints) as indices in ``[0, ndim)``."""
    sequence = (axes,) if np.ndim(axes) == 0 else axes
    try:
        indices = [operator.index(a) for a in sequence]
    except TypeError:
        raise TypeError(f"axes={axes!r} must be an int or a sequence of ints") from None
    outside = [a for a in indices if not -ndim <= a < ndim]
    if outside:
        raise np.exceptions.AxisError(
            f"axes={axes!r} has axis {outside[0]} out of range for an array of "
            f"{ndim} dimension(s); every axis must be in [{-ndim}, {ndim})"
        )
    return [a % ndim for a in indices]


def _as_array(x, *, real=False):
    """``x`` as an array of a numeric dtype, with at least one axis."""
    x = np.asarray(x)
    if x.dtype.kind not in "biufc":
        raise TypeError(f"x must be an array of numbers, got dtype {x.dtype}")
    if real and x.dtype.kind == "c":
        raise TypeError(
            f"x must be real for a real-input transform, got dtype {x.dtype}"
        )
    if x.ndim == 0:
        raise ValueError("x must have at least one axis, got a 0-d array")
    return x


def _complex_dtype(dtype):
    """complex64 for float16/float32/complex64 input, else complex128."""
    if np.dtype(dtype) in (np.float16, np.float32, np.complex64):
        return np.dtype(np.complex64)
    return np.dtype(np.complex128)


def _real_dtype(dtype):
    return np.dtype(np.float32 if dtype == np.complex64 else np.float64)


def _resize(x, n, axis):
    """Crop or zero-pad ``x`` to length ``n`` along ``axis`` (like numpy.fft)."""
    size = x.shape[axis]
    if n == size:
        return x
    if n < size:
        index = [slice(None)] * x.ndim
        index[axis] = slice(0, n)
        return x[tuple(index)]
    shape = list(x.shape)
    shape[axis] = n
    out = np.zeros(shape, dtype=x.dtype)
    index = [slice(None)] * x.ndim
    index[axis] = slice(0, size)
    out[tuple(index)] = x
    return out


def _scale(norm, n, inverse):
    """The factor numpy applies for ``norm`` to a transform of length ``n``."""
    if norm == "ortho":
        return 1.0 / math.sqrt(n)
    if (norm == "backward") == inverse:
        return 1.0 / n
    return 1.0


def _prepare(x, n, axis, *, real=False):
    """Validate, crop or pad, and return ``(x, axis, n)`` with ``axis >= 0``."""
    x = _as_array(x, real=real)
    axis = _check_axis(axis, x.ndim)
    n = _check_n(n, x, axis)
    return _resize(x, n, axis), axis, n


def _to_rows(x, axis, dtype):
    """``x`` with ``axis`` last, as a C-contiguous ``(batch, n)`` array."""
    moved = np.moveaxis(x, axis, -1)
    rows = np.ascontiguousarray(moved, dtype=dtype).reshape(-1, moved.shape[-1])
    return rows, moved.shape[:-1]


def _from_rows(rows, lead_shape, axis):
    return np.moveaxis(rows.reshape(*lead_shape, rows.shape[-1]), -1, axis)


# ---------------------------------------------------------------------------
# Plans: factorisation and cached twiddle factors.


def _unit_roots(k, m, sign, dtype):
    """``exp(sign * 2j * pi * k / m)`` with ``k`` reduced modulo ``m`` exactly."""
    angle = (2.0 * np.pi / m) * (np.asarray(k, dtype=np.int64) % m)
    return (np.cos(angle) + (1j * sign) * np.sin(angle)).astype(dtype)


def _factor_radices(n):
    """Stages ``[leaf, r1, r2, ...]`` for the fast path, or ``None``.

    ``leaf`` (the first stage, done as one dense DFT product when it is not a
    small radix) collects the prime factors above 13; ``None`` means their
    product exceeds ``_MAX_LEAF`` and Bluestein's algorithm is used instead.
    """
    counts = {}
    rest = n
    for p in (2, 3, 5, 7, 11, 13):
        while rest % p == 0:
            counts[p] = counts.get(p, 0) + 1
            rest //= p
    if rest > _MAX_LEAF:
        return None
    radices = [rest] if rest > 1 else []
    twos = counts.pop(2, 0)
    if twos % 2:
        radices.append(2)
    radices.extend([4] * (twos // 2))
    for p in (3, 5, 7, 11, 13):
        radices.extend([p] * counts.get(p, 0))
    return radices


def _next_fast_length(n):
    """Smallest ``2**a`` or ``3 * 2**a`` that is at least ``n``."""
    power = 1 << max(n - 1, 0).bit_length()
    three = 3 * (1 << max((n - 1) // 3, 0).bit_length())
    return min(power, three)


class _Stage:
    """One radix-``r`` stage merging DFTs of length ``p`` into length ``r p``.

    The work array holds, for each column ``c < L``, the length-``p`` DFT of
    ``x[c::L]``, for a block of ``b`` signals stored last (contiguous). Early
    stages (``p`` small) store it as ``(p, L, b)`` and late ones as
    ``(L, p, b)``, so that the contiguous inner block that NumPy loops over
    (``L/r * b`` or ``p * b`` elements) is always the larger one.
    """

    def __init__(self, radix, p, sign, dtype, inner_p):
        self.radix = radix
        self.inner_p = inner_p
        k = np.arange(p)
        # twiddles[q - 1][k] = exp(sign 2 pi i q k / (r p)), shaped to broadcast.
        self.twiddles = None
        if p > 1:
            shape = (p, 1) if inner_p else (p, 1, 1)
            self.twiddles = [
                _unit_roots(q * k, radix * p, sign, dtype).reshape(shape)
                for q in range(1, radix)
            ]
        self.rotation = sign * 1j
        self._spread = {}
        if radix not in (2, 3, 4):
            q = np.arange(radix)
            self.matrix = _unit_roots(np.outer(q, q), radix, sign, dtype)

    def _spread_twiddles(self, q, block):
        """The twiddles of input ``q`` each repeated ``block`` times.

        Cached for the last few block sizes only (a batch usually has one
        size for its full blocks and one for the last), so that batches of
        many different sizes do not accumulate memory.
        """
        spread = self._spread.get(block)
        if spread is None:
            spread = [np.repeat(w.ravel(), block) for w in self.twiddles]
            # A new dict rather than in-place updates: plans are shared
            # between threads.
            kept = dict(list(self._spread.items())[-3:])
            kept[block] = spread
            self._spread = kept
        return spread[q - 1]

    def compile(self, X, Y, scratch, ops, writable=False):
        """Append to ``ops`` the operations reading ``X`` and writing ``Y``.

        ``Y`` and ``scratch`` are flat buffers of at least ``X.size`` and
        ``2 * X.size`` elements. ``X`` is overwritten if ``writable`` (a work
        buffer whose content is no longer needed afterwards: twiddled terms
        and partial sums then replace the inputs in place, which is cheaper
        than writing them elsewhere) and never written to otherwise. Each
        operation is a ``(function, arguments)`` pair whose arguments are
        views of these arrays, so a block of signals is transformed by running
        ``ops`` with no array creation at all. Returns ``Y`` shaped as the
        next work array.
        """
        r = self.radix
        if self.inner_p:
            length, p, block = X.shape
            sub = length // r
            Xv = X.reshape(r, sub, p, block)
            inputs = [Xv[q] for q in range(r)]
            Yv = Y.reshape(sub, r, p, block)
            outputs = [Yv[:, s] for s in range(r)]
            part_shape = (sub, p, block)
            result = Y.reshape(sub, r * p, block)
        else:
            p, length, block = X.shape
            sub = length // r
            Xv = X.reshape(p, r, sub, block)
            if p == 1 and r not in (2, 3, 4):
                # First stage, no twiddles: one dense DFT of every column.
                Yv = Y.reshape(r, sub, block)
                ops.append((_dense_dft, (self.matrix, Xv[0], Yv)))
                return Yv
            inputs = [Xv[:, q] for q in range(r)]
            Yv = Y.reshape(r, p, sub, block)
            outputs = [Yv[s] for s in range(r)]
            part_shape = (p, sub, block)
            result = Y.reshape(r * p, sub, block)
        m = p * sub * block
        temps = [scratch[i * m : (i + 1) * m].reshape(part_shape) for i in range(r + 1)]
        large = m >= _INPLACE_MIN
        writable = writable and large
        terms = self._twiddle(inputs, temps, writable, ops)
        butterfly = {2: self._radix2, 3: self._radix3, 4: self._radix4}.get(
            r, self._dense_radix
        )
        own = writable or self.twiddles is not None
        ops += butterfly(terms, outputs, temps, own, large)
        return result

    def _twiddle(self, inputs, temps, writable, ops):
        """Append the twiddle products; return the ``r`` terms of the butterfly."""
        terms = inputs[:1]
        for q in range(1, self.radix):
            if self.twiddles is None:
                terms.append(inputs[q])
                continue
            target = inputs[q] if writable else temps[q]
            if self.inner_p and inputs[q].shape[-1] > 1:
                # Twiddles repeated over the block, so that NumPy's inner
                # loop runs over p * block elements rather than over b.
                # The flat reshapes are views because X is C-contiguous:
                # an inner-p stage never comes first (p > 1), so X is the
                # transposed copy or the previous stage's output, both a
                # flat work buffer reshaped.
                sub, p, block = inputs[q].shape
                flat = (sub, p * block)
                twiddles = self._spread_twiddles(q, block)
                operands = (inputs[q].reshape(flat), twiddles, target.reshape(flat))
            else:
                operands = (inputs[q], self.twiddles[q - 1], target)
            ops.append((np.multiply, operands))
            terms.append(target)
        return terms

    @staticmethod
    def _radix2(terms, outputs, temps, own, large):
        a, b = terms
        return [(np.add, (a, b, outputs[0])), (np.subtract, (a, b, outputs[1]))]

    def _radix4(self, terms, outputs, temps, own, large):
        # The partial sums a - c and b - d overwrite c and d in place when
        # those are twiddled copies or a writable work array (``own``), and
        # b + d goes straight to the output slot of y0 = (a + c) + (b + d),
        # which is then updated in place (in-place operations are cheaper
        # than writing a third array).
        add, subtract = np.add, np.subtract
        a, b, c, d = terms
        t0, t2 = temps[0], outputs[0] if large else temps[4]
        t1, t3 = (c, d) if own else (temps[2], temps[3])
        return [
            (add, (a, c, t0)),
            (subtract, (a, c, t1)),
            (add, (b, d, t2)),
            (subtract, (b, d, t3)),
            (np.multiply, (t3, self.rotation, t3)),
            (subtract, (t0, t2, outputs[2])),
            (add, (t0, t2, outputs[0])),
            (add, (t1, t3, outputs[1])),
            (subtract, (t1, t3, outputs[3])),
        ]

    def _radix3(self, terms, outputs, temps, own, large):
        # y1, y2 = a - (b + c) / 2 +- sign i sin(pi / 3) (b - c).
        add, subtract, multiply = np.add, np.subtract, np.multiply
        a, b, c = terms
        total, diff = temps[0], temps[3]
        return [
            (add, (b, c, total)),
            (subtract, (b, c, diff)),
            (add, (a, total, outputs[0])),
            (multiply, (total, -0.5, total)),
            (add, (total, a, total)),
            (multiply, (diff, self.rotation * (math.sqrt(3.0) / 2), diff)),
            (add, (total, diff, outputs[1])),
            (subtract, (total, diff, outputs[2])),
        ]

    def _dense_radix(self, terms, outputs, temps, own, large):
        product, ops = temps[0], []
        for s in range(self.radix):
            ops.append((np.copyto, (outputs[s], terms[0])))
            for q in range(1, self.radix):
                ops.append((np.multiply, (terms[q], self.matrix[s, q], product)))
                ops.append((np.add, (outputs[s], product, outputs[s])))
        return ops


def _dense_dft(matrix, X, Y):
    """``Y = matrix @ X`` over the first axis of the ``(r, sub, b)`` arrays.

    ``X`` may be a strided view that cannot be flattened without a copy, so
    the product is taken into a new array and copied into ``Y``.
    """
    r = matrix.shape[0]
    product = np.matmul(matrix, X.reshape(r, -1))
    np.copyto(Y, product.reshape(Y.shape))


def _execute(ops):
    for function, arguments in ops:
        function(*arguments)


class _Bluestein:
    """Chirp-z: the DFT of length ``n`` as a convolution of fast length ``m``."""

    def __init__(self, n, sign, dtype):
        self.n = n
        self.m = _next_fast_length(2 * n - 1)
        k = np.arange(n, dtype=np.int64)
        # w[k] = exp(sign i pi k^2 / n), with k^2 reduced modulo 2n exactly.
        angle = (np.pi / n) * ((k * k) % (2 * n))
        chirp = np.cos(angle) + (1j * sign) * np.sin(angle)
        kernel = np.zeros(self.m, dtype=np.complex128)
        kernel[:n] = chirp.conj()
        kernel[self.m - n + 1 :] = chirp[1:][::-1].conj()
        spectrum = _c2c(kernel.astype(dtype)[None, :], -1)[0] / self.m
        self.chirp = chirp.astype(dtype)
        self.spectrum = spectrum.astype(dtype)
        self.dtype = dtype

    def __call__(self, x):
        batch = x.shape[0]
        padded = np.zeros((batch, self.m), dtype=self.dtype)
        np.multiply(x, self.chirp, out=padded[:, : self.n])
        spectrum = _c2c(padded, -1)
        spectrum *= self.spectrum
        return _c2c(spectrum, +1)[:, : self.n] * self.chirp


@functools.lru_cache(maxsize=32)
def _plan(n, sign, dtype_char):
    dtype = np.dtype(dtype_char)
    radices = _factor_radices(n)
    if radices is None:
        return _Bluestein(n, sign, dtype)
    stages = []
    p = 1
    for radix in radices:
        # Switch to the (batch, L, p) layout once p outgrows L = n / (r p).
        inner_p = p > 1 and p * p * radix > n
        stages.append(_Stage(radix, p, sign, dtype, inner_p))
        p *= radix
    return stages


def _compile(plan, X, front, back, scratch, target, own_input=False):
    """The operations applying ``plan`` to the work array ``X`` of shape ``(1, n, b)``.

    ``front`` and ``back`` are work buffers of ``X.size`` elements, ``scratch``
    holds twice that; the last stage writes into ``target`` when it is given
    (an array of ``X.size`` elements that reshapes to a view). Returns the
    list of operations and the view, shaped ``(n, b)``, that holds the result
    once they have run. ``X`` is overwritten if ``own_input`` is true.
    """
    n, b = X.shape[1:]
    ops = []
    transposed = False
    writable = own_input
    for i, stage in enumerate(plan):
        if stage.inner_p and not transposed:
            p, length = X.shape[:2]
            ops.append((np.copyto, (front.reshape(length, p, b), X.transpose(1, 0, 2))))
            X = front.reshape(length, p, b)
            front, back = back, front
            transposed = writable = True
        last = i == len(plan) - 1
        X = stage.compile(
            X, target if last and target is not None else front, scratch, ops, writable
        )
        front, back = back, front
        writable = True
    return ops, X.reshape(n, b)


def _c2c(x, sign):
    """Unnormalised DFT along the middle axis of the complex array ``x``.

    ``x`` has shape ``(batch, n)`` (rows) or ``(outer, n, inner)``; it is
    C-contiguous. ``sign=-1`` is the forward transform
    ``sum_j x_j exp(-2 pi i jk / n)``, ``sign=+1`` the inverse without its
    ``1/n``. Returns a new array of the same shape.
    """
    if x.ndim == 2:
        return _c2c(x.reshape(x.shape[0], x.shape[1], 1), sign).reshape(x.shape)
    outer, n, inner = x.shape
    plan = _plan(n, sign, x.dtype.char)
    if isinstance(plan, _Bluestein):
        if inner == 1:
            return plan(x.reshape(outer, n)).reshape(x.shape)
        rows = np.ascontiguousarray(x.transpose(0, 2, 1)).reshape(-1, n)
        out = plan(rows).reshape(outer, inner, n)
        return np.ascontiguousarray(out.transpose(0, 2, 1))
    out = np.empty_like(x)
    if not plan or x.size == 0:
        np.copyto(out, x)
        return out
    old_bufsize = np.setbufsize(_BUFSIZE)
    try:
        _run_blocks(plan, x, out)
    finally:
        np.setbufsize(old_bufsize)
    return out


def _run_blocks(plan, x, out):
    """Transform ``x`` of shape ``(outer, n, inner)`` into ``out``, by blocks."""
    outer, n, inner = x.shape
    # Signals are transformed a block at a time, with the same four buffers,
    # so that a batch of short transforms stays in the processor's cache.
    # Inside a block the signals lie along the last axis (shape ``(n, b)``):
    # for ``inner > 1`` that is how they are stored already.
    per_block = max(1, _BLOCK // n)
    if inner == 1:
        size = min(per_block, outer) * n
        blocks = [(start, None) for start in range(0, outer, per_block)]
    else:
        size = min(per_block, inner) * n
        blocks = [
            (o, slice(j, j + per_block))
            for o in range(outer)
            for j in range(0, inner, per_block)
        ]
    memory = np.empty(4 * size, dtype=x.dtype)
    front, back, scratch = memory[:size], memory[size : 2 * size], memory[2 * size :]
    # A block of rows always goes through the same buffers, so its operations
    # are compiled once per block size and rerun for every block.
    programs = {}
    for start, columns in blocks:
        if columns is None:
            block = x[start : start + per_block, :, 0]
            b = block.shape[0]
            if b == 1:
                ops, _ = _compile(
                    plan,
                    block.reshape(1, n, 1),
                    front[:n],
                    back[:n],
                    scratch,
                    out[start, :, 0],
                )
                _execute(ops)
                continue
        else:
            # Columns are read and written where they lie: the first stage
            # reads the strided view, the last one writes the output's.
            source = x[start, :, columns]
            b = source.shape[1]
            ops, _ = _compile(
                plan,
                source[None],
                back[: b * n],
                front[: b * n],
                scratch,
                out[start, :, columns],
            )
            _execute(ops)
            continue
        work = front[: b * n].reshape(n, b)
        if b not in programs:
            X = work.reshape(1, n, b)
            programs[b] = _compile(
                plan, X, back[: b * n], front[: b * n], scratch, None, own_input=True
            )
        ops, result = programs[b]
        # Transposing 8 rows at a time writes whole cache lines (8 complex
        # numbers); one big transposed copy is up to 3x slower.
        source = block.T
        for i in range(0, b, 8):
            np.copyto(work[:, i : i + 8], source[:, i : i + 8])
        _execute(ops)
        np.copyto(out[start : start + b, :, 0].T, result)


def _c2c_axis(x, n, axis, norm, inverse):
    x, axis, n = _prepare(x, n, axis)
    norm = _check_norm(norm)
    dtype = _complex_dtype(x.dtype)
    # Transform in place along ``axis``, with the axes before and after it
    # flattened: no transposition of the caller's layout is needed.
    shape = x.shape
    x3 = np.ascontiguousarray(x, dtype=dtype).reshape(
        math.prod(shape[:axis]), n, math.prod(shape[axis + 1 :])
    )
    out = _c2c(x3, +1 if inverse else -1)
    factor = _scale(norm, n, inverse)
    if factor != 1.0:
        out *= factor
    return out.reshape(shape)


# ---------------------------------------------------------------------------
# Public transforms.


def dft(x, axis=-1, norm="backward"):
    r"""Discrete Fourier transform by its definition, as one matrix product.

    Computes :math:`X_k = \sum_{j=0}^{N-1} x_j\, e^{-2\pi i jk/N}` along
    ``axis`` as ``x @ F`` with the :math:`N \times N` Fourier matrix
    :math:`F_{jk} = e^{-2\pi i jk/N}`. It costs :math:`O(N^2)` time and memory
    and serves as the readable reference for :func:`fft`.

    Parameters
    ----------
    x : array_like
        Input array, real or complex.
    axis : int, default=-1
        Axis along which the transform is computed.
    norm : {"backward", "ortho", "forward"}, default="backward"
        Normalisation, with numpy's meaning: ``"backward"`` leaves the forward
        transform unscaled, ``"ortho"`` scales by :math:`1/\sqrt{N}` and
        ``"forward"`` by :math:`1/N`.

    Returns
    -------
    X : ndarray of complex
        The transform, same shape as ``x``; complex64 for float32/complex64
        input, complex128 otherwise.

    See Also
    --------
    fft : The same transform in :math:`O(N \log N)` time.

    Notes
    -----
    The angles :math:`2\pi (jk \bmod N)/N` are reduced exactly in integers
    before the cosine and sine are taken, so every entry of :math:`F` is
    accurate to a rounding error even for large :math:`N`.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.fourier import dft
    >>> np.round(dft([1.0, 2.0, 3.0, 4.0]), 6) + 0.0
    array([10.+0.j, -2.+2.j, -2.+0.j, -2.-2.j])
    """
    x = _as_array(x)
    axis = _check_axis(axis, x.ndim)
    norm = _check_norm(norm)
    n = _check_n(None, x, axis)
    dtype = _complex_dtype(x.dtype)
    j = np.arange(n, dtype=np.float64)
    # F[j, k] = w[(j k) mod n] with the n roots of unity w computed once; the
    # products j k < 2**53 are exact in float64, and so is their remainder.
    jk = np.multiply.outer(j, j)
    jk -= n * np.floor(jk / n)
    matrix = _unit_roots(np.arange(n), n, -1, dtype)[jk.astype(np.intp)]
    out = np.moveaxis(x, axis, -1).astype(dtype) @ matrix
    factor = _scale(norm, n, inverse=False)
    if factor != 1.0:
        out *= factor
    return np.moveaxis(out, -1, axis)


def fft(x, n=None, axis=-1, norm=None):
    r"""One-dimensional discrete Fourier transform, fast, for any length.

    Computes :math:`X_k = \sum_{j=0}^{N-1} x_j\, e^{-2\pi i jk/N}`,
    :math:`k = 0, \dots, N-1`, along one axis in :math:`O(N \log N)`
    operations, with the same conventions as :func:`numpy.fft.fft`.

    Parameters
    ----------
    x : array_like
        Input array, real or complex.
    n : int, default=None
        Length of the transformed axis: ``x`` is cropped or zero-padded to
        ``n`` points. ``None`` uses the length of ``x`` along ``axis``.
    axis : int, default=-1
        Axis along which the transform is computed.
    norm : {"backward", "ortho", "forward"}, default=None
        Normalisation; ``None`` means ``"backward"`` (no scaling of the forward
        transform), ``"ortho"`` scales by :math:`1/\sqrt{N}`, ``"forward"`` by
        :math:`1/N`.

    Returns
    -------
    X : ndarray of complex
        The transform; ``axis`` has length ``n``. complex64 for
        float16/float32/complex64 input, complex128 otherwise.

    Raises
    ------
    ValueError
        If ``n`` (or the length of ``axis``) is smaller than 1, ``norm`` is
        unknown, or ``axis`` is out of range (then a
        :class:`numpy.exceptions.AxisError`, a ValueError, as in
        :func:`numpy.fft.fft`).
    TypeError
        If ``x`` is not numeric, or ``n`` or ``axis`` is not an integer.

    See Also
    --------
    ifft : The inverse transform.
    rfft : The transform of real input, about twice as fast.
    dft : The :math:`O(N^2)` definition.

    Notes
    -----
    Lengths whose prime factors are 2, 3, 5, 7, 11 and 13 (plus at most one
    leftover factor up to 128) use an iterative mixed-radix Cooley-Tukey
    algorithm: radix-4 and radix-2 butterflies for the powers of two, a
    butterfly for each other small prime, all vectorised over the batch and
    over every stage's butterflies. Any other length uses Bluestein's
    algorithm, which rewrites the DFT as a convolution with a chirp
    :math:`e^{-i\pi k^2/N}` of a power-of-two (or three times a power of two)
    length :math:`M \ge 2N - 1`. Twiddle factors are cached per length. The
    rounding error grows like :math:`O(\log N)`.

    References
    ----------
    J. W. Cooley and J. W. Tukey (1965). An algorithm for the machine
    calculation of complex Fourier series. Mathematics of Computation 19.

    L. Bluestein (1970). A linear filtering approach to the computation of
    discrete Fourier transform. IEEE Transactions on Audio and
    Electroacoustics 18(4).

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.fourier import fft
    >>> x = np.cos(2 * np.pi * np.arange(6) / 6)
    >>> np.round(fft(x), 6) + 0.0
    array([0.+0.j, 3.+0.j, 0.+0.j, 0.+0.j, 0.+0.j, 3.+0.j])
    """
    return _c2c_axis(x, n, axis, norm, inverse=False)


def ifft(x, n=None, axis=-1, norm=None):
    r"""One-dimensional inverse discrete Fourier transform.

    Computes :math:`x_j = \frac{1}{N}\sum_{k=0}^{N-1} X_k\, e^{2\pi i jk/N}`
    (for the default ``norm``), so that ``ifft(fft(x)) == x`` up to rounding,
    with the conventions of :func:`numpy.fft.ifft`.

    Parameters
    ----------
    x : array_like
        Input array, real or complex.
    n : int, default=None
        Length of the transformed axis: ``x`` is cropped or zero-padded to
        ``n`` points. ``None`` uses the length of ``x`` along ``axis``.
    axis : int, default=-1
        Axis along which the transform is computed.
    norm : {"backward", "ortho", "forward"}, default=None
        Normalisation; ``None`` means ``"backward"`` (scale by :math:`1/N`),
        ``"ortho"`` scales by :math:`1/\sqrt{N}`, ``"forward"`` leaves the
        inverse unscaled.

    Returns
    -------
    x : ndarray of complex
        The inverse transform; ``axis`` has length ``n``.

    See Also
    --------
    fft : The forward transform; see it for the algorithm.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.fourier import fft, ifft
    >>> x = np.array([1.0, 2.0, 0.5, -1.0, 3.0])
    >>> np.allclose(ifft(fft(x)), x)
    True
    """
    return _c2c_axis(x, n, axis, norm, inverse=True)


@functools.lru_cache(maxsize=32)
def _rfft_twiddles(n, sign, dtype_char):
    """The twiddles that pack or unpack a real transform of even length ``n``.

    Forward (``sign=-1``): ``X_k = E_k + w^k O_k`` with ``E = (Zk + Zc) / 2``
    and ``O = (Zk - Zc) / (2i)``, so ``Zk - Zc`` is multiplied by
    ``-0.5j w^k``, ``w = exp(-2 pi i / n)``. Inverse (``sign=+1``):
    ``Z = E + i O`` with ``E = Xk + Xc`` and ``O = (Xk - Xc) w^-k``, both
    twice their true value, which the unnormalised inverse expects; so
    ``Xk - Xc`` is multiplied by ``1j w^-k``. ``k = 0, ..., n / 2``.
    """
    k = np.arange(n // 2 + 1)
    factor = -0.5j if sign == -1 else 1j
    return (factor * _unit_roots(k, n, sign, np.complex128)).astype(dtype_char)


def rfft(x, n=None, axis=-1, norm=None):
    r"""Discrete Fourier transform of real input, non-negative frequencies.

    Returns the first :math:`\lfloor N/2 \rfloor + 1` terms of :func:`fft`;
    the others are their complex conjugates because the input is real.
    Same conventions as :func:`numpy.fft.rfft`.

    Parameters
    ----------
    x : array_like of real numbers
        Input array.
    n : int, default=None
        Number of input points used along ``axis`` (crop or zero-pad).
    axis : int, default=-1
        Axis along which the transform is computed.
    norm : {"backward", "ortho", "forward"}, default=None
        Normalisation, as in :func:`fft`.

    Returns
    -------
    X : ndarray of complex
        ``axis`` has length ``n // 2 + 1``.

    Raises
    ------
    TypeError
        If ``x`` is complex.

    See Also
    --------
    irfft : The inverse.
    rfftfreq : The frequencies of the output bins.

    Notes
    -----
    For even :math:`N` the real signal is packed into a complex one of half
    the length, :math:`z_m = x_{2m} + i x_{2m+1}`, whose transform :math:`Z`
    gives the transforms of the even and odd samples,
    :math:`E_k = (Z_k + \overline{Z_{N/2-k}})/2` and
    :math:`O_k = (Z_k - \overline{Z_{N/2-k}})/(2i)`, and then
    :math:`X_k = E_k + e^{-2\pi i k/N} O_k`: one half-length complex
    transform instead of a full one. Odd :math:`N` uses the full transform.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.fourier import rfft
    >>> np.round(rfft([1.0, 2.0, 3.0, 4.0]), 6) + 0.0
    array([10.+0.j, -2.+2.j, -2.+0.j])
    """
    x, axis, n = _prepare(x, n, axis, real=True)
    norm = _check_norm(norm)
    cdtype = _complex_dtype(x.dtype)
    rows, lead = _to_rows(x, axis, _real_dtype(cdtype))
    if n % 2:
        out = _c2c(rows.astype(cdtype), -1)[:, : n // 2 + 1]
    else:
        half = n // 2
        Z = _c2c(rows.view(cdtype), -1)
        # Zk[k] = Z[k mod half] and Zc[k] = conj(Z[(half - k) mod half]).
        Zk = np.empty((Z.shape[0], half + 1), dtype=cdtype)
        Zk[:, :half] = Z
        Zk[:, half] = Z[:, 0]
        Zc = Zk[:, ::-1].conj()
        odd = Zk - Zc
        odd *= _rfft_twiddles(n, -1, cdtype.char)
        out = np.add(Zk, Zc, out=Zc)
        out *= 0.5
        out += odd
    factor = _scale(norm, n, inverse=False)
    if factor != 1.0:
        out *= factor
    return _from_rows(out, lead, axis)


def irfft(x, n=None, axis=-1, norm=None):
    r"""Inverse of :func:`rfft`: a real signal from its non-negative frequencies.

    Same conventions as :func:`numpy.fft.irfft`: the input is the first half
    of a Hermitian spectrum; the imaginary parts of the zero-frequency term
    and, for even ``n``, of the Nyquist term are ignored.

    Parameters
    ----------
    x : array_like
        Input spectrum, usually complex.
    n : int, default=None
        Length of the output. ``None`` gives ``2 * (m - 1)`` for an input of
        length ``m``; the input is cropped or zero-padded to ``n // 2 + 1``
        terms.
    axis : int, default=-1
        Axis along which the transform is computed.
    norm : {"backward", "ortho", "forward"}, default=None
        Normalisation, as in :func:`ifft`.

    Returns
    -------
    x : ndarray of float
        Real output; ``axis`` has length ``n``. float32 for complex64 input.

    See Also
    --------
    rfft : The forward transform, with the algorithm.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.fourier import irfft, rfft
    >>> x = np.array([1.0, 2.0, 0.5, -1.0])
    >>> np.allclose(irfft(rfft(x)), x)
    True
    """
    x = _as_array(x)
    axis = _check_axis(axis, x.ndim)
    n = _check_n(n, x, axis, from_length=lambda m: 2 * (m - 1))
    norm = _check_norm(norm)
    x = _resize(x, n // 2 + 1, axis)
    cdtype = _complex_dtype(x.dtype)
    rows, lead = _to_rows(x, axis, cdtype)
    rows = rows.copy()
    rows[:, 0] = rows[:, 0].real
    if n % 2:
        full = np.empty((rows.shape[0], n), dtype=cdtype)
        full[:, : n // 2 + 1] = rows
        full[:, n // 2 + 1 :] = rows[:, 1 : (n + 1) // 2][:, ::-1].conj()
        out = _c2c(full, +1).real
    else:
        half = n // 2
        rows[:, half] = rows[:, half].real
        Xk = rows[:, :half]
        Xc = rows[:, half:0:-1].conj()
        odd = Xk - Xc
        odd *= _rfft_twiddles(n, +1, cdtype.char)[:half]
        Z = np.add(Xk, Xc, out=Xc)
        Z += odd
        z = _c2c(Z, +1)
        out = z.view(_real_dtype(cdtype)).reshape(z.shape[0], n)
    out = np.ascontiguousarray(out)
    factor = _scale(norm, n, inverse=True)
    if factor != 1.0:
        out *= factor
    return _from_rows(out, lead, axis)


def _axes_and_shape(x, s, axes):
    x = _as_array(x)
    if axes is None:
        axes = list(range(x.ndim)) if s is None else list(range(-len(s), 0))
    axes = _check_axes(axes, x.ndim)
    if s is None:
        s = [None] * len(axes)
    elif len(s) != len(axes):
        raise ValueError(
            f"s={tuple(s)!r} and axes={tuple(axes)!r} must have the same length"
        )
    return x, list(s), axes


def _nd(x, s, axes, norm, inverse):
    x, s, axes = _axes_and_shape(x, s, axes)
    norm = _check_norm(norm)
    for n, axis in zip(s[::-1], axes[::-1], strict=True):
        x = _c2c_axis(x, n, axis, norm, inverse)
    return x


def fftn(x, s=None, axes=None, norm=None):
    r"""N-dimensional discrete Fourier transform, one axis at a time.

    The multidimensional DFT is separable: it is the 1-D :func:`fft` applied
    along each axis in turn. Same conventions as :func:`numpy.fft.fftn`.

    Parameters
    ----------
    x : array_like
        Input array.
    s : sequence of int, default=None
        Output length along each transformed axis (crop or zero-pad).
    axes : sequence of int, default=None
        Axes to transform; ``None`` means all axes (or the last ``len(s)``).
    norm : {"backward", "ortho", "forward"}, default=None
        Normalisation, applied along every transformed axis.

    Returns
    -------
    X : ndarray of complex
        The transform.

    See Also
    --------
    fft2 : The 2-D case.
    ifftn : The inverse.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.fourier import fftn
    >>> np.round(fftn(np.ones((2, 2, 2))).real, 6)
    array([[[8., 0.],
            [0., 0.]],
    <BLANKLINE>
           [[0., 0.],
            [0., 0.]]])
    """
    return _nd(x, s, axes, norm, inverse=False)


def ifftn(x, s=None, axes=None, norm=None):
    r"""N-dimensional inverse discrete Fourier transform.

    Parameters
    ----------
    x : array_like
        Input array.
    s : sequence of int, default=None
        Output length along each transformed axis (crop or zero-pad).
    axes : sequence of int, default=None
        Axes to transform; ``None`` means all axes (or the last ``len(s)``).
    norm : {"backward", "ortho", "forward"}, default=None
        Normalisation, applied along every transformed axis.

    Returns
    -------
    x : ndarray of complex
        The inverse transform.

    See Also
    --------
    fftn : The forward transform.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.fourier import fftn, ifftn
    >>> x = np.arange(12.0).reshape(3, 4)
    >>> np.allclose(ifftn(fftn(x)), x)
    True
    """
    return _nd(x, s, axes, norm, inverse=True)


def fft2(x, s=None, axes=(-2, -1), norm=None):
    r"""Two-dimensional discrete Fourier transform.

    The 1-D :func:`fft` of every row, then of every column. Same conventions
    as :func:`numpy.fft.fft2`.

    Parameters
    ----------
    x : array_like
        Input array, at least 2-D.
    s : sequence of two ints, default=None
        Output shape along ``axes`` (crop or zero-pad).
    axes : sequence of two ints, default=(-2, -1)
        Axes to transform.
    norm : {"backward", "ortho", "forward"}, default=None
        Normalisation, applied along both axes.

    Returns
    -------
    X : ndarray of complex
        The transform.

    See Also
    --------
    ifft2 : The inverse.
    fftn : Any number of axes.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.fourier import fft2
    >>> np.round(fft2([[1.0, 2.0], [3.0, 4.0]]).real, 6)
    array([[10., -2.],
           [-4.,  0.]])
    """
    return _nd(x, s, axes, norm, inverse=False)


def ifft2(x, s=None, axes=(-2, -1), norm=None):
    r"""Two-dimensional inverse discrete Fourier transform.

    Parameters
    ----------
    x : array_like
        Input array, at least 2-D.
    s : sequence of two ints, default=None
        Output shape along ``axes`` (crop or zero-pad).
    axes : sequence of two ints, default=(-2, -1)
        Axes to transform.
    norm : {"backward", "ortho", "forward"}, default=None
        Normalisation, applied along both axes.

    Returns
    -------
    x : ndarray of complex
        The inverse transform.

    See Also
    --------
    fft2 : The forward transform.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.fourier import fft2, ifft2
    >>> x = np.arange(6.0).reshape(2, 3)
    >>> np.allclose(ifft2(fft2(x)), x)
    True
    """
    return _nd(x, s, axes, norm, inverse=True)
