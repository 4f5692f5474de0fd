"""Hand-derived gradients (mathlearn.backprop) against PyTorch autograd on CPU.

Forward + backward of scaled dot-product attention, the tanh RNN with a softmax
loss and the LSTM (the book's sigmoid cell written in torch operations, and
``torch.nn.LSTM`` for the tanh cell), in float64 and float32, with the same
number of threads for NumPy's BLAS and for torch, in one process. Prints a
Markdown table of the best time of a few runs (``_timing.measure``) on an idle
machine and with one competing process ("busy"); ratio = mathlearn time /
torch time, idle (below 1: mathlearn is faster).

    python benchmarks/bench_backprop.py            # full sizes of issue 7
    python benchmarks/bench_backprop.py --quick    # the small sizes only
"""

import argparse
import os


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--threads", type=int, default=1, help="threads for both")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs")
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="wall",
        help="wall: elapsed time (what a competing process slows down); cpu: the "
        "process's CPU time, robust on a shared machine (use with --threads 1)",
    )
    return parser.parse_args()


ARGS = _parse_args() if __name__ == "__main__" else None
# Thread counts are fixed before NumPy's OpenBLAS and torch start: lowering
# OpenBLAS's threads at run time (threadpoolctl) made small products 2-3x
# slower in our measurements, which would favour torch unfairly.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = str(ARGS.threads if ARGS else 1)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _timing import measure_idle_and_busy, print_table  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

from mathlearn.backprop import (  # noqa: E402
    attention_backward,
    attention_forward,
    init_lstm_params,
    init_rnn_params,
    lstm_backward,
    lstm_forward,
    rnn_backward,
    rnn_forward,
)

F = torch.nn.functional
TORCH_DTYPES = {np.float64: torch.float64, np.float32: torch.float32}


def best_times(func, repeat, clock):
    """Best idle and busy times (seconds) of ``func`` after a warm-up call."""
    func()
    idle, busy = measure_idle_and_busy(func, repeat=repeat)
    if clock == "cpu":
        return idle.cpu_seconds, busy.cpu_seconds
    return idle.seconds, busy.seconds


def attention_case(shape, dtype):
    rng = np.random.RandomState(0)
    Q, K, V = (rng.normal(size=shape).astype(dtype) for _ in range(3))
    dout = rng.normal(size=shape).astype(dtype)
    tQ, tK, tV = (torch.tensor(a, requires_grad=True) for a in (Q, K, V))
    tdout = torch.tensor(dout)

    def ours():
        out, cache = attention_forward(Q, K, V)
        attention_backward(dout, cache)

    def theirs():
        out = F.scaled_dot_product_attention(tQ, tK, tV)
        dQ, dK, dV = torch.autograd.grad(out, (tQ, tK, tV), tdout)

    return ours, theirs


def _torch_leaves(params, dtype):
    return {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}


def rnn_case(size, dtype):
    batch, T, vocab, H = size
    rng = np.random.RandomState(0)
    params = init_rnn_params(vocab, H, vocab, random_state=0, dtype=dtype)
    x = rng.randint(vocab, size=(batch, T))
    y = rng.randint(vocab, size=(batch, T))
    rnn = torch.nn.RNN(vocab, H, batch_first=True, dtype=TORCH_DTYPES[dtype])
    head = torch.nn.Linear(H, vocab, dtype=TORCH_DTYPES[dtype])
    tx = F.one_hot(torch.tensor(x), vocab).to(TORCH_DTYPES[dtype])
    ty = torch.tensor(y).reshape(-1)
    weights = [*rnn.parameters(), *head.parameters()]

    def ours():
        loss, cache = rnn_forward(x, None, params, y)
        rnn_backward(1.0, cache)

    def theirs():
        hs, _ = rnn(tx)
        loss = F.cross_entropy(head(hs).reshape(-1, vocab), ty, reduction="sum")
        torch.autograd.grad(loss, weights)

    return ours, theirs


def lstm_case(size, dtype, cell_activation):
    batch, T, vocab, H = size
    rng = np.random.RandomState(0)
    params = init_lstm_params(vocab, H, vocab, random_state=0, dtype=dtype)
    x = rng.randint(vocab, size=(batch, T))
    y = rng.randint(vocab, size=(batch, T))
    tdtype = TORCH_DTYPES[dtype]
    tx = F.one_hot(torch.tensor(x), vocab).to(tdtype)
    ty = torch.tensor(y).reshape(-1)

    def ours():
        loss, cache = lstm_forward(
            x, None, None, params, y, cell_activation=cell_activation
        )
        lstm_backward(1.0, cache)

    if cell_activation == "tanh":
        lstm = torch.nn.LSTM(vocab, H, batch_first=True, dtype=tdtype)
        head = torch.nn.Linear(H, vocab, dtype=tdtype)
        weights = [*lstm.parameters(), *head.parameters()]

        def theirs():
            hs, _ = lstm(tx)
            loss = F.cross_entropy(head(hs).reshape(-1, vocab), ty, reduction="sum")
            torch.autograd.grad(loss, weights)

        return ours, theirs

    p = _torch_leaves(params, dtype)
    h0 = torch.zeros(batch, H, dtype=tdtype)

    def theirs():  # the book's cell (sigmoid cell input) in torch operations
        a_in = tx @ p["U"].T + p["b"]
        h, s, hs = h0, h0, []
        for t in range(T):
            a = a_in[:, t] + h @ p["W"].T
            gates = torch.sigmoid(a)
            g, f, z, q = gates.chunk(4, dim=1)
            s = f * s + g * z
            h = torch.tanh(s) * q
            hs.append(h)
        logits = torch.stack(hs, dim=1) @ p["V"].T + p["c"]
        loss = F.cross_entropy(logits.reshape(-1, vocab), ty, reduction="sum")
        torch.autograd.grad(loss, list(p.values()))

    return ours, theirs


def main(args):
    repeat = args.repeat or (5 if args.quick else 7)
    torch.set_num_threads(args.threads)

    attention_shapes = [(32, 8, 128, 64), (8, 1, 512, 64)]
    recurrent_sizes = [(32, 25, 65, 100), (32, 100, 65, 512)]
    if args.quick:
        attention_shapes = [(4, 2, 64, 32)]
        recurrent_sizes = recurrent_sizes[:1]

    cases = []
    for dtype in (np.float64, np.float32):
        for shape in attention_shapes:
            cases.append(
                ("attention", f"(B,h,T,d)={shape}", dtype, attention_case(shape, dtype))
            )
        for size in recurrent_sizes:
            label = f"V={size[2]} H={size[3]} T={size[1]} B={size[0]}"
            cases.append(("RNN vs nn.RNN", label, dtype, rnn_case(size, dtype)))
            cases.append(
                (
                    "LSTM sigmoid cell vs torch ops",
                    label,
                    dtype,
                    lstm_case(size, dtype, "sigmoid"),
                )
            )
            cases.append(
                (
                    "LSTM tanh cell vs nn.LSTM",
                    label,
                    dtype,
                    lstm_case(size, dtype, "tanh"),
                )
            )

    pools = ", ".join(
        f"{pool['internal_api']} {pool['num_threads']}" for pool in threadpool_info()
    )
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} thread(s)), numpy "
        f"{np.__version__} ({pools}); best {args.clock} time of {repeat}, "
        "forward + backward\n"
    )
    header = ["case", "size", "dtype", "mathlearn (ms)", "mathlearn busy (ms)"]
    header += ["torch (ms)", "torch busy (ms)", "ratio"]
    rows = []
    for name, label, dtype, (ours, theirs) in cases:
        t_ours, busy_ours = best_times(ours, repeat, args.clock)
        t_theirs, busy_theirs = best_times(theirs, repeat, args.clock)
        rows.append(
            [name, label, np.dtype(dtype).name]
            + [f"{1e3 * t:.1f}" for t in (t_ours, busy_ours, t_theirs, busy_theirs)]
            + [f"{t_ours / t_theirs:.2f}"]
        )
    print_table(header, rows)


if __name__ == "__main__":
    main(ARGS)
