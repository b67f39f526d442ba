#!/usr/bin/env python3
"""torch_bench.py: the benchmark's PyTorch peer (scripts/bench.sh runs it).

Trains the same recipes as imdb_bench on the same data: the padded arrays
imdb_export_arrays writes from our shard (same split, shuffle, padding and
truncation), with the same hyper-parameters (read from DIR/config.json):

  bag:  Embedding(V,E) -> mean over all T positions -> Linear(E,H) + ReLU
        -> Linear(H,1); the Keras text-classification tutorial.
  lstm: Embedding(V,E) -> LSTM(H) over the real tokens only (the padding is
        skipped with pack_padded_sequence, the Keras mask_zero semantics)
        -> Linear(H,1) on the final state.

Adam (eps 1e-7, Keras's), binary cross-entropy from logits, a new shuffle
every epoch, a validation pass after each. Keras initialisation where PyTorch
differs (embedding uniform +-0.05, Glorot-uniform dense kernels, zero biases).

  python3 tests/bench/torch_bench.py --arrays DIR --model bag [--epochs N] [--threads 1]
                                     [--max-batches N] [--max-val N]

--max-batches / --max-val time only the first N training batches of each
epoch and the first N validation reviews, and scale the times up to the
whole epoch (marked "extrapolated"): PyTorch's LSTM needs a minute or more
per epoch on this machine, longer than the whole suite should take.

Prints one JSON object: ms per epoch (train; validation), reviews per
second, the ms to score one padded review, test accuracy (bag only: a
recurrent model's 25,000-review test pass would cost more than the epoch),
and the peak resident memory (ru_maxrss; it includes PyTorch itself).
Figures only: nothing here asserts on time.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn


def load(arrays, split):
    x = np.load(os.path.join(arrays, f"{split}_x.npy"))
    y = np.load(os.path.join(arrays, f"{split}_y.npy"))
    return x, y


class Bag(nn.Module):
    def __init__(self, V, E, H):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.fc1 = nn.Linear(E, H)
        self.fc2 = nn.Linear(H, 1)

    def forward(self, x, lengths=None):
        return self.fc2(torch.relu(self.fc1(self.emb(x).mean(1)))).squeeze(1)


class Lstm(nn.Module):
    def __init__(self, V, E, H):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.lstm = nn.LSTM(E, H, batch_first=True)
        self.fc = nn.Linear(H, 1)

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.emb(x), lengths, batch_first=True,
                                                   enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.fc(h[-1]).squeeze(1)


def keras_init(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("emb"):
                p.uniform_(-0.05, 0.05)
            elif "bias" in name:
                p.zero_()
                if name.startswith("lstm.bias_ih"):  # unit_forget_bias
                    H = p.shape[0] // 4
                    p[H:2 * H] = 1.0
            elif name.startswith("lstm.weight_hh"):
                nn.init.orthogonal_(p)
            else:
                nn.init.xavier_uniform_(p)


def left_align(x):
    """Rows with the real tokens first (pack_padded_sequence wants them there),
    and their lengths. Padding (id 0) is only ever a prefix or a suffix."""
    lengths = (x != 0).sum(1)
    first = np.argmax(x != 0, axis=1)  # 'pre' padding: where the tokens start
    T = x.shape[1]
    idx = (np.arange(T)[None, :] + first[:, None]) % T
    aligned = np.take_along_axis(x, idx, 1)
    aligned[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return aligned, np.maximum(lengths, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arrays", required=True, help="folder written by imdb_export_arrays")
    ap.add_argument("--model", choices=["bag", "lstm"], required=True)
    ap.add_argument("--epochs", type=int, default=0, help="0: the config's")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-batches", type=int, default=0, help="time this many training batches per epoch, then extrapolate")
    ap.add_argument("--max-val", type=int, default=0, help="time this many validation reviews, then extrapolate")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    cfg = json.load(open(os.path.join(args.arrays, "config.json")))
    V, E, H, B = cfg["vocab_size"], cfg["embed_dim"], cfg["hidden"], cfg["batch_size"]
    epochs = args.epochs or cfg["epochs"]
    t0 = time.perf_counter()
    sets = {}
    for split in ("train", "val", "test"):
        x, y = load(args.arrays, split)
        if args.model == "lstm":
            x, lengths = left_align(x)
        else:
            lengths = np.full(len(x), x.shape[1])
        sets[split] = (torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y),
                       torch.from_numpy(lengths.astype(np.int64)))
    prep_ms = (time.perf_counter() - t0) * 1e3

    model = (Bag if args.model == "bag" else Lstm)(V, E, H)
    keras_init(model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]),
                           eps=cfg["eps"])
    loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(cfg["seed"])

    def evaluate(split, limit=0):
        x, y, lengths = sets[split]
        if limit:
            x, y, lengths = x[:limit], y[:limit], lengths[:limit]
        model.eval()
        loss_sum, correct = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(x), B):
                z = model(x[i:i + B], lengths[i:i + B])
                loss_sum += float(nn.functional.binary_cross_entropy_with_logits(
                    z, y[i:i + B], reduction="sum"))
                correct += int(((z > 0).float() == y[i:i + B]).sum())
        model.train()
        return loss_sum / len(x), correct / len(x)

    xt, yt, lt = sets["train"]
    nval = len(sets["val"][0])
    train_n = min(len(xt), args.max_batches * B) if args.max_batches else len(xt)
    val_n = min(nval, args.max_val) if args.max_val else nval
    train_ms, val_ms, history = [], [], []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(xt), generator=gen)
        loss_sum, correct = 0.0, 0
        for i in range(0, train_n, B):
            idx = perm[i:i + B]
            opt.zero_grad()
            z = model(xt[idx], lt[idx])
            loss = loss_fn(z, yt[idx])
            loss.backward()
            opt.step()
            loss_sum += float(loss) * len(idx)
            correct += int(((z > 0).float() == yt[idx]).sum())
        t1 = time.perf_counter()
        val_loss, val_acc = evaluate("val", val_n)
        t2 = time.perf_counter()
        train_ms.append((t1 - t0) * 1e3 * len(xt) / train_n)
        val_ms.append((t2 - t1) * 1e3 * nval / val_n)
        history.append({"loss": loss_sum / train_n, "acc": correct / train_n,
                        "val_loss": val_loss, "val_acc": val_acc})
        print(f"torch_bench: epoch {epoch + 1}/{epochs} train {train_ms[-1]:.0f} ms, "
              f"validation {val_ms[-1]:.0f} ms, val_acc {val_acc:.4f}", file=sys.stderr)
    test_acc = evaluate("test")[1] if args.model == "bag" else None

    # Scoring one review: the longest padded test review of at most 250
    # tokens (no tokenizer: ids in, probability out).
    xs, _, ls = sets["test"]
    pick = int(torch.argmax(torch.where(ls <= 250, ls, torch.zeros_like(ls))))
    one, one_len = xs[pick:pick + 1], ls[pick:pick + 1]
    model.eval()
    times = []
    with torch.no_grad():
        for _ in range(20):
            torch.sigmoid(model(one, one_len))
        deadline = time.perf_counter() + 1.0
        while len(times) < 2000 and time.perf_counter() < deadline:
            s = time.perf_counter()
            float(torch.sigmoid(model(one, one_len)))
            times.append((time.perf_counter() - s) * 1e3)

    total = sum(train_ms) + sum(val_ms)
    out = {
        "runtime": "pytorch", "version": torch.__version__, "threads": torch.get_num_threads(),
        "model": args.model, "epochs": epochs, "train": len(xt), "val": nval,
        "extrapolated": (f"from {train_n} training and {val_n} validation reviews per epoch"
                         if train_n < len(xt) or val_n < nval else None),
        "prepare_ms": prep_ms,
        "train_ms_per_epoch": statistics.median(train_ms), "val_ms_per_epoch": statistics.median(val_ms),
        "epoch_ms": statistics.median([a + b for a, b in zip(train_ms, val_ms)]),
        "total_ms": total,
        "reviews_per_s": (len(xt) + nval) * epochs / total * 1e3,
        "score_ms": statistics.median(times), "score_tokens": int(one_len[0]),
        "test_acc": test_acc, "history": history,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
