"""Tests of mathlearn.fourier against numpy.fft, scipy.fft and high precision."""

import numpy as np
import pytest
import scipy.fft
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mathlearn.fourier import (
    FourierFeatures,
    dct,
    dft,
    fft,
    fft2,
    fftfreq,
    fftn,
    fftshift,
    idct,
    ifft,
    ifft2,
    ifftn,
    ifftshift,
    irfft,
    rfft,
    rfftfreq,
)
from mathlearn.fourier._fft import _BLOCK

NORMS = [None, "backward", "ortho", "forward"]
TOL = 1e-12
# Lengths beyond 300: primes (Bluestein), 5-smooth, 7/11/13 radices, and one
# factor above 13 handled by a dense first stage (17 * 64, 127 * 3).
LARGE_SIZES = [
    509,
    1009,
    4099,
    7919,
    2**12,
    3**7,
    5**5,
    2**5 * 3**3 * 5**2,
    2**10 * 3 * 5,
    7 * 11 * 13 * 4,
    17 * 64,
    127 * 3,
    2 * 4099,
    131 * 5,
]


def _rel_err(actual, expected):
    """Largest error relative to the largest reference value (norm-wise)."""
    scale = np.max(np.abs(expected)) if np.size(expected) else 1.0
    return np.max(np.abs(actual - expected)) / max(scale, np.finfo(float).tiny)


def _signal(rng, shape, complex_=True):
    x = rng.standard_normal(shape)
    if complex_:
        x = x + 1j * rng.standard_normal(shape)
    return x


# ---------------------------------------------------------------------------
# Agreement with numpy.fft.


@pytest.mark.parametrize("norm", NORMS)
def test_every_length_up_to_300_matches_numpy(norm):
    rng = np.random.default_rng(0)
    worst = {}
    for n in range(1, 301):
        x = _signal(rng, (2, n))
        checks = {
            "fft": (fft(x, norm=norm), np.fft.fft(x, norm=norm)),
            "ifft": (ifft(x, norm=norm), np.fft.ifft(x, norm=norm)),
            "rfft": (rfft(x.real, norm=norm), np.fft.rfft(x.real, norm=norm)),
            "irfft": (irfft(x, n=n, norm=norm), np.fft.irfft(x, n=n, norm=norm)),
        }
        for name, (ours, ref) in checks.items():
            assert ours.shape == ref.shape, (name, n)
            worst[name] = max(worst.get(name, 0.0), _rel_err(ours, ref))
    assert max(worst.values()) <= TOL, worst


@pytest.mark.parametrize("n", LARGE_SIZES)
def test_larger_sizes_match_numpy(n):
    rng = np.random.default_rng(n)
    x = _signal(rng, (2, n))
    for norm in NORMS:
        assert _rel_err(fft(x, norm=norm), np.fft.fft(x, norm=norm)) <= TOL
        assert _rel_err(ifft(x, norm=norm), np.fft.ifft(x, norm=norm)) <= TOL
    assert _rel_err(rfft(x.real), np.fft.rfft(x.real)) <= TOL
    assert _rel_err(irfft(x, n=n), np.fft.irfft(x, n=n)) <= TOL


@pytest.mark.parametrize("last", [5, 1])
@pytest.mark.parametrize("n", [4096, 2048, 1024, 3 * 512, 17 * 64, 5000])
def test_batches_spanning_several_blocks_match_numpy(n, last):
    # Rows (axis -1) and columns (axis 0) are transformed a block of signals at
    # a time, with one compiled set of operations reused for every block and
    # a second one for the shorter last block; every block must come out
    # right and the input must be left untouched. A last block of one row
    # takes the single-signal path (fft of 40 rows of 5000 raised a
    # ValueError: that path got buffers sized for a whole block).
    rng = np.random.default_rng(n)
    per_block = _BLOCK // n
    x = _signal(rng, (2 * per_block + last, n))
    copy = x.copy()
    for _ in range(2):
        assert _rel_err(fft(x), np.fft.fft(x)) <= TOL
        assert _rel_err(ifft(x), np.fft.ifft(x)) <= TOL
        assert _rel_err(fft(x.T, axis=0), np.fft.fft(x.T, axis=0)) <= TOL
        assert _rel_err(fft(x[:3]), np.fft.fft(x[:3])) <= TOL
    np.testing.assert_array_equal(x, copy)


def test_numpy_ufunc_buffer_size_is_restored():
    # The stages run with a small ufunc buffer; the caller's setting must be
    # back afterwards, whatever it was.
    rng = np.random.default_rng(5)
    with np.errstate():
        np.setbufsize(4096)
        fft(_signal(rng, (3, 1024)))
        fft2(_signal(rng, (6, 8)))
        assert np.getbufsize() == 4096


@pytest.mark.parametrize("func", [fft, ifft])
@pytest.mark.parametrize("norm", NORMS)
def test_every_axis_of_3d_input(func, norm):
    rng = np.random.default_rng(1)
    x = _signal(rng, (6, 7, 10))
    ref = getattr(np.fft, func.__name__)
    for axis in (0, 1, 2, -1, -3):
        for n in (None, 5, 12):
            ours, expected = func(x, n, axis, norm), ref(x, n, axis, norm)
            assert ours.shape == expected.shape
            assert _rel_err(ours, expected) <= TOL


@pytest.mark.parametrize("norm", NORMS)
def test_real_transforms_every_axis_of_3d_input(norm):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 7, 10))
    for axis in (0, 1, 2, -2):
        for n in (None, 5, 9, 12):
            assert (
                _rel_err(rfft(x, n, axis, norm), np.fft.rfft(x, n, axis, norm)) <= TOL
            )
            X = np.fft.rfft(x, axis=axis)
            assert (
                _rel_err(irfft(X, n, axis, norm), np.fft.irfft(X, n, axis, norm)) <= TOL
            )


def test_irfft_ignores_imaginary_dc_and_nyquist_like_numpy():
    rng = np.random.default_rng(3)
    X = _signal(rng, (4, 9))
    for n in (16, 17, 15):
        assert _rel_err(irfft(X, n), np.fft.irfft(X, n)) <= TOL


def test_multidimensional_transforms_match_numpy():
    rng = np.random.default_rng(4)
    x = _signal(rng, (5, 6, 8))
    for norm in NORMS:
        assert _rel_err(fft2(x, norm=norm), np.fft.fft2(x, norm=norm)) <= TOL
        assert _rel_err(ifft2(x, norm=norm), np.fft.ifft2(x, norm=norm)) <= TOL
        assert _rel_err(fftn(x, norm=norm), np.fft.fftn(x, norm=norm)) <= TOL
        assert _rel_err(ifftn(x, norm=norm), np.fft.ifftn(x, norm=norm)) <= TOL
    assert _rel_err(fft2(x, s=(4, 9)), np.fft.fft2(x, s=(4, 9))) <= TOL
    axes = (0, 2)
    assert _rel_err(fft2(x, axes=axes), np.fft.fft2(x, axes=axes)) <= TOL
    assert (
        _rel_err(fftn(x, s=(3, 7), axes=(2, 0)), np.fft.fftn(x, s=(3, 7), axes=(2, 0)))
        <= TOL
    )


def test_dft_matches_numpy():
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 16, 17, 64, 100):
        x = _signal(rng, (3, n))
        for norm in NORMS[1:]:
            assert _rel_err(dft(x, norm=norm), np.fft.fft(x, norm=norm)) <= TOL
    x = _signal(rng, (4, 5, 6))
    for axis in (0, 1, 2):
        assert _rel_err(dft(x, axis=axis), np.fft.fft(x, axis=axis)) <= TOL


def test_helpers_match_numpy():
    for n in range(1, 20):
        for d in (1.0, 0.1, 3):
            np.testing.assert_array_equal(fftfreq(n, d), np.fft.fftfreq(n, d))
            np.testing.assert_array_equal(rfftfreq(n, d), np.fft.rfftfreq(n, d))
    x = np.arange(35).reshape(5, 7)
    for axes in (None, 0, 1, (0, 1), (1,)):
        np.testing.assert_array_equal(fftshift(x, axes), np.fft.fftshift(x, axes))
        np.testing.assert_array_equal(ifftshift(x, axes), np.fft.ifftshift(x, axes))
        np.testing.assert_array_equal(ifftshift(fftshift(x, axes), axes), x)


# ---------------------------------------------------------------------------
# Identities.


def test_round_trips():
    rng = np.random.default_rng(6)
    for n in (1, 2, 7, 64, 97, 360, 1031):
        x = _signal(rng, (3, n))
        for norm in NORMS:
            np.testing.assert_allclose(
                ifft(fft(x, norm=norm), norm=norm), x, rtol=0, atol=1e-12
            )
            np.testing.assert_allclose(
                irfft(rfft(x.real, norm=norm), n, norm=norm),
                x.real,
                rtol=0,
                atol=1e-12,
            )
            for t in (2, 3):
                np.testing.assert_allclose(
                    idct(dct(x.real, t, norm=norm), t, norm=norm),
                    x.real,
                    rtol=0,
                    atol=1e-12,
                )
    x = _signal(rng, (6, 10))
    np.testing.assert_allclose(ifft2(fft2(x)), x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [1, 8, 31, 100, 1009, 4096])
def test_parseval(n):
    rng = np.random.default_rng(n)
    x = _signal(rng, n)
    energy = np.sum(np.abs(x) ** 2)
    np.testing.assert_allclose(np.sum(np.abs(fft(x)) ** 2) / n, energy, rtol=1e-12)
    np.testing.assert_allclose(
        np.sum(np.abs(fft(x, norm="ortho")) ** 2), energy, rtol=1e-12
    )
    y = x.real
    np.testing.assert_allclose(
        np.sum(dct(y, norm="ortho") ** 2), np.sum(y**2), rtol=1e-12
    )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=80),
    st.floats(-5, 5, allow_nan=False),
)
def test_linearity_and_shift_theorem(values, a):
    x = np.asarray(values)
    n = x.size
    y = np.roll(x, 1)
    scale = max(1.0, np.max(np.abs(x))) * n
    np.testing.assert_allclose(
        fft(a * x + y), a * fft(x) + fft(y), rtol=0, atol=1e-12 * scale * (1 + abs(a))
    )
    # A circular delay by one sample multiplies bin k by exp(-2 pi i k / n).
    phase = np.exp(-2j * np.pi * np.arange(n) / n)
    np.testing.assert_allclose(fft(y), phase * fft(x), rtol=0, atol=1e-12 * scale)


# ---------------------------------------------------------------------------
# dtypes and the caller's data.


def test_single_precision_is_preserved():
    rng = np.random.default_rng(7)
    x = _signal(rng, (3, 120)).astype(np.complex64)
    for func in (fft, ifft, fft2, fftn, dft):
        out = func(x)
        assert out.dtype == np.complex64
        ref = getattr(np.fft, func.__name__ if func is not dft else "fft")(
            x.astype(np.complex128)
        )
        assert _rel_err(out, ref) <= 1e-5
    xr = x.real
    assert rfft(xr).dtype == np.complex64
    assert fft(xr.astype(np.float16)).dtype == np.complex64
    assert irfft(rfft(xr)).dtype == np.float32
    assert dct(xr).dtype == np.float32
    assert idct(xr, type=3).dtype == np.float32
    assert fft(np.arange(5)).dtype == np.complex128
    assert _rel_err(fft(np.arange(6)), np.fft.fft(np.arange(6))) <= TOL


def test_input_is_not_modified():
    rng = np.random.default_rng(8)
    x = _signal(rng, (4, 16))
    copy = x.copy()
    for func in (fft, ifft, fft2, irfft):
        func(x, norm="ortho")
    for func in (rfft, dct, idct):
        func(x.real, norm="ortho")
    fft(x[:, :1])
    np.testing.assert_array_equal(x, copy)


# ---------------------------------------------------------------------------
# DCT against scipy.


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("type_", [2, 3])
def test_dct_matches_scipy(type_, norm):
    rng = np.random.default_rng(9)
    worst = 0.0
    for n in list(range(1, 130)) + [509, 1024, 1000]:
        x = rng.standard_normal((2, n))
        worst = max(
            worst,
            _rel_err(dct(x, type_, norm=norm), scipy.fft.dct(x, type_, norm=norm)),
            _rel_err(idct(x, type_, norm=norm), scipy.fft.idct(x, type_, norm=norm)),
        )
    assert worst <= TOL
    x = rng.standard_normal((5, 6, 7))
    for axis in (0, 1, 2):
        for n in (None, 4, 9):
            assert (
                _rel_err(
                    dct(x, type_, n, axis, norm), scipy.fft.dct(x, type_, n, axis, norm)
                )
                <= TOL
            )


# ---------------------------------------------------------------------------
# Accuracy against a high-precision DFT.


def _mpmath_dft_bins(x, bins):
    """The exact DFT of ``x`` at ``bins``, with mpmath at 40 digits.

    Returned as long doubles, so that an extended-precision result can be
    compared with it without rounding to float64 first.
    """
    mpmath = pytest.importorskip("mpmath")
    n = x.size
    with mpmath.workdps(40):
        values = [mpmath.mpc(v.real, v.imag) for v in x]
        out = []
        for k in bins:
            total = mpmath.mpc(0)
            for j, v in enumerate(values):
                total += v * mpmath.expjpi(mpmath.mpf(-2 * ((j * int(k)) % n)) / n)
            out.append((mpmath.nstr(total.real, 30), mpmath.nstr(total.imag, 30)))
    parts = np.asarray(out, dtype=np.longdouble)
    result = np.empty(len(out), dtype=np.clongdouble)
    result.real, result.imag = parts[:, 0], parts[:, 1]
    return result


def _extended_dft_bins(x, bins):
    """The DFT of ``x`` at ``bins`` summed in extended (long double) precision.

    Angles are reduced exactly in integers, so the reference error is about
    ``N * eps(longdouble)``, three orders of magnitude below float64's.
    """
    n = x.size
    j = np.arange(n, dtype=np.int64)
    re = x.real.astype(np.longdouble)
    im = x.imag.astype(np.longdouble)
    two_pi = 2 * np.longdouble("3.14159265358979323846264338327950288")
    out = np.empty(len(bins), dtype=np.clongdouble)
    for i, k in enumerate(bins):
        angle = (two_pi / n) * ((j * k) % n).astype(np.longdouble)
        c, s = np.cos(angle), np.sin(angle)
        out.real[i] = re @ c + im @ s
        out.imag[i] = im @ c - re @ s
    return out


def test_extended_precision_reference_agrees_with_mpmath():
    if np.finfo(np.longdouble).eps > 1e-18:
        pytest.skip("long double is not an extended-precision type here")
    rng = np.random.default_rng(10)
    x = _signal(rng, 600)
    bins = [0, 1, 257, 599]
    exact = _mpmath_dft_bins(x, bins)
    assert _rel_err(_extended_dft_bins(x, bins), exact) <= 1e-17


@pytest.mark.parametrize("n", [2**4, 2**8, 2**10, 2**12, 2**16, 3**9, 65537])
def test_error_growth_against_high_precision(n):
    """Relative error <= 1e-13 up to N = 2**16: O(log N) growth, not O(N)."""
    rng = np.random.default_rng(n)
    x = _signal(rng, n)
    ours = fft(x)
    if n <= 2**10:
        bins = rng.choice(n, size=min(n, 4), replace=False)
        exact = _mpmath_dft_bins(x, bins).astype(complex)
    else:
        if np.finfo(np.longdouble).eps > 1e-18:
            pytest.skip("long double is not an extended-precision type here")
        bins = rng.choice(n, size=8, replace=False)
        exact = _extended_dft_bins(x, bins).astype(complex)
    assert _rel_err(ours[bins], exact) <= 1e-13
    # numpy.fft (pocketfft) for scale: we are within a small factor of it.
    assert (
        _rel_err(ours[bins], exact) <= 4 * _rel_err(np.fft.fft(x)[bins], exact) + 1e-15
    )


# ---------------------------------------------------------------------------
# Bad input, with errors like numpy's.


@pytest.mark.parametrize("func", [fft, ifft, rfft, irfft, dct, idct])
def test_bad_lengths(func):
    with pytest.raises(ValueError, match=r"x has 0 point\(s\) along axis 0"):
        func(np.array([]))
    for n in (0, -3):
        with pytest.raises(ValueError, match=rf"n={n}"):
            func(np.ones(4), n=n)
    with pytest.raises(TypeError, match="n=2.5"):
        func(np.ones(4), n=2.5)


@pytest.mark.parametrize("func", [fft, ifft, rfft, irfft, dct, idct, dft, fft2, fftn])
def test_bad_input_type_and_norm(func):
    with pytest.raises(TypeError, match="x must be an array of numbers"):
        func(np.array(["a", "b"]) if func not in (fft2, fftn) else [["a", "b"]])
    with pytest.raises(ValueError, match="norm='unitary'"):
        func(np.ones((2, 4)), norm="unitary")


def test_other_bad_input():
    with pytest.raises(ValueError, match="at least one axis"):
        fft(3.0)
    with pytest.raises(ValueError, match=r"axis=1 is out of range .* \[-1, 1\)"):
        fft(np.ones(3), axis=1)
    with pytest.raises(TypeError, match="real"):
        rfft(np.ones(4) + 1j)
    with pytest.raises(TypeError, match="real"):
        dct(np.ones(4) + 1j)
    with pytest.raises(ValueError, match="type=1"):
        dct(np.ones(4), type=1)
    with pytest.raises(ValueError, match="same length"):
        fft2(np.ones((3, 3)), s=(3, 3, 3))
    with pytest.raises(ValueError, match="n=0"):
        fftfreq(0)
    with pytest.raises(ValueError, match="d=0"):
        rfftfreq(4, d=0)
    with pytest.raises(ValueError, match="d=nan"):
        rfftfreq(4, d=np.nan)
    with pytest.raises(TypeError, match="n=True"):
        fftfreq(True)
    with pytest.raises(ValueError, match=r"x has 0 point\(s\) along axis 1"):
        dft(np.ones((3, 0)))


@pytest.mark.parametrize(
    "call, error, match",
    [
        # fftshift(axes=5) raised a bare IndexError.
        (lambda x: fftshift(x, axes=5), ValueError, r"axes=5 has axis 5 out of"),
        (lambda x: ifftshift(x, axes=(0, -3)), ValueError, r"axes=\(0, -3\)"),
        (lambda x: fftshift(x, axes="a"), TypeError, "axes='a' must be an int"),
        # fft(axis=None): "'NoneType' object cannot be interpreted as an integer".
        (lambda x: fft(x, axis=None), TypeError, "axis=None must be an integer"),
        (lambda x: rfft(x, axis=1.5), TypeError, "axis=1.5 must be an integer"),
        (lambda x: irfft(x, axis=None), TypeError, "axis=None"),
        (lambda x: dft(x, axis=None), TypeError, "axis=None"),
        (lambda x: dct(x, axis=2), ValueError, "axis=2 is out of range"),
        (lambda x: fftn(x, axes=[0, 2]), ValueError, r"axes=\[0, 2\] has axis 2"),
        (lambda x: fft2(x, axes=(0, None)), TypeError, "axes=.* must be an int"),
    ],
)
def test_axis_errors_name_the_parameter(call, error, match):
    with pytest.raises(error, match=match):
        call(np.ones((4, 6)))


# ---------------------------------------------------------------------------
# FourierFeatures.


def test_fourier_features_match_rfft_and_dct():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((7, 33))
    spectrum = np.fft.rfft(X, norm="ortho")
    expected = {
        "magnitude": np.abs(spectrum),
        "power": np.abs(spectrum) ** 2,
        "log_power": np.log1p(np.abs(spectrum) ** 2),
        "dct": scipy.fft.dct(X, norm="ortho"),
    }
    for kind, ref in expected.items():
        out = FourierFeatures(spectrum=kind).fit_transform(X)
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
        short = FourierFeatures(spectrum=kind, n_coefficients=5).fit_transform(X)
        np.testing.assert_allclose(short, ref[:, :5], rtol=1e-12, atol=1e-12)


def test_fourier_features_names_and_frequencies():
    X = np.zeros((2, 8))
    features = FourierFeatures(spectrum="magnitude", sampling_rate=100).fit(X)
    np.testing.assert_allclose(features.frequencies_, np.fft.rfftfreq(8, 0.01))
    assert list(features.get_feature_names_out()) == [
        "magnitude_0",
        "magnitude_12.5",
        "magnitude_25",
        "magnitude_37.5",
        "magnitude_50",
    ]
    dct_features = FourierFeatures(spectrum="dct", n_coefficients=3).fit(X)
    assert list(dct_features.get_feature_names_out()) == [
        "dct_0",
        "dct_0.0625",
        "dct_0.125",
    ]
    with pytest.raises(ValueError, match="input_features"):
        features.get_feature_names_out(["a", "b"])


def test_fourier_features_shift_invariance():
    rng = np.random.default_rng(12)
    X = rng.standard_normal((5, 40))
    features = FourierFeatures(spectrum="power").fit(X)
    np.testing.assert_allclose(
        features.transform(np.roll(X, 7, axis=1)), features.transform(X), atol=1e-10
    )


def test_fourier_features_rejects_too_many_coefficients():
    X = np.ones((3, 8))
    with pytest.raises(ValueError, match="n_coefficients=6 must be <= 5"):
        FourierFeatures(n_coefficients=6).fit(X)
    FourierFeatures(spectrum="dct", n_coefficients=8).fit(X)


def test_fourier_features_in_a_classification_pipeline():
    """Tones of two frequencies at random phases: the spectrum separates them."""
    rng = np.random.default_rng(13)
    n, length = 120, 64
    y = rng.integers(0, 2, n)
    t = np.arange(length)
    freq = np.where(y == 0, 5, 9)[:, None]
    X = np.sin(2 * np.pi * freq * t / length + rng.uniform(0, 2 * np.pi, (n, 1)))
    X += 0.5 * rng.standard_normal((n, length))
    pipe = make_pipeline(FourierFeatures(), StandardScaler(), LogisticRegression())
    raw = make_pipeline(StandardScaler(), LogisticRegression())
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.95
    assert cross_val_score(clone(raw), X, y, cv=3).mean() < 0.8


def test_non_contiguous_input():
    rng = np.random.default_rng(14)
    x = _signal(rng, (9, 12, 10))
    for view in (np.asfortranarray(x), x[::2, :, ::3], x.transpose(2, 0, 1)):
        for axis in range(3):
            assert _rel_err(fft(view, axis=axis), np.fft.fft(view, axis=axis)) <= TOL
            assert (
                _rel_err(rfft(view.real, axis=axis), np.fft.rfft(view.real, axis=axis))
                <= TOL
            )
        assert _rel_err(fftn(view), np.fft.fftn(view)) <= TOL


def _spectra(X, norm="ortho"):
    """The four kinds of features of ``X``, in float64, from numpy and scipy."""
    X = np.asarray(X, dtype=np.float64)
    magnitude = np.abs(np.fft.rfft(X, norm=norm))
    return {
        "magnitude": magnitude,
        "power": magnitude**2,
        "log_power": np.log1p(magnitude**2),
        "dct": scipy.fft.dct(X, norm=norm),
    }


def test_fourier_features_of_many_rows():
    # Rows are transformed in blocks; the block edges must not show.
    X = np.random.default_rng(15).standard_normal((4001, 96))
    for kind, ref in _spectra(X).items():
        out = FourierFeatures(spectrum=kind, n_coefficients=40).fit_transform(X)
        np.testing.assert_allclose(out, ref[:, :40], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("amplitude", [1e20, 1e-25])
def test_fourier_features_extreme_float32_amplitudes(amplitude):
    # sqrt(re**2 + im**2) gave inf for 1e20 and 0.0 for 1e-25 in float32.
    X = np.random.default_rng(16).standard_normal((6, 32)) * amplitude
    tiny = np.finfo(np.float32).smallest_subnormal
    reference = _spectra(X.astype(np.float32))
    for kind in ("magnitude", "log_power", "dct"):
        out = FourierFeatures(spectrum=kind).fit_transform(X.astype(np.float32))
        assert out.dtype == np.float32
        assert np.all(np.isfinite(out))
        atol = max(2e-6 * np.abs(reference[kind]).max(), tiny)
        np.testing.assert_allclose(out, reference[kind], rtol=0, atol=atol)
    if amplitude > 1:
        # |X_k|**2 ~ 1e41 is beyond float32: inf, and NumPy says so.
        with pytest.warns(RuntimeWarning, match="overflow"):
            power = FourierFeatures(spectrum="power").fit_transform(
                X.astype(np.float32)
            )
        expected = reference["power"]
        too_large = expected > np.finfo(np.float32).max
        assert too_large.mean() > 0.5
        assert np.all(np.isinf(power[too_large]))
        np.testing.assert_allclose(power[~too_large], expected[~too_large], rtol=1e-5)


def test_fourier_features_log_power_of_huge_float64_signals():
    X = np.random.default_rng(17).standard_normal((4, 16)) * 1e200
    out = FourierFeatures(spectrum="log_power").fit_transform(X)
    # log(1 + a**2) = 2 log a + log1p(a**-2), and a**-2 < 1e-390 here.
    expected = 2 * np.log(np.abs(np.fft.rfft(X, norm="ortho")))
    np.testing.assert_allclose(out, expected, rtol=1e-13)


@pytest.mark.parametrize("kind", ["magnitude", "power", "log_power", "dct"])
def test_fourier_features_float32_matches_float64(kind):
    X = np.random.default_rng(18).standard_normal((50, 60)) * 3 + 1
    features = FourierFeatures(spectrum=kind).fit(X)
    out32 = features.transform(X.astype(np.float32))
    out64 = features.transform(X)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=0, atol=2e-6 * np.abs(out64).max())


@pytest.mark.parametrize("kind", ["magnitude", "power", "log_power", "dct"])
@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
@pytest.mark.parametrize("dtype, offset", [(np.float64, 1e6), (np.float32, 1e3)])
def test_fourier_features_offset_changes_only_output_zero(kind, norm, dtype, offset):
    # Transformed as is, the round-off of the offset leaked 2e-3 into every
    # frequency of a float32 signal shifted by 1e3 (numpy.fft does the same).
    X = np.random.default_rng(19).standard_normal((40, 1000))
    shifted = (X + offset).astype(dtype)
    out = FourierFeatures(spectrum=kind, norm=norm).fit_transform(shifted)
    exact = shifted.astype(np.float64)
    with_offset = _spectra(exact, norm)[kind]
    without_offset = _spectra(exact - offset, norm)[kind]
    rtol = 50 * np.finfo(dtype).eps
    np.testing.assert_allclose(out[:, 0], with_offset[:, 0], rtol=rtol)
    np.testing.assert_allclose(
        out[:, 1:],
        without_offset[:, 1:],
        rtol=0,
        atol=rtol * np.abs(without_offset[:, 1:]).max(),
    )
