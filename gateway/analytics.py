"""The admins' analytics dashboard: today's figures, the most expensive task of a day, week or
month, and management income per day as a table and a bar chart (inline SVG, drawn here).
Everything comes from the analytics service's API, with the admin's token."""

from decimal import Decimal

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from gateway import api_client

blueprint = Blueprint("analytics", __name__, url_prefix="/analytics")
PERIODS = {"day": "today", "week": "the last 7 days", "month": "the last 30 days"}
CHART_WIDTH, CHART_HEIGHT, CHART_MARGIN = 640, 220, 20


@blueprint.get("")
@login_required
def dashboard():
    if not current_user.has_role("admin"):
        abort(403)
    period = request.args.get("period") if request.args.get("period") in PERIODS else "day"
    summary = api_client.get("analytics", "/api/summary")
    expensive = api_client.get("analytics", "/api/most-expensive-task", period=period)
    income = api_client.get("analytics", "/api/income", period="month")
    return render_template(
        "analytics/dashboard.html",
        summary=summary,
        expensive=expensive,
        period=period,
        periods=PERIODS,
        income=income,
        chart=income_chart(income["days"]),
    )


def income_chart(
    days: list[dict],
    width: int = CHART_WIDTH,
    height: int = CHART_HEIGHT,
    margin: int = CHART_MARGIN,
) -> dict:
    """Where the bars go: one per day, up from the zero line for income, down for a loss."""
    amounts = [Decimal(day["management_income"]) for day in days]
    highest, lowest = max(amounts + [Decimal(0)]), min(amounts + [Decimal(0)])
    span = (highest - lowest) or Decimal(1)
    scale = (height - 2 * margin) / span
    zero_y = margin + float(highest * scale)
    slot = (width - 2 * margin) / max(len(days), 1)
    bars = []
    for index, (day, amount) in enumerate(zip(days, amounts, strict=True)):
        size = float(abs(amount) * scale)
        bars.append(
            {
                "x": round(margin + index * slot + slot * 0.1, 2),
                "width": round(slot * 0.8, 2),
                "y": round(zero_y - size if amount > 0 else zero_y, 2),
                "height": round(size, 2),
                "date": day["date"],
                "amount": day["management_income"],
                "loss": amount < 0,
            }
        )
    return {
        "width": width,
        "height": height,
        "margin": margin,
        "zero_y": round(zero_y, 2),
        "bars": bars,
        "highest": f"{highest:.2f}",
        "lowest": f"{lowest:.2f}",
    }
