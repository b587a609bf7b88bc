"""The whole story in a real browser (headless Chromium): a popug signs up at the SSO, the admin signs in
through it, a task goes to the popug, who completes it and watches its balance move; the admin sees the
dashboard, the income and the dead letters. Every page is kept as a PNG under `<basetemp>/screenshots/`."""

import os
import random
import re
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from cli import demo
from gateway.formatting import money
from tests.conftest import eventually
from tests.e2e import browser as real_browser
from tests.e2e.browser import Browser, chromium
from tests.e2e.checks import dollars
from tests.e2e.system import (
    ROOT,
    SERVICES_AND_WORKERS,
    free_port,
    postgres_databases,
    procfile_command,
    running,
)

ADMIN_PASSWORD = "e2e-admin-password"
POPUG, POPUG_PASSWORD = "kesha", "kesha-password-1"
TITLE, JIRA_ID = "Paint the perch green", "UBERPOP-77"
PROCESSES = [*SERVICES_AND_WORKERS, "gateway"]
SMALLEST_SCREENSHOT = 10_000  # bytes; an empty white 1280×900 page is about 6 KB


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    if not real_browser.installed():
        pytest.fail(
            "Chromium is missing: bin/test installs it, or apt-get install chromium chromium-driver"
        )
    return tmp_path_factory.getbasetemp() / "screenshots"


@pytest.fixture(scope="module")
def system(tmp_path_factory, broker_for_module):
    var_dir = tmp_path_factory.mktemp("browser") / "var"
    smtp_port = str(free_port())
    # Its own databases per run: someone else may be running this test on the same PostgreSQL right now.
    with postgres_databases(f"browser_{os.getpid()}") as databases, mail_sink(var_dir, smtp_port):
        with running(
            PROCESSES,
            var_dir,
            broker_for_module,
            ATES_ADMIN_PASSWORD=ADMIN_PASSWORD,
            ATES_RETRY_DELAYS_MS="200,500,1000,2000",
            ATES_SMTP_PORT=smtp_port,
            **databases,
        ) as urls:
            yield urls


@contextmanager
def mail_sink(var_dir: Path, port: str):
    """The Procfile's mailsink on `port`; `running` would try to migrate it, and it has no database."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ATES_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        ATES_VAR_DIR=str(var_dir),
        ATES_SMTP_PORT=port,
    )
    var_dir.mkdir(parents=True, exist_ok=True)
    log = var_dir / "mailsink.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            ["bash", "-c", procfile_command("mailsink")],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        eventually(
            lambda: listening(int(port)),
            timeout=30,
            interval=0.2,
            message="the mail sink to listen",
        )
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        print(f"----- mailsink log -----\n{log.read_text()[-2000:]}")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def shown(amount: Decimal) -> str:
    """As the notifier's words write a sum."""
    return f"${amount:.2f}"


def audit_log(browser: Browser) -> list[dict]:
    """The rows of the audit log on an accounting page: kind, amount, balance after, task."""
    rows = []
    for row in browser.find_all("#audit-log tr")[1:]:
        cells = [cell.text for cell in row.find_elements("css selector", "td")]
        if len(cells) == 5:
            rows.append(
                {
                    "kind": cells[1],
                    "amount": dollars(cells[2]),
                    "balance_after": dollars(cells[3]),
                    "task": cells[4],
                }
            )
    return rows


def balance(browser: Browser) -> Decimal:
    return dollars(browser.find("p.balance strong").text)


def my_balance_once(popug: Browser, gateway: str, kinds: list[str]) -> dict | None:
    """The popug's balance page, if its audit log already holds these kinds of transaction for the task:
    then `{kind: row}`, after checking that the log adds up to the balance shown above it."""
    popug.open(f"{gateway}/accounting")
    log = audit_log(popug)
    if sorted(row["kind"] for row in log) != sorted(kinds) or any(
        TITLE not in row["task"] for row in log
    ):
        return None
    running_balance = Decimal(0)
    for row in sorted(log, key=lambda row: kinds.index(row["kind"])):
        running_balance += row["amount"]
        assert row["balance_after"] == running_balance, log
    assert balance(popug) == running_balance, (balance(popug), log)
    return {row["kind"]: row for row in log}


def sign_up_at_auth(popug: Browser, system: dict) -> None:
    popug.open(f"{system['auth']}/signup")
    popug.shot("auth-signup")
    popug.submit(
        popug.find("form"),
        username=POPUG,
        password=POPUG_PASSWORD,
        email=f"{POPUG}@uberpopug.example",
        full_name="Kesha the Popug",
    )
    assert f"logged in to the aTES sign-in service as {POPUG}" in popug.text, popug.text
    popug.shot("auth-signed-up")


def sign_in_through_the_gateway(
    person: Browser, system: dict, username: str, password: str
) -> None:
    """From the gateway's front page through the SSO's login page and back, as a person clicks it."""
    person.open(system["gateway"])
    assert "Sign in" in person.text and "Sign out" not in person.text
    person.shot("gateway-signed-out")
    person.follow("Sign in")
    assert person.url.startswith(f"{system['auth']}/login"), person.url
    person.shot("sso-login")
    person.submit(person.find("form"), username=username, password=password)
    assert person.url.rstrip("/") == system["gateway"], person.url
    assert f"{username} (" in person.text and "Sign out" in person.text, person.text
    person.shot("gateway-home")


def sign_in_with_the_sso_session(popug: Browser, gateway: str) -> None:
    """Signed up at the SSO a moment ago, the popug is signed in to the gateway without being asked again."""
    popug.open(f"{gateway}/login")
    assert popug.url.rstrip("/") == gateway and f"{POPUG} (developer)" in popug.text, (
        popug.url,
        popug.text,
    )
    popug.shot("gateway-home")


def create_the_task(admin: Browser, gateway: str) -> None:
    def created():  # the tracker learns of the popug from auth's event; until then nobody is assignable
        admin.open(f"{gateway}/tasks")
        admin.submit(
            admin.find("form.card"), title=TITLE, jira_id=JIRA_ID, description="every perch of it"
        )
        return "created and assigned" in admin.text

    eventually(
        created, timeout=30, interval=0.5, message="the popug to become assignable in the tracker"
    )
    admin.shot("tasks-created")
    admin.open(f"{gateway}/tasks/all")
    assert TITLE in admin.text and JIRA_ID in admin.text
    admin.shot("tasks-all")


def pay_the_fee_and_earn_the_reward(popug: Browser, gateway: str) -> tuple[Decimal, Decimal]:
    """The only assignable popug got the task and paid its fee; it completes it and earns the reward."""
    popug.open(f"{gateway}/tasks")
    assert TITLE in popug.find("table").text, popug.text
    popug.shot("tasks-open")
    assigned = eventually(
        lambda: my_balance_once(popug, gateway, ["assign fee"]),
        timeout=30,
        interval=0.5,
        message="the assign fee in the popug's audit log",
    )
    fee = -assigned["assign fee"]["amount"]
    assert 10 <= fee <= 20 and balance(popug) == -fee
    popug.shot("balance-after-assignment")

    popug.open(f"{gateway}/tasks")
    row = next(row for row in popug.find_all("table tr") if TITLE in row.text)
    popug.submit(row.find_element("css selector", "form"))
    assert f"Task “{JIRA_ID} {TITLE}” is done." in popug.text and "Nothing open" in popug.text, (
        popug.text
    )
    popug.shot("task-done")

    completed = eventually(
        lambda: my_balance_once(popug, gateway, ["assign fee", "reward"]),
        timeout=30,
        interval=0.5,
        message="the reward in the popug's audit log",
    )
    reward = completed["reward"]["amount"]
    assert (
        20 <= reward <= 40
        and completed["assign fee"]["amount"] == -fee
        and balance(popug) == reward - fee
    )
    assert JIRA_ID in completed["reward"]["task"]
    popug.shot("balance-after-completion")
    return fee, reward


def bell(person: Browser) -> str:
    return person.find("header a.bell").get_attribute("aria-label")


def hear_of_it_behind_the_bell(popug: Browser, gateway: str, reward: Decimal) -> None:
    """The notifier told the popug of the task and of the reward: the bell counts both, the notices
    page lists them, marking them read empties the bell; task mail can be turned off."""

    def both_told():
        popug.open(gateway)
        return bell(popug) == "Notices: 2 unread"

    eventually(both_told, timeout=30, interval=0.5, message="two unread notices behind the bell")
    popug.click("header a.bell")
    assert popug.url.startswith(f"{gateway}/notifications"), popug.url
    subjects = [heading.text for heading in popug.find_all("li.notice h3")]
    assert subjects == [
        f"Completed: {JIRA_ID} {TITLE}, you earned {shown(reward)}",
        f"New task for you: {JIRA_ID} {TITLE}",
    ], subjects
    popug.shot("notices")
    popug.submit(popug.find("form[action$='/notifications/read-all']"))
    assert "2 notices marked read." in popug.text and bell(popug) == "Notices", popug.text
    popug.open(f"{gateway}/notifications/settings")
    box = popug.find("#task_mail")
    assert box.is_selected() and popug.find("label[for=task_mail]").text.startswith("Mail me")
    box.click()
    popug.submit(popug.find("form[action$='/notifications/settings']"))
    assert "Task mail is off" in popug.text and not popug.find("#task_mail").is_selected()
    popug.shot("mail-settings")


def see_the_dashboard(
    admin: Browser, gateway: str, today: str, income: Decimal, reward: Decimal
) -> None:
    def up_to_date():
        admin.open(f"{gateway}/analytics")
        return admin.find("#today-income strong").text == money(income)

    eventually(
        up_to_date,
        timeout=30,
        interval=0.5,
        message=f"today's income {money(income)} on the dashboard",
    )
    assert f"Today, {today}" in admin.text
    assert admin.find("#negative-balances strong").text == "0"  # reward − fee is never below zero
    most_expensive = admin.find("#most-expensive").text
    assert TITLE in most_expensive and money(reward) in most_expensive, most_expensive
    assert admin.find_all("#income-chart rect"), "the income chart has a bar for today"
    admin.shot("analytics")


def see_the_income_and_no_dead_letters(
    admin: Browser, gateway: str, today: str, income: Decimal
) -> None:
    admin.open(f"{gateway}/accounting/income")
    assert (
        f"Open billing day: {today}, income so far {money(income)}"
        in admin.find("#billing-day").text
    )
    think_again_before_closing_the_day(admin, today)
    assert money(income) in next(
        row.text for row in admin.find_all("#income tr") if today in row.text
    )
    admin.shot("income")

    admin.open(f"{gateway}/admin/dead-letters")
    assert "Dead letters" in admin.text and not admin.find_all(".flash.error"), admin.text
    dead = [int(count) for count in re.findall(r"(\d+) dead letters?\b", admin.text)]
    assert dead and sum(dead) == 0, f"a clean run dead-letters nothing:\n{admin.text}"
    admin.shot("dead-letters")


def think_again_before_closing_the_day(admin: Browser, today: str) -> None:
    """The button asks first (gateway/static/confirm.js, allowed by the CSP); saying no sends nothing."""
    page = admin.url
    admin.find("#billing-day button[type=submit]").click()
    question = WebDriverWait(admin.driver, 10).until(expected_conditions.alert_is_present())
    assert f"Close {today} now" in question.text
    question.dismiss()
    assert admin.url == page and f"Open billing day: {today}" in admin.find("#billing-day").text


def styled_by_their_own_files_and_nothing_blocked(people: list[Browser], system: dict) -> None:
    """The pages' style comes from /static (a broken CSP would leave them unstyled), and the policy
    refused nothing any page of the whole story tried to load or run."""
    for person in people:
        assert person.blocked_by_the_policy() == [], person.name
    person = people[0]
    person.open(system["gateway"])
    assert person.style("main", "max-width") == "1152px"  # gateway.css: 72rem
    person.open(f"{system['auth']}/login")
    assert person.style("header .brand", "font-weight") == "700"  # auth.css
    assert person.blocked_by_the_policy() == []


def test_a_task_in_a_real_browser_from_sign_up_to_the_dashboard(screenshots, system):
    gateway = system["gateway"]
    with chromium("popug", screenshots) as popug, chromium("admin", screenshots) as admin:
        sign_up_at_auth(popug, system)
        sign_in_through_the_gateway(admin, system, "admin", ADMIN_PASSWORD)
        sign_in_with_the_sso_session(popug, gateway)
        create_the_task(admin, gateway)
        fee, reward = pay_the_fee_and_earn_the_reward(popug, gateway)
        hear_of_it_behind_the_bell(popug, gateway, reward)
        income = fee - reward  # what the popugs lost today is the management's income
        today = datetime.now(UTC).date().isoformat()
        see_the_dashboard(admin, gateway, today, income, reward)
        see_the_income_and_no_dead_letters(admin, gateway, today, income)
        styled_by_their_own_files_and_nothing_blocked([popug, admin], system)
        taken = popug.taken + admin.taken

    assert len(taken) == 17, taken  # every page visited above
    for path in taken:
        assert path.is_file() and path.stat().st_size > SMALLEST_SCREENSHOT, path
        with Image.open(path) as picture:
            assert picture.format == "PNG" and picture.width == real_browser.WIDTH, (
                path,
                picture.size,
            )


# ---- every page as every role, after a demo day --------------------------------------------------

DEMO_TASKS = 60  # with the demo's second round and the story's task: more than a page of all tasks
WALKERS = {  # who walks, with the password the demo gave them (admin: the system's)
    "admin": ("admin", ADMIN_PASSWORD),
    "manager": ("demo-manager-1", demo.PASSWORD),
    "accountant": ("demo-accountant-1", demo.PASSWORD),
    "developer": ("demo-developer-1", demo.PASSWORD),
}
PHONE_WIDTH, PHONE_HEIGHT = 375, 812
MONEY = re.compile(r"\$-|-\$|\$ ")  # a sum written any other way than −$96.00 / $38.00
WRITTEN_MONEY = re.compile(r"^\u2212?\$[0-9]+\.[0-9]{2}$")
BARE_ID = re.compile(r"\b[0-9a-f]{8}(-[0-9a-f]{4}){0,3}\b")


@pytest.fixture(scope="module")
def demo_day(system):
    """`ates demo` against the browser test's system: popugs of every role, 76 tasks, a
    reassignment, completions, a closed billing day and a second day begun."""
    saved = {name: os.environ.get(name) for name in ("ATES_AUTH_ISSUER", *SERVICE_URL_VARIABLES)}
    os.environ["ATES_AUTH_ISSUER"] = system["auth"]
    for service, url in system.items():
        os.environ[f"ATES_{service.upper()}_URL"] = url
    try:
        demo.fill(system["auth"], ADMIN_PASSWORD, DEMO_TASKS, random.Random(16), say=print)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return system


SERVICE_URL_VARIABLES = tuple(
    f"ATES_{service.upper()}_URL"
    for service in ("gateway", "auth", "tracker", "accounting", "analytics", "notifier")
)


def walkable(person: Browser, system: dict) -> list[tuple[str, str]]:
    """The header's navigation as (label, address): the pages of the gateway and of auth (the
    RabbitMQ management UI is the broker's own, not ours)."""
    links = [
        (link.text, link.get_attribute("href")) for link in person.find_all("nav.main a[href]")
    ]
    assert links, f"{person.name}: no navigation in the header"
    ours = (system["gateway"], system["auth"])
    return [(label, href) for label, href in links if href.startswith(ours)]


def check_the_page(person: Browser, label: str, system: dict) -> list[str]:
    """What is wrong with the page open in `person`: axe-core's serious and critical findings,
    money or people written the wrong way, the navigation not marking it, a page wider than
    the window."""
    problems = []
    violations = person.accessibility_violations()
    if violations:
        problems.append(f"axe-core on {person.url}:\n{real_browser.describe(violations)}")
    text = person.text
    if MONEY.search(text):
        problems.append(
            f"{person.url}: money not written as −$96.00 / $38.00: {MONEY.search(text)}"
        )
    for cell in person.find_all(".money:not(th)"):
        shown = cell.text.split(" (")[0].strip()
        if shown and not WRITTEN_MONEY.match(shown):
            problems.append(f"{person.url}: a money cell says {shown!r}")
    if BARE_ID.search(text):
        problems.append(f"{person.url}: a bare id on the page: {BARE_ID.search(text).group(0)}")
    if person.url.startswith(system["gateway"]):
        current = [a.text for a in person.find_all('nav.main a[aria-current="page"]')]
        if label and current != [label]:
            problems.append(f"{person.url}: the navigation marks {current}, not {label!r}")
    wide = person.driver.execute_script("return document.documentElement.scrollWidth")
    if wide > person.width:
        problems.append(f"{person.url}: {wide} px wide in a {person.width} px window")
    return problems


def walk_every_page(
    person: Browser, system: dict, role: str, by_keyboard: bool = False
) -> list[str]:
    problems = []
    for label, href in walkable(person, system):
        person.open(href)
        person.shot(f"{role}-{label.lower().replace(' ', '-')}")
        problems += check_the_page(person, label, system)
        if by_keyboard and href.startswith(system["gateway"]):
            problems += keyboard_problems(person)
    return problems


FOCUSABLE = (
    "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), "
    "select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])"
)


def keyboard_problems(person: Browser) -> list[str]:
    """Tab from the top of the page reaches every link and control on it, each once, in order,
    the skip link first (a date field takes a Tab for each of its parts: counted once)."""
    count = person.driver.execute_script(
        """
        const found = Array.from(document.querySelectorAll(arguments[0]))
          .filter(element => element.getClientRects().length > 0 || element.matches(".skip"));
        found.forEach((element, index) => element.setAttribute("data-tab-order", index));
        document.activeElement && document.activeElement.blur();
        window.scrollTo(0, 0);
        return found.length;
        """,
        FOCUSABLE,
    )
    reached: list[str] = []
    keys = ActionChains(person.driver)
    for _ in range(count * 4):
        keys.send_keys(Keys.TAB).perform()
        now = person.driver.execute_script(
            "return document.activeElement.getAttribute('data-tab-order');"
        )
        if not reached or reached[-1] != now:
            reached.append(now)
        if now == str(count - 1):
            break
    expected = [str(index) for index in range(count)]
    if reached != expected:
        missing = sorted(set(expected) - set(reached), key=int)
        return [f"{person.url}: Tab reached {reached[:12]}..., never {missing[:10]} of {count}"]
    return []


def people_by_name_paging_and_filters(admin: Browser, gateway: str) -> list[str]:
    """All tasks: names with usernames on hover, the next page holds other tasks, the assignee
    filter keeps one popug's; a task's page with its fee, reward and history; accounts by sign."""
    admin.open(f"{gateway}/tasks/all")
    names = admin.find_all("#all-tasks span.person")
    assert len(names) == 50 and all(name.get_attribute("title") for name in names), len(names)
    first_page = [a.text for a in admin.find_all("#all-tasks td:first-child a")]
    admin.click('a[rel="next"]')
    second_page = [a.text for a in admin.find_all("#all-tasks td:first-child a")]
    assert second_page and not set(second_page) & set(first_page) or len(second_page) < 50, (
        first_page,
        second_page,
    )
    problems = check_the_page(admin, "All tasks", {"gateway": gateway})
    admin.shot("all-tasks-older")

    admin.open(f"{gateway}/tasks/all")
    who = admin.find("#all-tasks td:nth-child(3)").text  # the newest task's assignee
    chosen = next(
        option
        for option in admin.find_all("#filter-assignee option")
        if option.text.split(" (")[0] == who
    )
    chosen.click()
    admin.click("form.filters button[type=submit]")
    shown = {cell.text for cell in admin.find_all("#all-tasks td:nth-child(3)")}
    assert shown <= {who}, (who, shown)
    admin.shot("all-tasks-of-one-popug")

    admin.click("#all-tasks td:first-child a")
    facts = admin.find("#task-facts").text
    assert "Assign fee" in facts and "Reward" in facts, facts
    assert WRITTEN_MONEY.match(admin.find("#assign-fee").text), admin.find("#assign-fee").text
    assert admin.find_all("#assignees li") and admin.find_all("#activity tr")
    problems += check_the_page(admin, "", {"gateway": gateway})
    admin.shot("task-page")

    admin.open(f"{gateway}/accounting/accounts?balance=negative")
    balances = [cell.text for cell in admin.find_all("#accounts td.money")]
    assert all(b.startswith("\u2212$") for b in balances), balances
    admin.click("#accounts td a")
    assert admin.find_all("a[rel=prev]") and admin.find_all("#audit-log")
    admin.shot("account-audit-log")
    return problems


def reassign_with_live_progress(manager: Browser, gateway: str) -> None:
    """The job's bar moves on its own (reassign.js polling the job): the page is never reloaded
    until the job is done and says what it did."""
    manager.open(f"{gateway}/tasks/reassign")
    manager.find("form[action$='/tasks/reassign'] button[type=submit]").click()
    question = WebDriverWait(manager.driver, 10).until(expected_conditions.alert_is_present())
    assert "Reassign every open task" in question.text
    question.accept()
    WebDriverWait(manager.driver, 20).until(lambda driver: "job=" in driver.current_url)
    started = manager.find(".flash.info").text
    assert re.fullmatch(r"Reassignment started: 0 / \d+ open tasks\.", started), started
    manager.driver.execute_script("window.__stayed = true;")
    WebDriverWait(manager.driver, 60).until(
        lambda driver: driver.find_element("id", "progress").text.startswith("Done:")
    )
    assert manager.driver.execute_script("return window.__stayed === true;"), "the page reloaded"
    done = manager.find("#progress").text
    total = int(re.search(r"of (\d+) open tasks reassigned", done).group(1))
    assert manager.find("#job-progress").get_attribute("value") == str(total), done
    manager.shot("reassignment-done")


def test_every_page_as_every_role_and_on_a_phone(screenshots, demo_day):
    system, problems = demo_day, []
    for role, (username, password) in WALKERS.items():
        with chromium(f"walk-{role}", screenshots) as person:
            sign_in_through_the_gateway(person, system, username, password)
            problems += check_the_page(person, "", system)  # the front page
            problems += walk_every_page(
                person, system, role, by_keyboard=role in ("admin", "developer")
            )
            if role == "admin":
                problems += people_by_name_paging_and_filters(person, system["gateway"])
            if role == "manager":
                reassign_with_live_progress(person, system["gateway"])
            assert person.blocked_by_the_policy() == [], role
    with chromium("phone-admin", screenshots, width=PHONE_WIDTH, height=PHONE_HEIGHT) as phone:
        sign_in_through_the_gateway(phone, system, "admin", ADMIN_PASSWORD)
        problems += walk_every_page(phone, system, "phone")
        phone.open(f"{system['gateway']}/analytics?period=week")
        problems += check_the_page(phone, "Analytics", system)
        chart = phone.find("#income-chart").rect
        assert chart["width"] <= PHONE_WIDTH and chart["height"] > 100, chart
        phone.shot("phone-analytics-week")
    assert not problems, "\n".join(problems)
