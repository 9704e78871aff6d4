"""Word and character error rates (jiwer) per test group.

References and hypotheses are compared after :func:`~seqmask.data.text.normalize_text`.
Rates are corpus-level: total edits over total reference words (characters),
not a mean of per-utterance rates. Utterances whose normalised reference is
empty have no defined rate: they are left out and counted as ``empty_refs``;
a group with no other utterance has rates ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jiwer

from seqmask.data.text import normalize_text
from seqmask.experiment.tables import ALL, Metric

WER = Metric("wer", "WER %")
CER = Metric("cer", "CER %")
METRICS = (WER, CER)


def error_rates(refs: Mapping[str, str], hyps: Mapping[str, str]) -> dict[str, Any]:
    """``{"wer", "cer", "utterances", "words", "empty_refs"}`` of ``hyps`` against ``refs`` (same ids).

    ``utterances`` and ``words`` count the scored utterances and their reference words.
    """
    _check_same_ids(refs, hyps)
    pairs = [(normalize_text(refs[uid]), normalize_text(hyps[uid])) for uid in sorted(refs)]
    scored = [(ref, hyp) for ref, hyp in pairs if ref]
    rates: dict[str, Any] = {"wer": None, "cer": None}
    if scored:
        references, hypotheses = [ref for ref, _ in scored], [hyp for _, hyp in scored]
        rates = {"wer": jiwer.wer(references, hypotheses), "cer": jiwer.cer(references, hypotheses)}
    words = sum(len(ref.split()) for ref, _ in scored)
    return {**rates, "utterances": len(scored), "words": words, "empty_refs": len(pairs) - len(scored)}


def _check_same_ids(refs: Mapping[str, str], hyps: Mapping[str, str]) -> None:
    """Raise ``ValueError`` listing the ids only one side has."""
    no_hyp, no_ref = sorted(set(refs) - set(hyps)), sorted(set(hyps) - set(refs))
    if no_hyp or no_ref:
        raise ValueError(
            f"expected hypotheses for exactly the reference ids, found {len(no_hyp)} references without a hypothesis "
            f"{no_hyp[:10]} and {len(no_ref)} hypotheses without a reference {no_ref[:10]}"
        )


def evaluate_groups(
    refs: Mapping[str, str], hyps: Mapping[str, str], groups: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """:func:`error_rates` of every group (``groups`` maps utterance id -> group, e.g. ``"test_matched/fsdd"``) and of
    ``"all"``."""
    _check_same_ids(refs, hyps)
    ungrouped = sorted(set(refs) - set(groups))
    if ungrouped:
        raise ValueError(f"expected a group for every reference id, found {len(ungrouped)} without: {ungrouped[:10]}")
    members: dict[str, list[str]] = {}
    for uid in refs:
        members.setdefault(groups[uid], []).append(uid)
    results = {
        group: error_rates({u: refs[u] for u in ids}, {u: hyps[u] for u in ids})
        for group, ids in sorted(members.items())
    }
    return {**results, ALL: error_rates(refs, hyps)}
