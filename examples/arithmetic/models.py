"""The two models of seed 003, in PyTorch: a token-only baseline and the hybrid.

**Token-only** (:class:`TokenOnlyModel`): a small decoder-only character transformer. It reads
``<bos> 12+7*3 <sep>`` and writes the answer one character at a time (greedy), ``33<eos>``.
Numbers are just digits to it. Decoding is constrained to a well-formed number first (optional
minus, digits, optional decimals; then, for units, free text), so every answer can be scored.

**Hybrid** (:class:`HybridModel`): every numeric span of the input is one ``<num>`` token
whose value goes through the algebraic embedding of embedding.py, projected to the hidden size
by a learned linear layer (the *value stream*); characters that are not numbers stay character
tokens. Each token also gets a type embedding (number, operator, unit, other) that routes it.
A transformer over the tokens (the *router*) sees the types, characters, positions and each
token's left neighbour, never a magnitude, and decides how the values combine:

* arithmetic: each number's role, from the operator on its left: ``+`` or ``-`` (it starts
  a new additive term, with that sign) or ``*`` or ``/`` (it multiplies or divides the current
  term). A term's value is computed in the log part of the embedding (log-magnitudes add,
  signs multiply), mapped back to the linear part, and the terms are added there; the result
  is read off the linear part. No role is ever given in training: the loss marginalises over
  every assignment of roles, weighting each by how close its value is to the answer (a latent
  parse); at inference each number takes its most likely role;
* units: each unit gets a learned log10 scale and offset (``y = 10^(s1 - s2) (x + o1) - o2``,
  computed in the log and linear parts), the output unit is classified, and ``can_add`` is a
  yes/no head on the two units' states.

Because the projection is linear, the embedding's algebra survives it, and the value stream is
read back exactly; what the model learns is the routing, which depends on the structure of the
input only. That is why it extrapolates to magnitudes it never saw.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from examples.arithmetic import embedding as emb
from examples.arithmetic.config import MAX_LEN
from examples.arithmetic.data import UNIT_NAMES, UNITS, format_number
from torch import nn

PAD, BOS, EOS, SEP, NUM = 0, 1, 2, 3, 4
SPECIALS = 5
VOCAB = SPECIALS + 95  # printable ASCII 32..126
OTHER, NUMBER, OPERATOR, UNIT = 0, 1, 2, 3
NUMBER_SPAN = re.compile(r"\d+(?:\.\d+)?")

# A number's role in an expression, from the operator on its left:
# (starts a new additive term, that term's sign, exponent of the number within its term).
ROLES = ("+", "-", "*", "/")
ROLE_TABLE = torch.tensor(
    [[1.0, 1.0, 1.0], [1.0, -1.0, 1.0], [0.0, 1.0, 1.0], [0.0, 1.0, -1.0]], dtype=torch.float64
)


def char_id(c: str) -> int:
    code = ord(c)
    return SPECIALS + (code - 32 if 32 <= code <= 126 else ord("?") - 32)


def id_char(i: int) -> str:
    return chr(i - SPECIALS + 32) if i >= SPECIALS else ""


def _sinusoid(length: int, dim: int) -> torch.Tensor:
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : dim // 2]
    return table


def _encoder(hidden: int, layers: int, heads: int, dropout: float) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        hidden, heads, 4 * hidden, dropout, batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


def slog(x: torch.Tensor) -> torch.Tensor:
    """Signed log, the space both losses compare numbers in: relative errors weigh the same at
    every magnitude."""
    return torch.sign(x) * torch.log1p(torch.abs(x))


# ------------------------------------------------------------------ token-only


class TokenOnlyModel(nn.Module):
    """Decoder-only character transformer (causal self-attention over prompt and answer)."""

    kind = "token_only"
    positions: torch.Tensor

    def __init__(self, hidden: int, layers: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.hidden = hidden
        self.embed = nn.Embedding(VOCAB, hidden, padding_idx=PAD)
        self.register_buffer("positions", _sinusoid(MAX_LEN, hidden), persistent=False)
        self.encoder = _encoder(hidden, layers, heads, dropout)
        self.norm = nn.LayerNorm(hidden)
        self.out = nn.Linear(hidden, VOCAB)

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        rows, length = tokens.shape
        # Causal, and padding is never attended to, except by itself: a left-padded prompt's
        # padding would otherwise have no key at all, and its NaN would leak into the others.
        allowed = (
            torch.ones(length, length, dtype=torch.bool).tril()[None] & (tokens != PAD)[:, None, :]
        )
        allowed |= torch.eye(length, dtype=torch.bool)[None]
        mask = torch.zeros(rows, length, length).masked_fill(~allowed, float("-inf"))
        heads = self.encoder.layers[0].self_attn.num_heads
        x = self.embed(tokens) + self.positions[positions]
        x = self.encoder(x, mask=mask.repeat_interleave(heads, dim=0))
        out: torch.Tensor = self.out(self.norm(x))
        return out


def _prompt(text: str) -> list[int]:
    return [BOS, *(char_id(c) for c in text), SEP]


def token_only_batch(rows: Sequence[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``prompt + answer + <eos>`` and the next-token targets (-100 = no loss:
    only the answer and its end are learned)."""
    sequences, targets = [], []
    for row in rows:
        prompt = _prompt(str(row["input"]))
        answer = [char_id(c) for c in str(row["target"])] + [EOS]
        seq = (prompt + answer)[:MAX_LEN]
        sequences.append(seq[:-1])
        targets.append(([-100] * (len(prompt) - 1) + answer)[: len(seq) - 1])
    width = max(len(s) for s in sequences)
    tokens = torch.tensor([s + [PAD] * (width - len(s)) for s in sequences])
    labels = torch.tensor([t + [-100] * (width - len(t)) for t in targets])
    return tokens, labels


def token_only_loss(model: TokenOnlyModel, rows: Sequence[dict[str, Any]]) -> torch.Tensor:
    tokens, labels = token_only_batch(rows)
    positions = torch.arange(tokens.shape[1]).expand_as(tokens)
    logits = model(tokens, positions)
    return nn.functional.cross_entropy(
        logits.reshape(-1, VOCAB), labels.reshape(-1), ignore_index=-100
    )


_DIGITS = [char_id(c) for c in "0123456789"]
_ANY = [i for i in range(SPECIALS, VOCAB)] + [EOS]


def _allowed(state: str, units: bool) -> list[int]:
    """The grammar of an answer: a number (optional minus, digits, optional decimals), then
    for units a space and free text."""
    more = [char_id(" ")] if units else []
    return {
        "start": [char_id("-"), *_DIGITS],
        "sign": _DIGITS,
        "int": [*_DIGITS, char_id("."), EOS, *more],
        "dot": _DIGITS,
        "frac": [*_DIGITS, EOS, *more],
        "free": _ANY,
    }[state]


def _next_state(state: str, token: int) -> str:
    c = id_char(token)
    if state in ("start", "sign"):
        return "sign" if c == "-" else "int"
    if state == "int":
        return "dot" if c == "." else "int" if c.isdigit() else "free"
    if state in ("dot", "frac"):
        return "frac" if c.isdigit() else "free"
    return "free"


@torch.no_grad()
def token_only_predict(
    model: TokenOnlyModel, rows: Sequence[dict[str, Any]], max_answer: int, batch: int = 256
) -> list[str]:
    """Greedy, constrained decoding; prompts are left-padded and positions start at each
    prompt's first token."""
    model.eval()
    out: list[str] = []
    allowed_cache: dict[tuple[str, bool], torch.Tensor] = {}
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        prompts = [_prompt(str(r["input"])) for r in chunk]
        width = max(len(p) for p in prompts)
        pads = torch.tensor([width - len(p) for p in prompts])
        tokens = torch.tensor([[PAD] * (width - len(p)) + p for p in prompts])
        units = [str(r["input"]).startswith("convert") for r in chunk]
        states = ["free" if str(r["input"]).startswith("can_add") else "start" for r in chunk]
        done = [False] * len(chunk)
        answers: list[list[int]] = [[] for _ in chunk]
        for _ in range(max_answer):
            length = tokens.shape[1]
            if length >= MAX_LEN:
                break
            positions = (torch.arange(length)[None, :] - pads[:, None]).clamp(min=0)
            logits = model(tokens, positions)[:, -1]
            picks = []
            for i, row_logits in enumerate(logits):
                if done[i]:
                    picks.append(PAD)
                    continue
                key = (states[i], units[i])
                if key not in allowed_cache:
                    mask = torch.full((VOCAB,), float("-inf"))
                    mask[_allowed(*key)] = 0.0
                    allowed_cache[key] = mask
                token = int(torch.argmax(row_logits + allowed_cache[key]))
                if token == EOS:
                    done[i] = True
                else:
                    answers[i].append(token)
                    states[i] = _next_state(states[i], token)
                picks.append(token)
            tokens = torch.cat([tokens, torch.tensor(picks)[:, None]], dim=1)
            if all(done):
                break
        out.extend("".join(id_char(t) for t in a) for a in answers)
    return out


# ------------------------------------------------------------------ hybrid


def hybrid_tokens(text: str, task: str) -> list[tuple[int, int, float, int]]:
    """``(token id, type, value, unit slot)`` per token: each numeric span is one ``<num>``
    token carrying its value; other characters are character tokens. For units, the characters
    of the first and second unit word get slot 1 and 2."""
    out: list[tuple[int, int, float, int]] = []
    if task == "units":
        slot = 0
        for w, word in enumerate(text.split(" ")):
            if w:
                out.append((char_id(" "), OTHER, 0.0, 0))
            if NUMBER_SPAN.fullmatch(word):
                out.append((NUM, NUMBER, float(word), 0))
            elif word in UNITS:
                slot += 1
                out.extend((char_id(c), UNIT, 0.0, slot) for c in word)
            else:
                kind = OPERATOR if word == "+" else OTHER
                out.extend((char_id(c), kind, 0.0, 0) for c in word)
        return out
    position = 0
    for match in NUMBER_SPAN.finditer(text):
        out.extend(
            (char_id(c), OPERATOR if c in "+-*/" else OTHER, 0.0, 0)
            for c in text[position : match.start()]
        )
        out.append((NUM, NUMBER, float(match.group()), 0))
        position = match.end()
    out.extend((char_id(c), OPERATOR if c in "+-*/" else OTHER, 0.0, 0) for c in text[position:])
    return out


class HybridBatch:
    """Tensors of one batch for :class:`HybridModel`."""

    def __init__(self, rows: Sequence[dict[str, Any]], task: str) -> None:
        encoded = [hybrid_tokens(str(r["input"]), task) for r in rows]
        width = max(len(e) for e in encoded)

        def column(k: int, fill: float) -> list[list[Any]]:
            return [[t[k] for t in e] + [fill] * (width - len(e)) for e in encoded]

        self.tokens = torch.tensor(column(0, PAD), dtype=torch.long)
        self.types = torch.tensor(column(1, OTHER), dtype=torch.long)
        self.values = torch.tensor(column(2, 0.0), dtype=torch.float64)
        self.slots = torch.tensor(column(3, 0), dtype=torch.long)
        self.previous = torch.cat([torch.full((len(rows), 1), BOS), self.tokens[:, :-1]], dim=1)
        self.rows = rows


class HybridModel(nn.Module):
    """Router transformer + value stream through the algebraic embedding (see module doc)."""

    kind = "hybrid"
    positions: torch.Tensor
    linear_dir: torch.Tensor
    log_dir: torch.Tensor
    sign_dir: torch.Tensor

    def __init__(self, hidden: int, layers: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.hidden = hidden
        self.embed = nn.Embedding(VOCAB, hidden, padding_idx=PAD)
        self.previous = nn.Embedding(VOCAB, hidden, padding_idx=PAD)
        self.types = nn.Embedding(4, hidden)
        self.register_buffer("positions", _sinusoid(MAX_LEN, hidden), persistent=False)
        self.encoder = _encoder(hidden, layers, heads, dropout)
        self.norm = nn.LayerNorm(hidden)
        # The number embedding (128-d) projected to the hidden size: the value stream.
        self.project = nn.Linear(emb.DIM, hidden, bias=False)
        self.route = nn.Linear(hidden, len(ROLES))  # arithmetic: each number's role
        # units: a unit's log10 scale and offset (x 100), from its own characters only, so a
        # unit has one scale whatever it is paired with (unseen pairs then convert right too).
        self.scale = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.offset = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.unit_out = nn.Linear(hidden, len(UNIT_NAMES))
        self.can_add = nn.Sequential(nn.Linear(4 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.register_buffer(
            "linear_dir",
            torch.tensor(np.concatenate([emb.A, np.zeros(emb.DIM - emb.LINEAR_DIM)])),
            persistent=False,
        )
        log_dir = np.concatenate([np.zeros(emb.LINEAR_DIM), emb.B, [0.0]])
        sign_dir = np.zeros(emb.DIM)
        sign_dir[-1] = 1.0
        self.register_buffer("log_dir", torch.tensor(log_dir), persistent=False)
        self.register_buffer("sign_dir", torch.tensor(sign_dir), persistent=False)

    # The value stream, in float64: embed -> project -> combine -> read back exactly.
    def _projected(self, direction: torch.Tensor) -> torch.Tensor:
        return self.project.weight.double() @ direction  # (hidden,)

    def _to_linear(self, values: torch.Tensor) -> torch.Tensor:
        return values[..., None] * self._projected(self.linear_dir)

    def _from_linear(self, hidden: torch.Tensor) -> torch.Tensor:
        d = self._projected(self.linear_dir)
        return hidden @ d / (d @ d)

    def _to_log(self, values: torch.Tensor) -> torch.Tensor:
        logs = torch.clamp(torch.log10(values.abs().clamp(min=1e-300)), min=emb.LOG_FLOOR)
        return logs[..., None] * self._projected(self.log_dir)

    def _from_log(self, hidden: torch.Tensor) -> torch.Tensor:
        d = self._projected(self.log_dir)
        return hidden @ d / (d @ d)

    def router(self, batch: HybridBatch) -> torch.Tensor:
        length = batch.tokens.shape[1]
        x = (
            self.embed(batch.tokens)
            + self.previous(batch.previous)
            + self.types(batch.types)
            + self.positions[:length]
        )
        states: torch.Tensor = self.norm(self.encoder(x, src_key_padding_mask=batch.tokens == PAD))
        return states

    def _numbers(self, batch: HybridBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each row's numbers in order, as (rows, count): role log-probabilities, values, and
        which entries are real numbers (the rest pad)."""
        logits = self.route(self.router(batch)).double()
        numbers = batch.types == NUMBER
        count = int(numbers.sum(1).max())
        order = torch.argsort((~numbers).to(torch.int8), dim=1, stable=True)[:, :count]
        valid = torch.gather(numbers, 1, order)
        picked = torch.gather(logits, 1, order[..., None].expand(-1, -1, len(ROLES)))
        return torch.log_softmax(picked, dim=-1), torch.gather(batch.values, 1, order), valid

    def combine(
        self, values: torch.Tensor, valid: torch.Tensor, roles: torch.Tensor
    ) -> torch.Tensor:
        """The value of each row given every number's role, computed in the value stream:
        products and quotients in the log part, sums in the linear part."""
        # The first number has no operator on its left: it opens the first term, with a plus.
        roles = torch.cat([torch.zeros_like(roles[:, :1]), roles[:, 1:]], dim=1)
        new_term, sign, power = ROLE_TABLE[roles].unbind(-1)
        new_term = torch.where(valid, new_term, torch.ones_like(new_term))
        count = values.shape[1]
        # member[i, j]: number j belongs to the term that number i starts (j >= i).
        member = torch.zeros(values.shape[0], count, count, dtype=torch.float64)
        for i in range(count):
            run = torch.ones_like(new_term[:, 0])
            for j in range(i, count):
                if j > i:
                    run = run * (1 - new_term[:, j])
                member[:, i, j] = run * valid[:, j]
        # The log part: log-magnitudes add (divisors subtract); a zero factor zeroes the term.
        logs = self._to_log(values) * power[..., None]  # (rows, count, hidden)
        term_log = self._from_log(member @ logs).clamp(-30, 30)
        zero = (values == 0).double()
        alive = torch.prod(1 - member * zero[:, None, :], dim=2)
        terms = sign * alive * torch.pow(10.0, term_log) * new_term * valid
        # The linear part: the terms add.
        return self._from_linear(self._to_linear(terms).sum(1))

    def arithmetic(self, batch: HybridBatch) -> torch.Tensor:
        """The predicted value of each expression: every number takes its most likely role."""
        return self.arithmetic_with_roles(batch)[0]

    def arithmetic_with_roles(self, batch: HybridBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """The predicted values and whether each is an integer by the predicted roles: integer
        operands and no number routed to ``/`` (the answer is then printed as an integer)."""
        log_probs, values, valid = self._numbers(batch)
        roles = torch.argmax(log_probs, dim=-1)
        divides = ((roles == ROLES.index("/")) & valid)[:, 1:].any(dim=1)
        integral = ((values == values.round()) | ~valid).all(dim=1)
        return self.combine(values, valid, roles), integral & ~divides

    def arithmetic_loss(self, batch: HybridBatch, target: torch.Tensor) -> torch.Tensor:
        """Minus the log-probability of the roles whose value is the answer, summed over every
        assignment of roles (4^(numbers - 1) of them; a latent parse, no role is ever given):
        an assignment counts by how close its value is: exp(-|slog(value) - slog(target)| / 0.05).
        """
        log_probs, values, valid = self._numbers(batch)
        rows, count = values.shape
        choices = torch.tensor(list(itertools.product(range(len(ROLES)), repeat=count - 1)))
        choices = torch.cat([torch.zeros(len(choices), 1, dtype=torch.long), choices], dim=1)
        n = len(choices)
        roles = choices.repeat(rows, 1)  # (rows * n, count)
        got = self.combine(
            values.repeat_interleave(n, 0), valid.repeat_interleave(n, 0), roles
        ).view(rows, n)
        distance = (slog(got) - slog(target)[:, None]).abs()
        picked = torch.gather(log_probs, 2, choices.T[None].expand(rows, -1, -1)).transpose(1, 2)
        # Only real numbers after the first carry a choice.
        mask = valid.clone()
        mask[:, 0] = False
        score = (picked * mask[:, None, :]).sum(2) - distance / 0.05
        return -(torch.logsumexp(score, dim=1)).mean()

    def units(self, batch: HybridBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        states = self.router(batch)
        pooled = []
        for slot in (1, 2):
            weight = (batch.slots == slot).float()
            pooled.append(
                (states * weight[..., None]).sum(1) / weight.sum(1, keepdim=True).clamp(min=1)
            )
        first, second = pooled
        spelled = []
        for slot in (1, 2):
            chars = self.embed(batch.tokens) * (batch.slots == slot).float()[..., None]
            spelled.append(chars.sum(1))
        numbers = batch.types == NUMBER
        value = torch.where(numbers, batch.values, torch.zeros_like(batch.values))
        value = value.gather(1, torch.argmax(numbers.to(torch.int8), dim=1, keepdim=True))[:, 0]
        scale = (self.scale(spelled[0]) - self.scale(spelled[1])).double()[:, 0]
        offset_in = 100 * self.offset(spelled[0]).double()[:, 0]
        offset_out = 100 * self.offset(spelled[1]).double()[:, 0]
        shifted = self._from_linear(self._to_linear(value) + self._to_linear(offset_in))
        magnitude = torch.pow(10.0, (self._from_log(self._to_log(shifted)) + scale).clamp(-30, 30))
        converted = torch.sign(shifted) * magnitude
        result = self._from_linear(self._to_linear(converted) - self._to_linear(offset_out))
        can_add = self.can_add(
            torch.cat([first, second, first * second, (first - second).abs()], dim=1)
        )[:, 0]
        return result, self.unit_out(second), can_add


def hybrid_loss(model: HybridModel, rows: Sequence[dict[str, Any]], task: str) -> torch.Tensor:
    batch = HybridBatch(rows, task)
    if task == "arithmetic":
        target = torch.tensor([float(r["value"]) for r in rows], dtype=torch.float64)
        return model.arithmetic_loss(batch, target).float()
    result, unit_logits, can_add = model.units(batch)
    convert = torch.tensor([r["kind"] == "convert" for r in rows])
    loss = torch.zeros((), dtype=torch.float32)
    if convert.any():
        target = torch.tensor([float(r.get("value", 0.0)) for r in rows], dtype=torch.float64)
        loss = loss + (slog(result) - slog(target)).abs()[convert].mean().float()
        units = torch.tensor(
            [UNIT_NAMES.index(r["unit"]) if r["kind"] == "convert" else 0 for r in rows]
        )
        loss = loss + nn.functional.cross_entropy(unit_logits[convert], units[convert])
    if (~convert).any():
        labels = torch.tensor([float(bool(r.get("label"))) for r in rows])
        loss = loss + nn.functional.binary_cross_entropy_with_logits(
            can_add[~convert], labels[~convert]
        )
    return loss


@torch.no_grad()
def hybrid_predict(
    model: HybridModel, rows: Sequence[dict[str, Any]], task: str, batch: int = 256
) -> list[str]:
    model.eval()
    out: list[str] = []
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        b = HybridBatch(chunk, task)
        if task == "arithmetic":
            # Whether to print an integer follows from the learned roles, never from the text.
            values, integral = model.arithmetic_with_roles(b)
            for value, whole in zip(values.tolist(), integral.tolist(), strict=True):
                exact = whole and math.isfinite(value)
                out.append(str(round(value)) if exact else format_number(value))
            continue
        result, unit_logits, can_add = model.units(b)
        for i, row in enumerate(chunk):
            if str(row["input"]).startswith("can_add"):
                out.append("yes" if float(can_add[i]) > 0 else "no")
            else:
                unit = UNIT_NAMES[int(torch.argmax(unit_logits[i]))]
                out.append(f"{format_number(float(result[i]))} {unit}")
    return out


def build(kind: str, hidden: int, layers: int, heads: int, dropout: float) -> nn.Module:
    cls = TokenOnlyModel if kind == "token_only" else HybridModel
    return cls(hidden, layers, heads, dropout)
