"""`make demo` runs its two deals to the end: one settles, one is refunded by a proven complaint."""

from rich.console import Console

from client.demo import run_demo


def test_demo_settles_the_honest_deal_and_refunds_the_cheated_buyer():
    console = Console(record=True, width=120)
    gas = run_demo(console)
    text = console.export_text()
    assert "ended SETTLED" in text and "ended REFUNDED" in text
    assert "release intact: True" in text
    assert set(gas) == {"honest deal", "cheating seller"}
    assert any(step.startswith("complain") for step in gas["cheating seller"])
    assert "confirm" not in gas["cheating seller"]
    assert all(v > 21_000 for steps in gas.values() for v in steps.values())
