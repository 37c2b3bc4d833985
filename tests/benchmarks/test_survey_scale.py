"""The survey-scale benchmark at a tiny size: every hub answers, gas is counted, the truth is reported."""

from __future__ import annotations

from benchmarks import survey_scale


def test_a_tiny_survey_answers_every_hub_and_reports_its_figures() -> None:
    figures = survey_scale.run(hubs=3, workers=2, baseline=1, startup=False)
    assert figures["survey_answers"] == 3 and figures["baseline_sample"] == 1
    assert figures["survey_gas"] > 3 * 200_000 and figures["baseline_gas"] > 3 * 200_000  # every deal's receipts
    assert 0.0 <= figures["truth"] <= 15.0
    text = survey_scale.report(figures)
    assert "3 answers" in text and "true mean" in text and "ratios survey / baseline" in text
