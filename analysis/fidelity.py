"""What a sampler is told about a trial stopped at a rung: its accuracy there, mapped to the full-fidelity scale.

A trial stopped after ``t`` epochs has an accuracy that is not comparable with trials trained for all ``T``
epochs: told raw, every stopped trial would sit below every finished one, and since early-epoch accuracy
favours large models, the sampler would learn "cheap = bad". Told as pruned, NSGA-II never counts it towards
a generation and TPE ranks it below every complete trial. So the study tells it COMPLETE, with the accuracy it
would probably have reached, estimated from the trials that did go on:

    ratio   = median over calibration pairs of  (1 - acc_T) / (1 - acc_t)      (remaining error kept)
    told    = 1 - (1 - acc_t) * ratio                                           (clipped to [0, 1])

where a calibration pair is ``(acc_t, acc_T)`` of a trial that trained past epoch ``t`` to the end (warm-start
references included: they are trained to full fidelity). The remaining-error ratio suits accuracies (the
estimate stays in [0, 1] and keeps its order: the map is increasing in ``acc_t``, so two stopped trials keep
their relative order and the cost objectives are told unchanged). With no pair yet the ratio is 1 (the rung
accuracy is told as measured: pessimistic, never optimistic). Error ratios of pairs whose rung accuracy is
1 are undefined and skipped.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

CORRECTION_RULE = ("stopped trials are told COMPLETE with 1 - (1 - acc_t) x median((1 - acc_T) / (1 - acc_t)) "
                   "over trials that trained past epoch t to the last epoch T (ratio 1 without such trials)")


def error_ratio(pairs: Iterable[Sequence[float]]) -> float:
    """Median remaining-error ratio ``(1 - acc_T) / (1 - acc_t)`` over ``pairs`` of (acc_t, acc_T); 1.0 when
    there is no usable pair."""
    ratios = [(1.0 - final) / (1.0 - early) for early, final in pairs
              if np.isfinite(early) and np.isfinite(final) and early < 1.0]
    return float(np.median(ratios)) if ratios else 1.0


def corrected_accuracy(accuracy: float, pairs: Iterable[Sequence[float]]) -> float:
    """The full-fidelity accuracy a trial stopped at ``accuracy`` (after t epochs) is told as, from the
    calibration ``pairs`` (acc_t, acc_T) of trials that went on (see the module docstring)."""
    ratio = max(0.0, error_ratio(pairs))
    return float(min(1.0, max(0.0, 1.0 - (1.0 - float(accuracy)) * ratio)))


def calibration_pairs(histories: Iterable[Mapping[int, float]], epoch: int, final_epoch: int) -> list[tuple]:
    """``(acc at epoch, acc at final_epoch)`` of every history (epoch -> accuracy) that has both."""
    out = []
    for h in histories:
        early, final = h.get(epoch), h.get(final_epoch)
        if early is not None and final is not None and np.isfinite(early) and np.isfinite(final):
            out.append((float(early), float(final)))
    return out
