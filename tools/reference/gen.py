#!/usr/bin/python3
"""Writes the PyTorch golden files that moxing's Go tests read.

    /usr/bin/python3 tools/reference/gen.py        # from the repository root

needs Debian's python3-torch (PyTorch 1.13, CPU) and rewrites
testdata/ops.json, testdata/nn.json and testdata/optim.json. The Go tests
never run Python; they read the committed files.

Every case records its inputs, the forward output, the upstream gradient w
(the seed for backward) and the gradient of sum(w * output) with respect to
every input that requires one. Inputs avoid the kinks of non-smooth ops (0 for
ReLU/abs, clamp bounds, ties for max) so that finite differences, the other
oracle, are meaningful on the same values.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "testdata")


def t(x):
    return {"shape": list(x.shape), "data": x.detach().reshape(-1).tolist()}


def randn(*shape, away=0.0):
    """N(0,1) values, pushed at least `away` from 0."""
    x = torch.randn(*shape)
    if away:
        x = torch.where(x.abs() < away, torch.sign(x + 1e-9) * (away + x.abs()), x)
    return x


def positive(*shape, lo=0.5, hi=2.0):
    return torch.rand(*shape) * (hi - lo) + lo


def case(name, op, fn, inputs, attrs=None, grad=None):
    """Runs fn on inputs; grad lists which inputs require a gradient (default all)."""
    grad = grad if grad is not None else [True] * len(inputs)
    xs = [x.clone().requires_grad_(g) for x, g in zip(inputs, grad)]
    out = fn(*xs)
    w = torch.randn(out.shape)
    out.backward(w)
    return {
        "name": name,
        "op": op,
        "attrs": attrs or {},
        "inputs": [dict(t(x), grad=g) for x, g in zip(inputs, grad)],
        "out": t(out),
        "upstream": t(w),
        "grads": [t(x.grad) if g else None for x, g in zip(xs, grad)],
    }


def ops_cases():
    C = []
    # Elementwise arithmetic with broadcasting.
    for name, f in [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul)]:
        C.append(case(f"{name}_same", name, f, [randn(2, 3), randn(2, 3)]))
        C.append(case(f"{name}_bias", name, f, [randn(2, 3, 4), randn(4)]))
        C.append(case(f"{name}_both", name, f, [randn(2, 1, 4), randn(3, 1)]))
        C.append(case(f"{name}_scalar", name, f, [randn(3, 2), randn(1)]))
        C.append(case(f"{name}_left", name, f, [randn(1, 3), randn(4, 2, 3)]))
    C.append(case("div_same", "div", torch.div, [randn(2, 3), positive(2, 3)]))
    C.append(case("div_both", "div", torch.div, [randn(2, 1, 4), -positive(3, 1)]))
    C.append(case("div_left", "div", torch.div, [positive(4), randn(3, 4, away=0.5)]))
    # Unary and scalar ops.
    C.append(case("neg", "neg", torch.neg, [randn(2, 3)]))
    C.append(case("add_scalar", "add_scalar", lambda x: x + 1.5, [randn(2, 3)], {"s": 1.5}))
    C.append(case("mul_scalar", "mul_scalar", lambda x: x * -0.75, [randn(2, 3)], {"s": -0.75}))
    C.append(case("exp", "exp", torch.exp, [randn(3, 4)]))
    C.append(case("log", "log", torch.log, [positive(3, 4)]))
    C.append(case("sqrt", "sqrt", torch.sqrt, [positive(3, 4)]))
    for p in [2.0, 3.0, 0.5, -1.5]:
        C.append(case(f"pow_{p}", "pow", lambda x, p=p: x ** p, [positive(3, 4)], {"p": p}))
    C.append(case("pow_3_neg", "pow", lambda x: x ** 3.0, [randn(3, 4)], {"p": 3.0}))
    C.append(case("abs", "abs", torch.abs, [randn(3, 4, away=0.1)]))
    x = randn(4, 5)
    x = torch.where((x - 0.5).abs() < 0.1, x + 0.25, x)
    x = torch.where((x + 0.7).abs() < 0.1, x - 0.25, x)
    C.append(case("clamp", "clamp", lambda x: torch.clamp(x, -0.7, 0.5), [x], {"lo": -0.7, "hi": 0.5}))
    # Activations.
    C.append(case("sigmoid", "sigmoid", torch.sigmoid, [randn(3, 4) * 3]))
    C.append(case("relu", "relu", torch.relu, [randn(3, 4, away=0.1)]))
    C.append(case("tanh", "tanh", torch.tanh, [randn(3, 4) * 2]))
    C.append(case("gelu", "gelu", lambda x: F.gelu(x, approximate="tanh"), [randn(3, 5) * 2]))
    C.append(case("softplus", "softplus", F.softplus, [randn(3, 4) * 5]))
    C.append(case("softplus_large", "softplus", F.softplus, [torch.tensor([[-100.0, -30.0, 30.0, 100.0]])]))
    for axis in [-1, 0, 1]:
        C.append(case(f"softmax_{axis}", "softmax", lambda x, a=axis: torch.softmax(x, a), [randn(2, 3, 4) * 3], {"axis": axis}))
        C.append(case(f"log_softmax_{axis}", "log_softmax", lambda x, a=axis: torch.log_softmax(x, a), [randn(2, 3, 4) * 3], {"axis": axis}))
    C.append(case("softmax_large", "softmax", lambda x: torch.softmax(x, -1), [torch.tensor([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -1001.0]])], {"axis": -1}))
    # Reductions.
    for axes, keep in [([], False), ([0], False), ([1], True), ([-1], False), ([0, 2], True), ([2, 0], False)]:
        sfx = "_".join(str(a) for a in axes) or "all"
        k = "_keep" if keep else ""
        dims = tuple(axes) if axes else tuple(range(3))
        C.append(case(f"sum_{sfx}{k}", "sum", lambda x, d=dims, kp=keep: x.sum(d, keepdim=kp), [randn(2, 3, 4)], {"axes": axes, "keep": keep}))
        C.append(case(f"mean_{sfx}{k}", "mean", lambda x, d=dims, kp=keep: x.mean(d, keepdim=kp), [randn(2, 3, 4)], {"axes": axes, "keep": keep}))
        C.append(case(f"max_{sfx}{k}", "max", lambda x, d=dims, kp=keep: torch.amax(x, d, keepdim=kp), [randn(2, 3, 4)], {"axes": axes, "keep": keep}))
        for corr in [0, 1]:
            C.append(case(f"var_{sfx}{k}_c{corr}", "var", lambda x, d=dims, kp=keep, c=corr: torch.var(x, d, unbiased=bool(c), keepdim=kp),
                          [randn(2, 3, 4)], {"axes": axes, "keep": keep, "correction": corr}))
    # Matrix products.
    C.append(case("matmul_2d", "matmul", torch.matmul, [randn(3, 4), randn(4, 5)], {"ta": False, "tb": False}))
    C.append(case("matmul_batched", "matmul", torch.matmul, [randn(2, 3, 3, 4), randn(2, 3, 4, 5)], {"ta": False, "tb": False}))
    C.append(case("matmul_shared_b", "matmul", torch.matmul, [randn(2, 3, 4), randn(4, 5)], {"ta": False, "tb": False}))
    C.append(case("matmul_shared_a", "matmul", torch.matmul, [randn(3, 4), randn(2, 4, 5)], {"ta": False, "tb": False}))
    for ta in [False, True]:
        for tb in [False, True]:
            def f(a, b, ta=ta, tb=tb):
                return torch.matmul(a.transpose(-1, -2) if ta else a, b.transpose(-1, -2) if tb else b)
            sa = (4, 3) if ta else (3, 4)
            sb = (5, 4) if tb else (4, 5)
            C.append(case(f"matmul_t{int(ta)}{int(tb)}", "matmul", f, [randn(*sa), randn(*sb)], {"ta": ta, "tb": tb}))
            C.append(case(f"matmul_batched_t{int(ta)}{int(tb)}", "matmul", f, [randn(2, *sa), randn(2, *sb)], {"ta": ta, "tb": tb}))
            C.append(case(f"matmul_shared_b_t{int(ta)}{int(tb)}", "matmul", f, [randn(2, *sa), randn(*sb)], {"ta": ta, "tb": tb}))
            C.append(case(f"matmul_shared_a_t{int(ta)}{int(tb)}", "matmul", f, [randn(*sa), randn(2, *sb)], {"ta": ta, "tb": tb}))
    # Shapes.
    C.append(case("reshape", "reshape", lambda x: x.reshape(4, -1), [randn(2, 3, 4)], {"shape": [4, -1]}))
    C.append(case("unsqueeze", "unsqueeze", lambda x: x.unsqueeze(1), [randn(2, 3)], {"axis": 1}))
    C.append(case("permute", "permute", lambda x: x.permute(2, 0, 1), [randn(2, 3, 4)], {"perm": [2, 0, 1]}))
    C.append(case("permute_4d", "permute", lambda x: x.permute(0, 2, 1, 3), [randn(2, 3, 4, 2)], {"perm": [0, 2, 1, 3]}))
    C.append(case("transpose", "transpose", lambda x: x.transpose(0, 2), [randn(2, 3, 4)], {"i": 0, "j": 2}))
    C.append(case("slice", "slice", lambda x: x[:, 1:3], [randn(2, 4, 3)], {"axis": 1, "start": 1, "end": 3}))
    C.append(case("slice_last", "slice", lambda x: x[..., 2:], [randn(2, 4, 3)], {"axis": -1, "start": 2, "end": 3}))
    C.append(case("concat_0", "concat", lambda a, b: torch.cat([a, b], 0), [randn(2, 3), randn(1, 3)], {"axis": 0}))
    C.append(case("concat_1", "concat", lambda a, b, c: torch.cat([a, b, c], 1), [randn(2, 1, 3), randn(2, 2, 3), randn(2, 3, 3)], {"axis": 1}))
    C.append(case("stack_0", "stack", lambda a, b: torch.stack([a, b], 0), [randn(2, 3), randn(2, 3)], {"axis": 0}))
    C.append(case("stack_last", "stack", lambda a, b: torch.stack([a, b], -1), [randn(2, 3), randn(2, 3)], {"axis": -1}))
    # Indexing.
    idx = [3, 0, 3, 1]
    C.append(case("index_select_0", "index_select", lambda x: x.index_select(0, torch.tensor(idx)), [randn(5, 3)], {"axis": 0, "idx": idx}))
    idx1 = [2, 2, 0]
    C.append(case("index_select_1", "index_select", lambda x: x.index_select(1, torch.tensor(idx1)), [randn(2, 4, 3)], {"axis": 1, "idx": idx1}))
    g1 = [[1], [0], [3]]
    C.append(case("gather_1", "gather", lambda x: x.gather(1, torch.tensor(g1)), [randn(3, 4)], {"axis": 1, "idx": sum(g1, [])}))
    g0 = [[1, 0, 1, 1], [0, 0, 1, 0], [1, 1, 1, 1]]
    C.append(case("gather_0", "gather", lambda x: x.gather(0, torch.tensor(g0)), [randn(2, 4)], {"axis": 0, "idx": sum(g0, [])}))
    cond = (torch.rand(3, 1, 4) > 0.5).float()
    C.append(case("where", "where", lambda c, a, b: torch.where(c != 0, a, b), [cond, randn(2, 1), randn(3, 2, 4)], grad=[False, True, True]))
    mask = torch.triu(torch.ones(3, 3), 1)
    C.append(case("masked_fill_causal", "masked_fill", lambda x, m: x.masked_fill(m != 0, -1e9), [randn(2, 3, 3), mask], {"value": -1e9}, grad=[True, False]))
    # A composition, as attention uses it: softmax of a causally masked q·kᵀ.
    C.append(case("causal_attention", "attention", lambda q, k, v, m: torch.softmax((q @ k.transpose(-1, -2) / 2.0).masked_fill(m != 0, float("-inf")), -1) @ v,
                  [randn(2, 3, 4), randn(2, 3, 4), randn(2, 3, 4), mask], {"scale": 0.5}, grad=[True, True, True, False]))
    C.extend(bag_cases())
    return C


def bag_cases():
    """embedding_bag, the sparse-by-dense product of the bag-of-n-grams
    models: sums and means of rows per bag (one bag empty, one id twice),
    and sums weighted per id. Its own seed, and the generator's state
    restored after, so that adding it changed no other case."""
    state = torch.get_rng_state()
    torch.manual_seed(2112)
    C = []
    ids, offsets = [3, 1, 3, 0, 5, 2, 2, 4], [0, 3, 3, 5]
    psw = [round(v, 4) for v in (torch.rand(len(ids)) * 2 - 0.5).tolist()]
    for mode in ["sum", "mean"]:
        C.append(case(f"embedding_bag_{mode}", "embedding_bag",
                      lambda w, mode=mode: F.embedding_bag(torch.tensor(ids), w, torch.tensor(offsets), mode=mode),
                      [randn(6, 4)], {"ids": ids, "offsets": offsets, "mean": mode == "mean"}))
    C.append(case("embedding_bag_weighted", "embedding_bag",
                  lambda w: F.embedding_bag(torch.tensor(ids), w, torch.tensor(offsets), mode="sum", per_sample_weights=torch.tensor(psw)),
                  [randn(6, 4)], {"ids": ids, "offsets": offsets, "mean": False, "weights": psw}))
    torch.set_rng_state(state)
    return C


def nn_cases():
    C = []
    # Losses.
    C.append(case("mse", "mse", F.mse_loss, [randn(4, 3), randn(4, 3)], grad=[True, False]))
    y = (torch.rand(6, 1) > 0.5).float()
    C.append(case("bce_logits", "bce_logits", F.binary_cross_entropy_with_logits, [randn(6, 1) * 4, y], grad=[True, False]))
    C.append(case("bce_logits_extreme", "bce_logits", F.binary_cross_entropy_with_logits,
                  [torch.tensor([[-80.0], [80.0], [30.0], [-30.0]]), torch.tensor([[1.0], [0.0], [1.0], [1.0]])], grad=[True, False]))
    for name, ignore, smooth in [("ce", -100, 0.0), ("ce_ignore", 2, 0.0), ("ce_smooth", -100, 0.1), ("ce_ignore_smooth", 2, 0.2)]:
        tgt = [0, 2, 4, 2, 1]
        C.append(case(name, "cross_entropy",
                      lambda x, ig=ignore, sm=smooth: F.cross_entropy(x, torch.tensor(tgt), ignore_index=ig, label_smoothing=sm),
                      [randn(5, 5) * 2], {"targets": tgt, "ignore": ignore, "smoothing": smooth}))
    # Layers, with given weights.
    lin_w, lin_b = randn(3, 4), randn(3)
    C.append(case("linear", "linear", lambda x, w, b: F.linear(x, w, b), [randn(2, 5, 4), lin_w, lin_b]))
    C.append(case("linear_nobias", "linear", lambda x, w: F.linear(x, w), [randn(6, 4), lin_w]))
    C.append(case("layer_norm", "layer_norm", lambda x, w, b: F.layer_norm(x, (6,), w, b, 1e-5),
                  [randn(2, 3, 6) * 2 + 1, randn(6), randn(6)], {"eps": 1e-5}))
    ids = [3, 1, 3, 0, 4, 4]
    C.append(case("embedding", "embedding", lambda w: F.embedding(torch.tensor(ids).reshape(2, 3), w), [randn(5, 4)], {"ids": ids, "shape": [2, 3]}))
    # A two-layer MLP end to end, as the examples build it.
    C.append(case("mlp", "mlp", lambda x, w1, b1, w2, b2: F.linear(torch.relu(F.linear(x, w1, b1)), w2, b2),
                  [randn(4, 3), randn(5, 3), randn(5), randn(2, 5), randn(2)]))
    # Class weights, with an ignored row.
    tgt, cw = [0, 2, 3, 2, 1, 3], [1.0, 2.5, 0.5, 1.5]
    C.append(case("ce_weighted", "weighted_cross_entropy",
                  lambda x: F.cross_entropy(x, torch.tensor(tgt), weight=torch.tensor(cw), ignore_index=1),
                  [randn(6, 4) * 2], {"targets": tgt, "ignore": 1, "weights": cw}))
    C.extend(vision_cases())
    C.extend(recurrent_cases())
    return C


def recurrent_cases():
    """nn.RNN, nn.LSTM and nn.GRU (batch_first) over several steps with given
    initial states. The output is the concatenation of output, h_n (and
    c_n), flattened, so that every result carries gradient; the inputs are
    x, h0 (, c0), then the parameters in state_dict order, whose names are
    an attribute."""
    C = []
    for name, mod, kw, B, T in [
        ("rnn_tanh", torch.nn.RNN, dict(input_size=3, hidden_size=4, num_layers=1), 2, 4),
        ("rnn_bi", torch.nn.RNN, dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True), 2, 3),
        ("lstm", torch.nn.LSTM, dict(input_size=3, hidden_size=5, num_layers=2), 2, 4),
        ("lstm_bi", torch.nn.LSTM, dict(input_size=4, hidden_size=3, num_layers=2, bidirectional=True), 3, 3),
        ("gru", torch.nn.GRU, dict(input_size=3, hidden_size=4, num_layers=2), 2, 4),
        ("gru_bi", torch.nn.GRU, dict(input_size=2, hidden_size=3, num_layers=1, bidirectional=True), 2, 5),
        # Right-padded rows of lengths 4, 2 and 3, as packed sequences.
        ("lstm_bi_packed", torch.nn.LSTM, dict(input_size=3, hidden_size=3, num_layers=2, bidirectional=True, lengths=[4, 2, 3]), 3, 4),
        ("gru_packed", torch.nn.GRU, dict(input_size=2, hidden_size=3, num_layers=1, lengths=[1, 3]), 2, 3),
        # Five rows: moxing packs the recurrent weight once and sums its
        # gradient over the steps in one product (tensor.Packed).
        ("lstm_b5", torch.nn.LSTM, dict(input_size=3, hidden_size=4, num_layers=2), 5, 4),
        ("gru_b5_bi", torch.nn.GRU, dict(input_size=3, hidden_size=4, num_layers=1, bidirectional=True), 5, 3),
    ]:
        lengths = kw.pop("lengths", None)
        m = mod(batch_first=True, **kw)
        names = [k for k, _ in m.named_parameters()]
        D = 2 if kw.get("bidirectional") else 1
        L, H = kw["num_layers"], kw["hidden_size"]
        lstm = mod is torch.nn.LSTM
        states = [randn(L * D, B, H) * 0.5] + ([randn(L * D, B, H) * 0.5] if lstm else [])

        def fn(x, *rest, m=m, lstm=lstm, names=names, lengths=lengths):
            ns = len(rest) - len(names)
            st, ws = rest[:ns], rest[ns:]
            # The module's forward reads its weights from _flat_weights (in
            # named_parameters order); pointing it at the case's leaves gives
            # their gradients.
            assert m._flat_weights_names == names
            m._flat_weights = list(ws)
            if lengths is None:
                out, hs = m(x, tuple(st) if lstm else st[0])
            else:
                packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
                out, hs = m(packed, tuple(st) if lstm else st[0])
                out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            hs = list(hs) if lstm else [hs]
            return torch.cat([out.reshape(-1)] + [h.reshape(-1) for h in hs])

        ws = [p.detach().clone() for p in m.parameters()]
        attrs = {"kind": {torch.nn.RNN: "rnn", torch.nn.LSTM: "lstm", torch.nn.GRU: "gru"}[mod],
                 "input": kw["input_size"], "hidden": H, "layers": L, "bidirectional": D == 2,
                 "names": names, "lengths": lengths}
        C.append(case(name, "recurrent", fn, [randn(B, T, kw["input_size"])] + states + ws, attrs))
    return C


def vision_cases():
    """Conv2d, pooling and BatchNorm2d, as torch.nn.functional computes them."""
    C = []
    for name, xs, ws, bias, kw in [
        ("conv2d", (2, 3, 6, 5), (4, 3, 3, 3), True, {}),
        ("conv2d_stride_pad", (2, 3, 7, 6), (4, 3, 3, 2), True, {"stride": (2, 1), "padding": (1, 2)}),
        ("conv2d_dilation", (1, 2, 7, 7), (3, 2, 3, 3), False, {"dilation": (2, 1), "padding": (2, 0)}),
        ("conv2d_groups", (2, 4, 5, 5), (6, 2, 3, 3), True, {"groups": 2, "padding": (1, 1)}),
        ("conv2d_depthwise_stride", (2, 3, 6, 6), (3, 1, 3, 3), True, {"groups": 3, "stride": (2, 2), "padding": (1, 1)}),
        ("conv2d_pointwise", (2, 4, 3, 3), (5, 4, 1, 1), True, {}),
        ("conv2d_batch", (9, 2, 5, 5), (3, 2, 2, 2), True, {"stride": (1, 2)}),
    ]:
        inputs = [randn(*xs), randn(*ws)] + ([randn(ws[0])] if bias else [])
        attrs = {"stride": list(kw.get("stride", (1, 1))), "padding": list(kw.get("padding", (0, 0))),
                 "dilation": list(kw.get("dilation", (1, 1))), "groups": kw.get("groups", 1)}
        C.append(case(name, "conv2d", lambda *a, kw=kw: F.conv2d(*a, **kw), inputs, attrs))
    for name, shape, k, st, pad in [("max_pool2d", (2, 3, 6, 6), (2, 2), (2, 2), (0, 0)),
                                     ("max_pool2d_overlap_pad", (1, 2, 7, 5), (3, 3), (2, 1), (1, 1))]:
        # Distinct values, well apart, so that no window has a tie.
        x = (torch.randperm(math.prod(shape)).float() * 0.1 - 3).reshape(shape)
        C.append(case(name, "max_pool2d", lambda x, k=k, st=st, pad=pad: F.max_pool2d(x, k, st, pad), [x],
                      {"kernel": list(k), "stride": list(st), "padding": list(pad)}))
    for name, shape, k, st, pad in [("avg_pool2d", (2, 3, 6, 6), (2, 2), (2, 2), (0, 0)),
                                     ("avg_pool2d_overlap_pad", (1, 2, 7, 5), (3, 2), (2, 1), (1, 1))]:
        C.append(case(name, "avg_pool2d", lambda x, k=k, st=st, pad=pad: F.avg_pool2d(x, k, st, pad), [randn(*shape)],
                      {"kernel": list(k), "stride": list(st), "padding": list(pad)}))
    # BatchNorm2d in training mode (batch statistics; the running statistics
    # after one step are attributes) and in evaluation mode.
    x, w, b = randn(4, 3, 3, 2) * 2 + 0.5, randn(3), randn(3)
    rm, rv = torch.zeros(3), torch.ones(3)
    C.append(case("batch_norm_train", "batch_norm_train",
                  lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5), [x, w, b],
                  {"eps": 1e-5, "momentum": 0.1}))
    C[-1]["attrs"].update(running_mean=rm.tolist(), running_var=rv.tolist())
    rm, rv = randn(3), positive(3)
    C.append(case("batch_norm_eval", "batch_norm_eval",
                  lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False, eps=1e-5), [randn(2, 3, 2, 2), w, b],
                  {"eps": 1e-5, "running_mean": rm.tolist(), "running_var": rv.tolist()}))
    # A small ConvNet end to end: conv, batch norm, tanh (smooth, for the
    # finite differences), average pool, linear.
    def convnet(x, cw, cb, bw, bb, lw, lb):
        h = F.avg_pool2d(torch.tanh(F.batch_norm(F.conv2d(x, cw, cb, padding=1), None, None, bw, bb, training=True)), 2)
        return F.linear(h.flatten(1), lw, lb)
    C.append(case("convnet", "convnet", convnet,
                  [randn(3, 1, 6, 6), randn(4, 1, 3, 3), randn(4), positive(4), randn(4), randn(2, 36), randn(2)]))
    return C


def optim_cases():
    """Runs each optimizer N steps on a fixed least-squares problem and
    records the parameters after every step."""
    torch.manual_seed(99)
    X, Y = torch.randn(8, 4), torch.randn(8, 3)
    W0, b0 = torch.randn(3, 4) * 0.5, torch.randn(3) * 0.5
    steps = 12

    def run(make_opt, sched=None, clip=None):
        W = W0.clone().requires_grad_()
        b = b0.clone().requires_grad_()
        opt = make_opt([W, b])
        lr_sched = sched(opt) if sched else None
        traj, lrs = [], []
        for _ in range(steps):
            loss = ((X @ W.t() + b - Y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_([W, b], clip)
            lrs.append(opt.param_groups[0]["lr"])
            if isinstance(opt, torch.optim.LBFGS):  # one iteration a call, no line search: the gradient just computed
                opt.step(lambda: ((X @ W.t() + b - Y) ** 2).mean())
            else:
                opt.step()
            if lr_sched:
                lr_sched.step()
            traj.append({"W": W.detach().reshape(-1).tolist(), "b": b.detach().reshape(-1).tolist()})
        return {"trajectory": traj, "lrs": lrs}

    def warmup_cosine(warm, decay, min_ratio):
        def f(step):  # the multiplier of the max LR at 0-based step
            if step < warm:
                return (step + 1) / warm
            if step >= decay:
                return min_ratio
            r = (step - warm) / (decay - warm)
            return min_ratio + 0.5 * (1 + math.cos(math.pi * r)) * (1 - min_ratio)
        return f

    cases = []
    add = lambda name, cfg, **kw: cases.append(dict(name=name, config=cfg, **run(**kw)))
    add("sgd", {"kind": "sgd", "lr": 0.1}, make_opt=lambda p: torch.optim.SGD(p, lr=0.1))
    add("sgd_momentum", {"kind": "sgd", "lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01},
        make_opt=lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01))
    add("sgd_nesterov", {"kind": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05},
        make_opt=lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05))
    add("adam", {"kind": "adam", "lr": 0.01}, make_opt=lambda p: torch.optim.Adam(p, lr=0.01))
    add("adam_wd", {"kind": "adam", "lr": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weight_decay": 0.1},
        make_opt=lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1))
    add("adamw", {"kind": "adamw", "lr": 0.01, "weight_decay": 0.1},
        make_opt=lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1))
    add("adamw_step_lr", {"kind": "adamw", "lr": 0.05, "weight_decay": 0.2, "schedule": {"kind": "step", "step_size": 4, "gamma": 0.5}},
        make_opt=lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.2),
        sched=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.5))
    add("adamw_warmup_cosine_clip", {"kind": "adamw", "lr": 0.05, "beta2": 0.95, "weight_decay": 0.1, "clip": 0.5,
                                     "schedule": {"kind": "warmup_cosine", "warmup": 3, "decay": 10, "min_lr": 0.005}},
        make_opt=lambda p: torch.optim.AdamW(p, lr=0.05, betas=(0.9, 0.95), weight_decay=0.1),
        sched=lambda o: torch.optim.lr_scheduler.LambdaLR(o, warmup_cosine(3, 10, 0.1)), clip=0.5)
    add("sgd_cosine", {"kind": "sgd", "lr": 0.1, "momentum": 0.5, "schedule": {"kind": "cosine", "t_max": 12, "min_lr": 0.01}},
        make_opt=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5),
        sched=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=12, eta_min=0.01))
    add("lbfgs", {"kind": "lbfgs", "lr": 1},
        make_opt=lambda p: torch.optim.LBFGS(p, lr=1, max_iter=1, history_size=10))
    add("lbfgs_short_history", {"kind": "lbfgs", "lr": 0.5, "history": 3},
        make_opt=lambda p: torch.optim.LBFGS(p, lr=0.5, max_iter=1, history_size=3))
    return {"X": t(X), "Y": t(Y), "W0": t(W0), "b0": t(b0), "cases": cases}


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.relpath(path, ROOT))


if __name__ == "__main__":
    torch.set_num_threads(1)
    meta = {"generator": "tools/reference/gen.py", "torch": torch.__version__}
    write("ops.json", dict(meta, cases=ops_cases()))
    write("nn.json", dict(meta, cases=nn_cases()))
    write("optim.json", dict(meta, **optim_cases()))
