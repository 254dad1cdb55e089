"""The benchmark harness (not its numbers): the pairing of turns, the per-round ratio statistics (pure
functions fed made-up timings), and one short real run where the workers take turns."""

import itertools

import pytest

from ownnet.apps import bench
from ownnet.apps.bench import report
from ownnet.apps.bench.machine import cpu_model, openblas_overrides
from ownnet.apps.bench.rounds import per_round_peak_shares
from ownnet.apps.bench.run import worker_environment


def test_flops_per_epoch_counts_forward_and_backward():
    assert bench.flops_per_epoch([784, 512, 256, 10], 60000) == 6 * 60000 * (784 * 512 + 512 * 256 + 256 * 10)


def test_turn_order_runs_every_system_once_and_alternates():
    names = ["torch", "ownnet", "ceiling", "peak"]
    assert bench.turn_order(names, 0) == names
    assert bench.turn_order(names, 1) == ["peak", "ceiling", "ownnet", "torch"]
    assert bench.turn_order(names, 2) == names
    before = {pair: 0 for pair in itertools.permutations(names, 2)}
    for index in range(6):
        order = bench.turn_order(names, index)
        assert sorted(order) == sorted(names)
        for a, b in itertools.combinations(order, 2):
            before[(a, b)] += 1
    assert set(before.values()) == {3}  # over 6 rounds each system goes first against each other 3 times


def test_per_round_ratios_cancel_a_drifting_machine():
    # The machine alternates between fast and 2x slower rounds; ownnet is 1.25x torch in every round.
    slow = [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]
    seconds = {"ownnet": [4.0] + slow[1:], "torch": [1.0] + [1.25 * s for s in slow[1:]]}
    assert bench.per_round_speedups(seconds, "ownnet", "torch") == pytest.approx([0.25] + [1.25] * 5)
    ratio = bench.paired_ratios(seconds)["ownnet / torch"]
    assert ratio["median"] == pytest.approx(1.25)  # round 1 (0.25x: warm-up) is left out
    assert (ratio["min"], ratio["max"]) == pytest.approx((1.25, 1.25))
    assert len(ratio["all"]) == 5


def test_paired_ratios_median_and_range_of_the_rounds():
    seconds = {"ownnet": [9.0, 1.0, 1.0, 1.0, 1.0], "ceiling": [1.0, 0.9, 1.0, 0.8, 0.95],
               "torch": [1.0, 1.2, 1.5, 1.3, 1.1]}
    ratios = bench.paired_ratios(seconds)
    assert set(ratios) == {"ownnet / ceiling", "ownnet / torch"}
    assert ratios["ownnet / ceiling"]["median"] == pytest.approx(0.925)  # the mean of the middle two
    assert (ratios["ownnet / ceiling"]["min"], ratios["ownnet / ceiling"]["max"]) == pytest.approx((0.8, 1.0))
    assert ratios["ownnet / torch"]["median"] == pytest.approx(1.25)
    assert bench.paired_ratios({"torch": [1.0]}) == {}  # no ownnet, no ratios


def test_ratios_need_the_same_rounds():
    with pytest.raises(ValueError):
        bench.per_round_speedups({"ownnet": [1.0, 1.0], "torch": [1.0]}, "ownnet", "torch")


def test_steady_and_spread():
    assert bench.steady([5, 1, 2]) == [1, 2] and bench.steady([5]) == [5]
    assert bench.spread([3, 1, 2]) == {"median": 2, "min": 1, "max": 3, "all": [3, 1, 2]}


def test_peak_share_uses_each_rounds_own_peak():
    shares = per_round_peak_shares([1.0, 2.0], [100.0, 50.0], flops=100e9)
    assert shares == pytest.approx([1.0, 1.0])  # slower round, lower peak: the same share


def test_machine_records_cpu_and_openblas_overrides():
    assert cpu_model()
    assert openblas_overrides({"OPENBLAS_CORETYPE": "Haswell", "PATH": "/bin"}) == {
        "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": None}


@pytest.mark.usefixtures("mnist_dir")
def test_compare_runs_workers_in_turn():
    run = bench.compare("small", epochs=3, threads=1, systems=("ownnet", "numpy", "ceiling"), limit=3000,
                        log=lambda _: 0, peak_seconds=0.2, settle_seconds=0.0)
    assert set(run["systems"]) == {"ownnet", "numpy", "ceiling"}
    for result in run["systems"].values():
        assert len(result["all"]) == 3 and result["seconds_per_epoch"] > 0
        assert result["peak_rss_mib"] > 10 and 0 < result["peak_share"]["median"]
    for system in ("ownnet", "numpy"):
        assert 0.7 < run["systems"][system]["test_accuracy"] <= 1.0  # both learn the small net
    assert run["systems"]["ceiling"]["test_accuracy"] is None  # products and updates only: no model
    assert run["turn_orders"][0] == ["ownnet", "numpy", "ceiling", "peak"]
    assert run["turn_orders"][1] == ["peak", "ceiling", "numpy", "ownnet"]
    assert set(run["ratios"]) == {"ownnet / numpy", "ownnet / ceiling"}
    times = run["systems"]
    assert run["ratios"]["ownnet / numpy"]["all"] == pytest.approx(
        [n / o for n, o in zip(times["numpy"]["all"][1:], times["ownnet"]["all"][1:])])
    assert len(run["sgemm_peak_all"]) == 3 and all(p > 0.1 for p in run["sgemm_peak_all"])
    assert "peak" not in run["blas"] and set(run["blas"]) == set(run["systems"])
    text = bench.markdown({"machine": "test", "date": "today", "threads": 1, "note": "tree X",
                           "openblas_overrides": {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": None},
                           "runs": [{**run, "environment": "as set"}]})
    assert "| ownnet |" in text and "| ownnet / numpy |" in text and "| ownnet / ceiling |" in text
    assert "| ceiling |" in text and "in turns with the systems" in text and "backwards" in text
    assert "OPENBLAS_CORETYPE=Haswell" in text and "Code measured: tree X" in text
    assert set(run["phases"]) <= {"fast", "slow"} and "Phases of the host (CPU not recorded)" in text
    assert sum(len(phase["rounds"]) for phase in run["phases"].values()) == 2  # the steady rounds


def test_workers_hold_every_thread_pool_to_the_threads_asked():
    env = worker_environment({"PATH": "/bin"}, 1)
    assert {env[name] for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")} == {"1"}


def test_unknown_system_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--systems", "ownnet,keras"])
    assert "unknown system or net keras" in capsys.readouterr().err


def test_phases_split_the_rounds_at_the_widest_step_of_the_sgemm_rate():
    # a host that drifts 2x: rates around 160 and around 80 GFLOP/s, in any order
    peaks = [158.0, 81.0, 150.0, 77.0, 84.0, 162.0]
    assert bench.phases(peaks) == ["fast", "slow", "fast", "slow", "slow", "fast"]
    # noise of a steady host (< 25% between neighbours): one pace, every round fast
    assert bench.phases([150.0, 141.0, 160.0, 155.0]) == ["fast"] * 4
    # the widest step wins over a smaller one that is also above the gap
    assert bench.phases([100.0, 130.0, 300.0]) == ["slow", "slow", "fast"]
    assert bench.phases([120.0]) == ["fast"] and bench.phases([]) == []
    assert bench.phases([100.0, 119.0], gap=1.1) == ["slow", "fast"]


def test_ratios_by_phase_pair_the_rounds_of_each_phase_apart():
    # round 1 is warm-up; rounds 2, 4 fast (peak 160), rounds 3, 5, 6 slow (peak 80). ownnet is 1.4x
    # torch in the fast rounds and 1.1x in the slow ones.
    peaks = [60.0, 160.0, 80.0, 158.0, 79.0, 82.0]
    torch = [5.0, 1.4, 2.2, 1.4, 2.2, 2.2]
    ownnet = [9.0, 1.0, 2.0, 1.0, 2.0, 2.0]
    result = bench.paired_ratios_by_phase({"ownnet": ownnet, "torch": torch}, peaks)
    assert result["fast"]["rounds"] == [2, 4] and result["slow"]["rounds"] == [3, 5, 6]
    assert result["fast"]["ratios"]["ownnet / torch"]["median"] == pytest.approx(1.4)
    assert result["slow"]["ratios"]["ownnet / torch"]["all"] == pytest.approx([1.1] * 3)
    assert result["slow"]["sgemm_peak"]["min"] == 79.0 and result["fast"]["sgemm_peak"]["max"] == 160.0
    together = bench.paired_ratios({"ownnet": ownnet, "torch": torch})["ownnet / torch"]
    assert together["median"] == pytest.approx(1.1)  # all rounds together: the slow ones outnumber
    steady_host = bench.paired_ratios_by_phase({"ownnet": ownnet, "torch": torch}, [100.0] * 6)
    assert set(steady_host) == {"fast"} and steady_host["fast"]["rounds"] == [2, 3, 4, 5, 6]


def test_the_report_gives_each_phase_with_the_cpu_model():
    seconds = {"ownnet": [9.0, 1.0, 2.0, 1.0, 2.0], "torch": [5.0, 1.4, 2.2, 1.4, 2.2]}
    peaks = [60.0, 160.0, 80.0, 158.0, 79.0]
    run = {"net": "canonical", "ratios": bench.paired_ratios(seconds),
           "phases": bench.paired_ratios_by_phase(seconds, peaks)}
    lines = report.ratios_table(run, cpu="AMD EPYC (AuthenticAMD, cpu family 23, model 49)")
    row = next(line for line in lines if line.startswith("| ownnet / torch |"))
    assert "1.40x (1.40-1.40, 2)" in row and "1.10x (1.10-1.10, 2)" in row
    assert lines[-1].startswith("Phases of the host (AMD EPYC (AuthenticAMD, cpu family 23, model 49))")
    assert "fast rounds 2, 4 (SGEMM 158-160 GFLOP/s)" in lines[-1] and "slow rounds 3, 5" in lines[-1]
    one_pace = report.ratios_table({**run, "phases": bench.paired_ratios_by_phase(seconds, [100.0] * 5)})
    assert "one pace" in one_pace[-1] and "| - |" in one_pace[2]  # no slow rounds: a dash


def test_the_reach_is_the_ceiling_over_torch_and_is_reported_after_ownnets_rows():
    # round 1 warm-up; rounds 2, 4 fast, 3, 5 slow; the ceiling is 1.5x torch in fast rounds, 1.2x in slow
    seconds = {"ownnet": [9.0, 1.0, 2.0, 1.0, 2.0], "torch": [5.0, 1.5, 2.4, 1.5, 2.4],
               "ceiling": [8.0, 1.0, 2.0, 1.0, 2.0]}
    peaks = [60.0, 160.0, 80.0, 158.0, 79.0]
    ratios, by_phase = bench.paired_ratios(seconds), bench.paired_ratios_by_phase(seconds, peaks)
    bench.add_reach(ratios, by_phase, seconds, peaks)
    assert ratios["ceiling / torch"]["all"] == pytest.approx([1.5, 1.2, 1.5, 1.2])
    assert by_phase["fast"]["ratios"]["ceiling / torch"]["median"] == pytest.approx(1.5)
    assert by_phase["slow"]["ratios"]["ceiling / torch"]["median"] == pytest.approx(1.2)
    lines = report.ratios_table({"net": "canonical", "ratios": ratios, "phases": by_phase})
    rows = [line for line in lines if line.startswith("| ")][2:]
    assert rows[-1].startswith("| ceiling / torch (the reach") and "1.50x (1.50-1.50, 2)" in rows[-1]
    assert rows[0].startswith("| ownnet / torch |")
    # without the ceiling or without torch there is no reach, and nothing fails
    alone = {"ownnet": seconds["ownnet"], "torch": seconds["torch"]}
    ratios = bench.paired_ratios(alone)
    bench.add_reach(ratios, bench.paired_ratios_by_phase(alone, peaks), alone, peaks)
    assert "ceiling / torch" not in ratios
