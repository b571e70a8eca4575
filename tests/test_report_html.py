"""Reports from stored rows: boards per (suite, budget, problem), Markdown / CSV / JSON, and the HTML page, which is also
opened in headless Chromium (skipped, saying why, where Chromium or Selenium is missing)."""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil

import pytest

import ncosolve
from ncosolve import benchmarks
from ncosolve import leaderboard as lb
from ncosolve import report
from ncosolve import catalog
from ncosolve.result import Result
from ncosolve.runner import Job, LocalRunner, Outcome
from ncosolve.store import ResultStore

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def identity(instance, time_limit, seed):
    return list(range(instance.n)), {}


def reverse_half(instance, time_limit, seed):
    n = instance.n
    return list(range(n // 2))[::-1] + list(range(n // 2, n)), {}


def singletons(instance, time_limit, seed):
    return [[c] for c in range(1, instance.n)], {}


def crash(instance, time_limit, seed):
    raise RuntimeError("boom")


@pytest.fixture(scope="module")
def results(tmp_path_factory, eil51, a_n32_k5):
    """A store with two budgets of one suite: eil51 (TSP) and A-n32-k5 (CVRP), three toy methods."""
    st70 = next(i for i in ncosolve.load_benchmark("tsplib-200") if i.name == "st70")
    benchmarks.register_suite("test-report", "routing", "eil51, st70 and A-n32-k5", "optima")(
        lambda: [eil51, st70, a_n32_k5])
    for name, fn, problems in (("r-identity", identity, ("tsp",)), ("r-half", reverse_half, ("tsp",)),
                               ("r-singletons", singletons, ("cvrp",)), ("r-crash", crash, ("tsp", "cvrp"))):
        ncosolve.register(name, problems, "test method")(fn)
    store = ResultStore(tmp_path_factory.mktemp("report"))
    names = ["r-identity", "r-half", "r-singletons", "r-crash"]
    for budget in (1.0, 2.0):
        lb.run_leaderboard("test-report", names, time_limit=budget, store=store, runner=LocalRunner(2))
    yield store
    for name in names + ["test-report"]:
        catalog.remove(name)


def test_boards_split_by_budget_and_problem_and_summaries_add_up(results, eil51):
    boards = report.boards(results.rows())
    assert [(b["suite"], b["time_limit"], b["problem"], b["instances"], b["seeds"]) for b in boards] == [
        ("test-report", 1.0, "tsp", 2, [0]), ("test-report", 1.0, "cvrp", 1, [0]),
        ("test-report", 2.0, "tsp", 2, [0]), ("test-report", 2.0, "cvrp", 1, [0])]
    summary = {s["method"]: s for s in boards[0]["summary"]}
    assert [s["method"] for s in boards[0]["summary"]] == sorted(summary) == ["r-crash", "r-half", "r-identity"]
    assert summary["r-crash"]["runs"] == 2 and summary["r-crash"]["feasible_pct"] == 0
    identity_cost = ncosolve.evaluate(eil51, list(range(51)))
    half_cost = ncosolve.evaluate(eil51, reverse_half(eil51, 1, 0)[0])
    assert summary["r-identity"]["wins"] + summary["r-half"]["wins"] == 2  # one win per TSP instance
    assert summary["r-identity"]["runs"] == 2 and all(s["problem"] == "tsp" for s in summary.values())
    vrp = {s["method"]: s for s in boards[1]["summary"]}
    assert set(vrp) == {"r-crash", "r-singletons"} and vrp["r-singletons"]["wins"] == 1
    eil = {r["method"]: r for r in boards[0]["rows"] if r["instance"] == "eil51"}
    assert eil["r-identity"]["cost"] == identity_cost and eil["r-half"]["cost"] == half_cost
    assert report.board_title(boards[2]) == "test-report: tsp, 2 s per job, 2 instances, seed 0"


def test_markdown_csv_and_json(results, tmp_path):
    rows = results.rows()
    md = report.to_markdown(rows)
    assert md.count("## test-report") == 4 and md.count("| r-crash | 2 | 0 | - | - |") == 2
    assert md.count("| r-crash | 1 | 0 | - | - |") == 2
    report.write_summary_csv(rows, tmp_path / "s.csv")
    with open(tmp_path / "s.csv") as f:
        lines = list(csv.DictReader(f))
    assert len(lines) == 10 and {r["time_limit"] for r in lines} == {"1.0", "2.0"}
    assert {(r["problem"], r["method"]) for r in lines if r["time_limit"] == "1.0"} == {
        ("tsp", "r-identity"), ("tsp", "r-half"), ("tsp", "r-crash"), ("cvrp", "r-singletons"), ("cvrp", "r-crash")}
    assert all(r["mean_gap"] == "" for r in lines if r["method"] == "r-crash")
    report.write_report_json(rows, tmp_path / "s.json", results.runs())
    doc = json.loads((tmp_path / "s.json").read_text())
    assert [b["time_limit"] for b in doc["boards"]] == [1.0, 1.0, 2.0, 2.0]
    assert [b["problem"] for b in doc["boards"]] == ["tsp", "cvrp"] * 2 and doc["environment"]["versions"]["ncosolve"]
    assert "rows" not in doc["boards"][0] and len(doc["boards"][0]["summary"]) == 3


def test_html_page_is_self_contained_with_tables_plots_and_solutions(results, tmp_path):
    page = report.write_html(results.rows(), tmp_path / "site", results.runs()).read_text()
    assert page.count('<table class="sortable" id="summary-') == 4 and page.count('id="jobs-') == 4
    images = re.findall(r'<img class="(\w+)" alt="([^"]*)" src="data:image/png;base64,([^"]+)"', page)
    kinds = [k for k, _, _ in images]
    assert kinds.count("plot") == 4 and kinds.count("solution") == 2 * 3  # per budget: tour best, worst; routes
    for _, _, data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    captions = [alt for k, alt, _ in images if k == "solution"][:3]
    assert captions[0].startswith("eil51: r-") and captions[2].startswith("A-n32-k5: r-singletons")
    assert "http://" not in page and "https://" not in page  # nothing fetched from the network


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                    reason="headless Chromium test needs Debian's chromium and chromium-driver "
                           "(apt-get install -y chromium chromium-driver)")
def test_page_loads_sorts_on_click_and_renders_images_in_chromium(results, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="headless Chromium test needs pip install selenium")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    path = report.write_html(results.rows(), tmp_path / "site", results.runs())
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(path.as_uri())
        assert driver.title == "ncosolve leaderboard"
        sizes = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
        assert len(sizes) == 4 + 6 and all(ok and w > 100 and h > 100 for ok, w, h in sizes)
        table = driver.find_element(By.ID, "summary-0")

        def column(k):
            return [tr.find_elements(By.TAG_NAME, "td")[k].text for tr in table.find_elements(By.CSS_SELECTOR,
                                                                                                "tbody tr")]

        headers = table.find_elements(By.TAG_NAME, "th")
        gap_col = [h.text for h in headers].index("mean gap %")
        headers[gap_col].click()
        gaps = column(gap_col)
        numbers = [float(g) for g in gaps if g != "-"]
        assert numbers == sorted(numbers) and gaps[-1] == "-"  # ascending, missing last
        assert headers[gap_col].get_attribute("aria-sort") == "ascending"
        headers[gap_col].click()
        gaps = column(gap_col)
        numbers = [float(g) for g in gaps if g != "-"]
        assert numbers == sorted(numbers, reverse=True) and gaps[-1] == "-"
        headers[0].click()
        assert column(0) == sorted(column(0)) and headers[gap_col].get_attribute("aria-sort") is None
    finally:
        driver.quit()


def _wait(instance, time_limit, seed):
    """Lifelong paths of agents that never move (throughput 0)."""
    import numpy as np

    return np.repeat(instance.starts[:, None], instance.horizon + 1, axis=1), {}


def test_page_draws_mapf_paths_and_network_flows_best_first_for_either_objective_sense(toy_methods, tmp_path):
    import subprocess

    toy_methods("r-wait", _wait, problems=("mapf-lifelong",))
    store = ResultStore(tmp_path / "store")
    lifelong = lb.run_leaderboard("mapf-lifelong", ["r-wait", "mapf-pibt"], time_limit=1, store=store)
    braess = ncosolve.load_benchmark("ndp-synthetic")[0]
    for method, design, cost in (("r-build", [1], 552.0), ("r-skip", [0], 498.0)):  # Braess: building costs time
        job = Job(braess, method, 1.0, suite="ndp-synthetic")
        store.append(lb.row_of(job, Outcome(Result(design, cost, True, 0.1, method))))
    out = tmp_path / "site"
    # the page is written by the console script, as a user would
    proc = subprocess.run(["ncosolve", "leaderboard", "report", str(tmp_path / "store"), "--html", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    page = (out / "index.html").read_text()
    images = re.findall(r'<img class="(\w+)" alt="([^"]*)" src="data:image/png;base64,([^"]+)"', page)
    captions = [alt for kind, alt, _ in images if kind == "solution"]
    best = max((r for r in lifelong if r["feasible"]), key=lambda r: r["cost"])
    assert captions[0].startswith(f"{best['instance']}: {best['method']}, cost {best['cost']:.6g}")
    assert best["method"] == "mapf-pibt" and captions[1].startswith(f"{best['instance']}: r-wait, cost 0")
    assert [c.split(", gap")[0] for c in captions[2:]] == ["Braess-dndp: r-skip, cost 498",
                                                            "Braess-dndp: r-build, cost 552"]  # lowest first
    assert captions[3].endswith("gap 10.84 %")  # against the stored optimum of Braess, 498
    assert [kind for kind, _, _ in images].count("plot") == 2
    assert page.count("higher is better") == 1  # the lifelong board's title only
    for _, _, data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
