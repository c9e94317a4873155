"""The triage benchmark runs and reports per-message percentiles (the target is checked by
`make bench` on a quiet machine, not here: CI machines are shared and noisy)."""

from __future__ import annotations

from bench.triage_bench import MESSAGES, run


def test_bench_reports_percentiles() -> None:
    result = run(n=40)
    assert result["n"] == 40
    for key in ("triage_ms", "triage_cpu_ms", "screen_ms", "screen_cpu_ms", "long_message_triage_ms"):
        stats = result[key]
        assert 0 < stats["p50"] <= stats["p95"] <= stats["p99"] <= stats["max"]
    assert any(len(text) > 5000 for text, _ in MESSAGES)
    # A generous bound that only a real regression (seconds per message) would break.
    assert result["triage_cpu_ms"]["p50"] < 100
