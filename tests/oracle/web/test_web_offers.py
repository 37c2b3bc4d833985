"""Offers edited in the owner's page go through the same check as `spartacus offer set`
(oracle.offers.build_offer): a good one is served at GET /v1/offers?buyer=, an arbitrage-breaking
or over-budget one is refused with the reason beside its field."""

from __future__ import annotations

import re
from html import unescape

import pytest
from hypothesis import given, settings, strategies as st

from client.chain.exchange import ETH, EXACT
from oracle.offers import OfferDraft, OfferRejected, build_offer, fixed_menu, releases_left
from oracle.store import DatasetRecord
from pricing import METHODS, check_arbitrage_free, method_fits_release


def _form(page, **fields):
    data = {"csrf": page.csrf(), "row": "new", "dataset": page.hub.datasets["census"], "mechanism": "ml-laplace-rr",
            "rule": "fixed", "quote_fee": "0", **fields}
    return page.client.post("/owner/offers", data=data, follow_redirects=False)


def _field_error(html: str, field: str) -> str | None:
    m = re.search(rf'data-field="{field}">([^<]*)<', html)
    return m and unescape(m.group(1))


def test_an_offer_added_in_the_page_is_served_to_that_buyer_only(page) -> None:
    assert page.login().status_code == 303
    buyer = page.hub.buyer2
    r = _form(page, offer_id="club", buyer=buyer.lower(), epsilon="0.5", price="1000")
    assert r.status_code == 303, r.text
    mine = page.client.get("/v1/offers", params={"buyer": buyer}).json()["offers"]
    (club,) = [o for o in mine if o["offerId"] == "club"]
    assert club["release"]["epsilon"] == "0.5" and club["pricing"] == {"method": "fixed", "price": "1000"}
    others = page.client.get("/v1/offers", params={"buyer": page.hub.stranger}).json()["offers"]
    assert "club" not in {o["offerId"] for o in others}
    assert "Offer club saved" in page.client.get("/owner/offers").text


def test_an_arbitrage_breaking_offer_is_refused_beside_the_price(page) -> None:
    assert page.login().status_code == 303
    # the default menu has fixed-dp-big at epsilon 4.5 for 0.1 ether; epsilon 2 for more breaks monotonicity
    r = _form(page, offer_id="greedy", epsilon="2", price=str(page.hub.ETHER))
    assert r.status_code == 400
    reason = _field_error(r.text, "price")
    assert reason and "arbitrage" in reason and "not monotone" in reason
    assert page.hub.store.get_offer("greedy") is None
    assert 'value="greedy"' in r.text  # the owner's input is kept to fix


def test_an_offer_spending_more_than_the_budget_left_is_refused_beside_epsilon(page) -> None:
    assert page.login().status_code == 303
    r = _form(page, offer_id="huge", epsilon="5.5", price=str(page.hub.ETHER))
    assert r.status_code == 400
    reason = _field_error(r.text, "epsilon")
    assert reason and "more than the 5 left" in reason and page.hub.store.get_offer("huge") is None


def test_editing_an_existing_offer_replaces_it(page) -> None:
    assert page.login().status_code == 303
    r = _form(page, row="fixed-dp", offer_id="fixed-dp", epsilon="1", price=str(page.hub.ETHER // 20), quote_fee="7")
    assert r.status_code == 303, r.text
    o = page.hub.store.get_offer("fixed-dp")
    assert o.pricing["price"] == str(page.hub.ETHER // 20) and o.min_quote_fee == 7


@pytest.mark.parametrize("fields,field", [
    ({"epsilon": "0"}, "epsilon"), ({"epsilon": "1", "price": "lots"}, "price"),
    ({"epsilon": "1", "buyer": "bob"}, "buyer"), ({"epsilon": "1", "tokens": "0x" + "ab" * 20}, "tokens"),
    ({"epsilon": "1", "bounds": "age=0:1"}, "bounds"), ({"epsilon": "1", "rule": "mde", "mde_method": "influence", "curve": "{"}, "curve"),
    ({"epsilon": "1", "rule": "mde", "mde_method": "nope", "curve": "{}"}, "mde_method"),
    ({"epsilon": "exact"}, "epsilon"), ({"epsilon": "1", "offer_id": "bad id!"}, "offer_id"),
])
def test_each_bad_field_is_named_beside_it(page, fields, field) -> None:
    assert page.login().status_code == 303
    r = _form(page, **{"offer_id": "o", "price": "10", **fields})
    assert r.status_code == 400 and _field_error(r.text, field), r.text[:300]


def _census() -> DatasetRecord:
    schema = {"features": [{"name": "x0", "kind": "float", "bounds": [0, 1]}],
              "label": {"name": "y", "kind": "categorical", "categories": ["a", "b"]}}
    return DatasetRecord("0x" + "11" * 32, "census", schema, 10, 5000)


@settings(max_examples=40, deadline=None)
@given(prices=st.lists(st.integers(0, 10**6), min_size=2, max_size=4),
       eps=st.lists(st.sampled_from(["0.25", "0.5", "1", "2", "4"]), min_size=2, max_size=4, unique=True))
def test_build_offer_accepts_a_menu_exactly_when_it_is_arbitrage_free(prices, eps) -> None:
    ds, existing = _census(), []
    n = min(len(prices), len(eps))
    for i in range(n):
        draft = OfferDraft(f"o{i}", ds, eps[i], price=str(prices[i]))
        menu = [*fixed_menu(existing, ds.dataset_id, None), (float(eps[i]), prices[i])]
        ok = check_arbitrage_free(menu).ok
        try:
            existing.append(build_offer(draft, existing=existing, hub_tokens=[ETH], budget_left_milli=5000))
            assert ok
        except OfferRejected as err:
            assert not ok and err.field == "price"


@given(left=st.integers(-1000, 10_000), eps=st.sampled_from(["0.001", "0.25", "1", "2.5"]))
def test_build_offer_refuses_exactly_the_epsilons_over_the_budget_left(left, eps) -> None:
    draft = OfferDraft("o", _census(), eps, price="1")
    need = round(float(eps) * 1000)
    try:
        offer = build_offer(draft, existing=[], hub_tokens=[ETH], budget_left_milli=left)
        assert need <= left and releases_left(offer, left) == left // need
    except OfferRejected as err:
        assert need > left and err.field == "epsilon"


# ---------------------------------------------------------------- pricing methods that fit the release (issue 29)

CURVE = '{"kind": "linear", "slope": "1000"}'


@pytest.mark.parametrize("method", ["influence"])
def test_a_dp_offer_priced_by_a_method_that_misprices_noise_is_refused_beside_the_method(page, method) -> None:
    assert page.login().status_code == 303
    r = _form(page, offer_id="noisy", epsilon="1", rule="mde", mde_method=method, curve=CURVE)
    assert r.status_code == 400
    reason = _field_error(r.text, "mde_method")
    assert reason and f"{method} misprices ml-laplace-rr releases" in reason, r.text[:500]
    assert ("use feature-newton or group-influence or network-newton (its spec setting hyper.support > 0) or "
            "network-retrain for DP releases, or a fixed price") in reason
    assert page.hub.store.get_offer("noisy") is None and 'value="noisy"' in r.text
    # the same method on the exact dataset is kept, and so is a fixed price on the DP release
    exact = _form(page, offer_id="whole", dataset=page.hub.datasets["census-exact"], epsilon="exact", rule="mde",
                  mde_method=method, curve=CURVE)
    assert exact.status_code == 303, exact.text[:500]
    assert page.hub.store.get_offer("whole").pricing["method"] == method
    fixed = _form(page, offer_id="noisy", buyer=page.hub.buyer2, epsilon="1", price="10")  # its own menu
    assert fixed.status_code == 303, fixed.text[:500]


def test_a_dp_offer_priced_by_network_newton_is_kept_for_specs_that_filter_by_support(page) -> None:
    """network-newton fits DP releases only with hyper.support set: the offer is kept, and the hub
    asks each buyer's spec when terms name it (tests/oracle/api/test_api_terms.py)."""
    assert page.login().status_code == 303
    r = _form(page, offer_id="noisy-net", epsilon="1", rule="mde", mde_method="network-newton", curve=CURVE)
    assert r.status_code == 303, r.text[:500]
    assert page.hub.store.get_offer("noisy-net").pricing["method"] == "network-newton"


def test_the_owner_page_proposes_a_method_that_fits_its_default_dp_release(page) -> None:
    assert page.login().status_code == 303
    html = page.client.get("/owner/offers").text
    new_row = html[html.index('<tr id="offer-new"'):]
    new_row = new_row[:new_row.index("</tr>")]
    chosen = re.findall(r"<option value=\"([^\"]+)\" selected>", new_row)
    assert "ml-laplace-rr" in chosen  # the new row's defaults: a DP release ...
    method = next(m for m in chosen if m in METHODS)  # ... priced by a method that fits it
    assert method_fits_release(method, "ml-laplace-rr")[0]


def _people(cap: int, *, table: bool = False) -> DatasetRecord:
    """The people dataset (features, a label and a private column), or with `table` a table of
    columns only, the one shape a table release draws."""
    schema = {"features": [{"name": "x0", "kind": "float", "bounds": [0, 1]}],
              "label": {"name": "y", "kind": "categorical", "categories": ["a", "b"]},
              "columns": [{"name": "sex", "kind": "boolean"}]}
    if table:
        schema = {"columns": [{"name": "x0", "kind": "float", "bounds": [0, 1]}, {"name": "sex", "kind": "boolean"}]}
    return DatasetRecord("0x" + "22" * 32, "people", schema, 10, cap)


# how the owner asks for each release, and the mechanism whose output the buyer's model sees:
# a sanitizer alone adds no DP noise (privacy.mechanisms.sanitizer: "No epsilon"), so it is exact
RELEASES = {
    "exact": ({"epsilon": "exact"}, "exact"),
    "ml-laplace-rr": ({"epsilon": "1", "mechanism": "ml-laplace-rr"}, "ml-laplace-rr"),
    "table": ({"epsilon": "0.5", "mechanism": "table"}, "table"),
    "sanitizer": ({"epsilon": "exact", "mechanism": "sanitizer", "private": "sex", "alpha": "0.9"}, "exact"),
    "sanitizer+dp": ({"epsilon": "2", "mechanism": "sanitizer", "private": "sex", "alpha": "0.9",
                      "variant": "stochastic"}, "ml-laplace-rr"),
}


@settings(max_examples=60, deadline=None)
@given(method=st.sampled_from(["fixed", *sorted(METHODS)]), release=st.sampled_from(sorted(RELEASES)))
def test_build_offer_accepts_a_pricing_exactly_when_method_fits_release_says_so(method, release) -> None:
    fields, mechanism = RELEASES[release]
    rule = {"price": "10"} if method == "fixed" else {"mde_method": method, "curve": CURVE}
    draft = OfferDraft("o", _people(EXACT, table=mechanism == "table"), **fields, **rule)
    fits, why = (True, "") if method == "fixed" else method_fits_release(method, mechanism)
    try:
        offer = build_offer(draft, existing=[], hub_tokens=[ETH], budget_left_milli=None)
    except OfferRejected as err:
        assert not fits and err.field == "mde_method", err.reason
        assert why in err.reason and f"does not fit this release ({mechanism})" in err.reason
        return
    assert fits and offer.pricing["method"] == method


@pytest.mark.parametrize("schema, fields, says", [
    ({"columns": [{"name": "km", "kind": "float", "bounds": [0, 1]}]}, {"epsilon": "1"},
     "dataset people is a table of columns, without features and a label: mechanism ml-laplace-rr draws records"),
    (None, {"epsilon": "1", "mechanism": "table"},
     "dataset people has features and a label: mechanism 'table' releases a table of columns only"),
    ({"columns": [{"name": "km", "kind": "float", "bounds": [0, 1]}]}, {"epsilon": "exact", "mde_method": "influence",
                                                                      "curve": CURVE, "price": None},
     "dataset people has no features and label for an MDE method to price"),
])
def test_an_offer_its_dataset_cannot_serve_is_refused_naming_the_fix(schema, fields, says) -> None:
    """Offers that could only be declined at every deal: a draw the dataset's shape cannot make, or
    an MDE price with no records to price. They were saved, and every deal on them declined."""
    ds = _people(EXACT)
    ds = DatasetRecord(ds.dataset_id, ds.name, schema or ds.schema, ds.rows, ds.epsilon_cap_milli)
    draft = OfferDraft("o", ds, **{"price": "10", **fields})
    with pytest.raises(OfferRejected) as err:
        build_offer(draft, existing=[], hub_tokens=[ETH], budget_left_milli=None)
    assert says in err.value.reason


# ---------------------------------------------------------------- sanitized offers


@pytest.fixture()
def people_page(people_hub, page):
    """`page` on a hub with the people datasets (`people_hub`)."""
    return page


def _row(html: str, key: str) -> str:
    row = html[html.index(f'<tr id="offer-{key}"'):]
    return row[:row.index("</tr>")]


def test_a_sanitized_offer_added_in_the_page_is_fitted_served_and_shown_for_editing(people_page) -> None:
    page = people_page
    assert page.login().status_code == 303
    fields = dict(offer_id="san", dataset=page.hub.datasets["people-exact"], epsilon="exact", mechanism="sanitizer",
                  private="sex", alpha="0.9", variant="stochastic", price="1000")
    r = _form(page, **fields)
    assert r.status_code == 303, r.text[:500]
    kept = page.hub.store.get_sanitizer("san")
    assert kept is not None  # fitted when saved, before a buyer sees the offer
    (san,) = [o for o in page.client.get("/v1/offers", params={"buyer": page.hub.stranger}).json()["offers"]
              if o["offerId"] == "san"]
    mech = san["release"]["mechanism"]
    assert san["release"]["epsilon"] == "exact"
    assert (mech["name"], mech["private"], mech["alpha"], mech["variant"]) == ("sanitizer", "sex", "0.9", "stochastic")
    # the row shows the sanitized precision, so saving it again with a new price keeps it and its sanitizer
    row = _row(page.client.get("/owner/offers").text, "san")
    assert '<option value="sanitizer" selected>' in row and '<option value="stochastic" selected>' in row
    assert 'name="private" value="sex"' in row and 'name="alpha" value="0.9"' in row
    again = _form(page, **{**fields, "row": "san", "price": "2000"})
    assert again.status_code == 303, again.text[:500]
    offer = page.hub.store.get_offer("san")
    assert offer.pricing["price"] == "2000" and offer.release["mechanism"]["variant"] == "stochastic"
    assert page.hub.store.get_sanitizer("san").weights == kept.weights


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"private": "sex"}, "alpha", "alpha in [0, 1]"),
    ({"alpha": "0.9"}, "private", "private column"),
    ({"private": "sex", "alpha": "1.5"}, "alpha", "alpha"),
    ({"private": "sex", "alpha": "0.9", "variant": "both"}, "variant", "deterministic"),
    ({"private": "x0", "alpha": "0.9"}, "private", "not one of"),
    ({"private": "sex", "alpha": "0.9", "bounds": "x0=0:1"}, "bounds", "no bounds"),
    ({"private": "sex", "alpha": "0.9", "mechanism": "ml-laplace-rr", "epsilon": "1"}, "private", "sanitizer's"),
    ({"private": "sex", "alpha": "0.9", "dataset": "people"}, "epsilon", "no epsilon guarantee"),
])
def test_a_bad_sanitized_offer_is_refused_beside_its_field_and_the_input_kept(people_page, fields, field,
                                                                              words) -> None:
    page = people_page
    assert page.login().status_code == 303
    dataset = page.hub.datasets[fields.get("dataset", "people-exact")]
    r = _form(page, **{"offer_id": "bad-san", "epsilon": "exact", "mechanism": "sanitizer", "price": "10", **fields,
                       "dataset": dataset})
    assert r.status_code == 400, r.text[:300]
    reason = _field_error(r.text, field)
    assert reason and words in reason, r.text[:500]
    assert page.hub.store.get_offer("bad-san") is None and page.hub.store.get_sanitizer("bad-san") is None
    new_row = _row(r.text, "new")
    assert f'name="private" value="{fields.get("private", "")}"' in new_row  # kept to fix

