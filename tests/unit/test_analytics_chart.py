"""The gateway's income chart, as geometry: a bar per day, income up from the zero line, a loss down."""

from gateway.analytics import income_chart


def days(*amounts):
    return [
        {"date": f"2026-03-{n + 1:02d}", "management_income": amount}
        for n, amount in enumerate(amounts)
    ]


def test_income_goes_up_and_a_loss_down_from_the_zero_line():
    chart = income_chart(days("30.00", "-10.00", "0.00", "15.00"), width=440, height=140, margin=20)
    up, down, nothing, half = chart["bars"]
    assert (
        chart["zero_y"] == 20 + 100 * 30 / 40
    )  # the zero line sits where 30 above and 10 below fit
    assert (up["y"], up["height"], up["loss"]) == (20, 75, False)
    assert (down["y"], down["height"], down["loss"]) == (chart["zero_y"], 25, True)
    assert nothing["height"] == 0 and half["height"] == 37.5
    assert [bar["x"] for bar in chart["bars"]] == [30, 130, 230, 330] and up["width"] == 80
    assert (chart["highest"], chart["lowest"]) == ("30.00", "-10.00")


def test_a_month_without_income_still_draws_every_day():
    chart = income_chart(days(*["0.00"] * 30))
    assert len(chart["bars"]) == 30 and all(bar["height"] == 0 for bar in chart["bars"])
