"""The benchmark harness (not its numbers): the pairing of turns, the per-round ratio statistics (pure
functions fed made-up timings), and one short real run where the workers take turns."""

import itertools

import pytest

from ownnet.apps import bench
from ownnet.apps.bench.machine import cpu_model, openblas_overrides
from ownnet.apps.bench.rounds import per_round_peak_shares


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


def test_unknown_system_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--systems", "ownnet,keras"])
    assert "unknown system or net keras" in capsys.readouterr().err
