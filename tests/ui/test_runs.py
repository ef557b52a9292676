"""The agent's runs tab: its runs with their status, one bar per step in the latency and token
charts, and a run's steps with their messages and trace, as the API reports them."""

import math
import re

from playwright.sync_api import expect

MODEL = "openai/gpt-4o-mini"


def make_agent(http, name: str) -> dict:
    r = http.post("/v1/agents/", json={"name": name, "model": MODEL})
    assert r.status_code == 200, r.text
    return r.json()


def send(http, agent_id: str, text: str) -> dict:
    r = http.post(
        f"/v1/agents/{agent_id}/messages",
        json={"messages": [{"role": "user", "content": text}]},
    )
    assert r.status_code == 200, r.text
    return r.json()


def fmt_ms(ns: int) -> str:
    """A duration as the page writes it (components.js `fmtMs`; JavaScript rounds halves up)."""
    ms = ns / 1e6
    return f"{math.floor(ms + 0.5)} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def bar_heights(chart) -> list[float]:
    return [float(h) for h in chart.locator("svg rect").evaluate_all("rs => rs.map(r => r.getAttribute('height'))")]


def test_runs_charts_and_a_runs_steps(page, ui_url, http, uid, fake, shot):
    agent = make_agent(http, f"runs-{uid}")
    aid = agent["id"]
    send(http, aid, f"first {uid}")
    send(http, aid, f"second {uid}")
    runs = http.get("/v1/runs/", params={"agent_id": aid}).json()
    steps = http.get("/v1/steps/", params={"agent_id": aid}).json()
    assert len(runs) == 2 and steps

    page.goto(ui_url + f"#/agents/{aid}/runs")
    table = page.get_by_role("table", name="Runs")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.locator(".status")).to_have_text(["completed", "completed"])
    # Newest first, each with its steps as the API counts them.
    for row, run in zip([rows.nth(0), rows.nth(1)], runs):
        expect(row).to_have_attribute("data-run-id", run["id"])
        n = len([s for s in steps if s["run_id"] == run["id"]])
        expect(row.locator("td").nth(5)).to_have_text(str(n))

    # One bar per step in both charts; every step has tokens and (here: one step per run,
    # so at least the run's duration) a latency.
    latency = page.locator('[data-chart="latency"]')
    tokens = page.locator('[data-chart="tokens"]')
    expect(latency.locator("svg rect")).to_have_count(len(steps))
    expect(tokens.locator("svg rect")).to_have_count(len(steps))
    assert all(h > 0 for h in bar_heights(tokens))
    if all(len([s for s in steps if s["run_id"] == r["id"]]) == 1 for r in runs):
        assert all(h > 0 for h in bar_heights(latency))
    expect(latency).to_contain_text("Latency per step")

    # The newest run: its steps, then its messages inside them.
    newest = runs[0]
    run_steps = http.get(f"/v1/runs/{newest['id']}/steps").json()
    rows.nth(0).get_by_role("button", name=newest["id"]).click()
    detail = page.get_by_role("region", name=f"Run {newest['id']}")
    expect(detail.locator(".step")).to_have_count(len(run_steps))
    step = detail.locator(".step").first
    expect(step.locator(".step-head")).to_contain_text("Step 1")
    expect(step.locator(".step-head")).to_contain_text(run_steps[-1]["model_handle"] or run_steps[-1]["model"])
    for summary in detail.locator("summary", has_text="Messages").all():
        summary.click()
    expect(detail.locator(".msg-assistant_message").first).to_contain_text(f"second {uid}")
    expect(detail).not_to_contain_text(f"first {uid}")

    # The trace: the provider request and response the server kept for the step.
    step_id = step.get_attribute("data-step-id")
    trace = http.get(f"/v1/steps/{step_id}/trace").json()
    assert trace and trace["step_id"] == step_id
    step.locator("summary", has_text="Trace").click()
    expect(step.locator(".trace")).to_contain_text("Request")
    expect(step.locator(".trace pre.json").first).to_contain_text(f"second {uid}")
    expect(step.locator(".trace pre.json").last).to_contain_text(f"echo: second {uid}")
    shot(page, "runs")

    # Clicking the row again closes the run.
    rows.nth(0).click()
    expect(detail).to_have_count(0)


def test_runs_refresh_shows_a_new_run(page, ui_url, http, uid, fake):
    agent = make_agent(http, f"runs-refresh-{uid}")
    aid = agent["id"]
    page.goto(ui_url + f"#/agents/{aid}/runs")
    expect(page.locator(".panel.runs")).to_contain_text("No runs yet.")
    send(http, aid, f"hello {uid}")
    page.get_by_role("button", name="Refresh").click()
    rows = page.get_by_role("table", name="Runs").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator(".status")).to_have_text(["completed"])
    expect(page.locator('[data-chart="tokens"] svg rect')).to_have_count(
        len(http.get("/v1/steps/", params={"agent_id": aid}).json())
    )


def test_runs_refresh_by_themselves_while_one_is_running(page, ui_url, http, uid, fake):
    agent = make_agent(http, f"runs-live-{uid}")
    aid = agent["id"]
    fake.push({"text": f"slow answer {uid}", "delay_ms": 4000})
    r = http.post(
        f"/v1/agents/{aid}/messages/async",
        json={"messages": [{"role": "user", "content": f"take your time {uid}"}]},
    )
    assert r.status_code == 200, r.text
    run_id = r.json()["id"]
    page.goto(ui_url + f"#/agents/{aid}/runs")
    row = page.get_by_role("table", name="Runs").locator(f'tr[data-run-id="{run_id}"]')
    expect(row.locator(".status")).to_have_text(re.compile("^(created|running)$"))
    live = page.get_by_text("a run is active: refreshing every 5 s")
    expect(live).to_be_visible()
    # No click: the page polls while the run is active, then stops.
    expect(row.locator(".status")).to_have_text("completed", timeout=15_000)
    expect(live).to_have_count(0)
    assert http.get(f"/v1/runs/{run_id}").json()["status"] == "completed"


def test_runs_latency_bars_come_from_each_steps_metrics(page, ui_url, http, uid, fake, shot):
    agent = make_agent(http, f"runs-timed-{uid}")
    aid = agent["id"]
    fake.latency(120)
    fake.tool_call("conversation_search", {"query": f"nothing {uid}"})
    fake.text(f"found nothing {uid}")
    run_id = send(http, aid, f"search {uid}")["messages"][0]["run_id"]
    steps = http.get(f"/v1/runs/{run_id}/steps", params={"order": "asc"}).json()
    assert len(steps) == 2
    metrics = [http.get(f"/v1/steps/{s['id']}/metrics").json() for s in steps]
    assert all(m["step_ns"] >= m["llm_request_ns"] >= 120_000_000 for m in metrics), metrics
    run = http.get(f"/v1/runs/{run_id}").json()
    assert 120_000_000 <= run["ttft_ns"] <= run["total_duration_ns"]

    # A run of two steps: each bar is its own step's time, none borrowed from the run.
    page.goto(ui_url + f"#/agents/{aid}/runs")
    latency = page.locator('[data-chart="latency"]')
    expect(latency.locator("svg rect")).to_have_count(2)
    expect(latency).to_contain_text("Timings: 2 from the step's metrics.")
    assert all(h > 0 for h in bar_heights(latency))
    titles = latency.locator("svg rect title").all_text_contents()
    for title, m in zip(titles, metrics):
        assert title.endswith(f" {math.floor(m['step_ns'] / 1e6 + 0.5)} ms"), (title, m)
        assert f"model {fmt_ms(m['llm_request_ns'])}" in title

    # The run's steps: how long each took, its model call and its tools; the first token.
    page.get_by_role("table", name="Runs").get_by_role("button", name=run_id).click()
    detail = page.get_by_role("region", name=f"Run {run_id}")
    expect(detail).to_contain_text(f"first token after {fmt_ms(run['ttft_ns'])}")
    items = detail.locator(".step")
    expect(items).to_have_count(2)
    call, answer = metrics
    expect(items.nth(0).locator(".step-latency")).to_have_text(
        f"{fmt_ms(call['step_ns'])} (model {fmt_ms(call['llm_request_ns'])}, tools {fmt_ms(call['tool_execution_ns'])})"
    )
    expect(items.nth(1).locator(".step-latency")).to_have_text(
        f"{fmt_ms(answer['step_ns'])} (model {fmt_ms(answer['llm_request_ns'])})"
    )
    shot(page, "runs-step-timings")
