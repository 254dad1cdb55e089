"""The answers to the lab's four questions, generated sentence by sentence from the measured numbers.

Every sentence states a measurement or a comparison, and every comparison goes through ``compare``: two
means count as different only when they differ by more than their spreads together (the spread is the
standard deviation over the seeds); with one seed nothing is called different. So each sentence
changes when the numbers behind it change (tests/apps/test_lab.py checks that it does).

``summaries``: ``{name: summarize(run)}`` (``stats.summarize``), names as ``"2-layer tanh"``.
"""


def compare(a, b):
    """``"higher"``, ``"lower"``, ``"within the spread"`` (|a − b| <= spread(a) + spread(b)) or
    ``"one seed"`` (no spread measured: no verdict)."""
    if min(a.n, b.n) < 2:
        return "one seed"
    if abs(a.mean - b.mean) <= a.spread + b.spread:
        return "within the spread"
    return "higher" if a.mean > b.mean else "lower"


def _versus(a, b, what_a, what_b, digits=4):
    """``"what_a (a) is ahead of / behind / level with what_b (b)"`` with the verdict's reason."""
    verdict = compare(a, b)
    difference = f"{a.mean - b.mean:+.{digits}f}"
    if verdict == "one seed":
        return (f"{what_a} ({a.text(digits)}) against {what_b} ({b.text(digits)}): a difference of "
                f"{difference} that one seed cannot tell from noise (run with --seeds 3)")
    if verdict == "within the spread":
        return (f"{what_a} ({a.text(digits)}) and {what_b} ({b.text(digits)}) differ by {difference}, "
                "within their spreads: no measurable difference")
    word = "ahead of" if verdict == "higher" else "behind"
    return (f"{what_a} ({a.text(digits)}) is {word} {what_b} ({b.text(digits)}) by {difference}, "
            "more than their spreads together")


def _sentence(text):
    return text[0].upper() + text[1:] + "."


def _depth(summaries, depth):
    return {name: s for name, s in summaries.items() if s["layers"] == depth}


def activation_matters(summaries):
    """Question 1: does the activation between the layers matter?"""
    two = _depth(summaries, 2)
    ranked = sorted(two, key=lambda name: -two[name]["val"].mean)
    best, worst = ranked[0], ranked[-1]
    lines = ["Final validation accuracy of the 2-layer nets, best first: "
             + ", ".join(f"{name} {two[name]['val'].text()}" for name in ranked) + "."]
    lines.append(_sentence(_versus(two[best]["val"], two[worst]["val"], best, worst)))
    if "1-layer" in summaries:
        lines.append(_sentence(_versus(two[best]["val"], summaries["1-layer"]["val"], best,
                                       "the 1-layer net (no activation: one linear map)")))
    fastest = max(two, key=lambda name: two[name]["first_val"].mean)
    slowest = min(two, key=lambda name: two[name]["first_val"].mean)
    lines.append("After the first epoch: " + _versus(two[fastest]["first_val"], two[slowest]["first_val"],
                                                     fastest, slowest) + ".")
    growth = {name: two[name]["weight_growth"] for name in two}
    most, least = max(growth, key=lambda n: growth[n].mean), min(growth, key=lambda n: growth[n].mean)
    lines.append(f"The first layer's max |w| grew most in {most} (x{growth[most].text(2)} from epoch 1 to "
                 f"the last) and least in {least} (x{growth[least].text(2)}).")
    return lines


def depth_pays(summaries):
    """Question 2: 2 or 3 layers?"""
    two, three = _depth(summaries, 2), _depth(summaries, 3)
    lines, verdicts = [], {}
    for name, deeper in three.items():
        shallow = two[name.replace("3-layer", "2-layer")]
        verdicts[deeper["activation"]] = compare(deeper["val"], shallow["val"])
        versus = _versus(deeper["val"], shallow["val"], "3 layers", "2 layers")
        cost = _training_time(deeper["seconds"], shallow["seconds"])
        lines.append(f"{deeper['activation']}: {versus}; {cost}.")
    gains = sorted(a for a, v in verdicts.items() if v == "higher")
    losses = sorted(a for a, v in verdicts.items() if v == "lower")
    if gains:
        lines.append(f"A third layer pays off, measurably, with {', '.join(gains)}.")
    if losses:
        lines.append(f"A third layer costs accuracy, measurably, with {', '.join(losses)}.")
    if not gains and not losses:
        lines.append("For no activation does a third layer change validation accuracy measurably here.")
    return lines


def _training_time(deeper, shallow):
    """The time a third layer costs, if the seeds' times tell it apart (a shared machine may not)."""
    if compare(deeper, shallow) in ("higher", "lower"):
        return f"it trains {deeper.mean / max(shallow.mean, 1e-9):.1f}x as long"
    return (f"training times ({deeper.text(1)} s against {shallow.text(1)} s) do not tell the two apart "
            "on this machine")


def depth_problems(summaries):
    """Question 3: what goes wrong as depth grows? Slow starts, shrinking gradients, saturation,
    overfitting."""
    two, three, lines = _depth(summaries, 2), _depth(summaries, 3), []
    for name, deeper in three.items():
        shallow = two[name.replace("3-layer", "2-layer")]
        activation = deeper["activation"]
        start = _versus(deeper["first_val"], shallow["first_val"], "the 3-layer net", "the 2-layer net")
        shrink = _shrinking(compare(deeper["grad_ratio"], shallow["grad_ratio"]), deeper["grad_ratio"].mean)
        lines.append(f"{activation}: after one epoch {start}. In the first epoch the first layer's mean "
                     f"gradient norm is {deeper['grad_ratio'].text(3)} times the last layer's with 3 layers "
                     f"against {shallow['grad_ratio'].text(3)} with 2, {shrink}.")
        if deeper["saturation_first"] is not None:
            lines.append(f"{activation}: after one epoch {_percent(deeper['saturation_first'])} of the "
                         f"3-layer net's {activation} units are saturated (|input| > 2) against "
                         f"{_percent(shallow['saturation_first'])} with 2 layers.")
    gaps = {name: s["gap"] for name, s in summaries.items()}
    widest = max(gaps, key=lambda name: gaps[name].mean)
    lines.append(f"The gap between training accuracy (end of epoch) and validation accuracy is widest for "
                 f"{widest}: {gaps[widest].text()}; its best validation epoch came at "
                 f"{summaries[widest]['best_epoch'].text(1)} on average.")
    return lines


def _shrinking(verdict, deeper_ratio):
    """What the first-to-last gradient ratios of the deeper and the shallower net say."""
    if verdict == "lower" and deeper_ratio < 1:
        return "so the gradient shrinks on its way back, more with the extra layer: a vanishing gradient"
    if verdict == "lower":
        return ("so the first layer still gets more gradient than the last, but relatively less with the "
                "extra layer")
    if verdict == "higher":
        return "so the extra layer does not shrink the gradient that reaches the first layer"
    if verdict == "within the spread":
        return "a difference the spreads do not resolve"
    return "one seed: no verdict"


def _percent(stat):
    text = f"{100 * stat.mean:.1f}%"
    return text + (f" ± {100 * stat.spread:.1f}" if stat.n > 1 else "")


def weights_behave(summaries):
    """Question 4: how do the weights behave during training?"""
    growth = {name: s["weight_growth"] for name, s in summaries.items()}
    grew = [name for name, g in growth.items() if g.mean > 1]
    lines = ["The first layer's max |w|, last epoch over epoch 1: "
             + ", ".join(f"{name} x{g.text(2)}" for name, g in growth.items())
             + f". It grew in {len(grew)} of {len(growth)} nets."]
    for name, s in summaries.items():
        if s["saturation_first"] is None:
            continue
        verdict = compare(s["saturation_last"], s["saturation_first"])
        change = {"higher": "rose", "lower": "fell"}.get(verdict, "did not change measurably"
                                                         if verdict == "within the spread" else "changed")
        lines.append(f"{name}: the fraction of saturated units {change}, from "
                     f"{_percent(s['saturation_first'])} after epoch 1 to {_percent(s['saturation_last'])}.")
    over = {name: s["overconfidence"] for name, s in summaries.items()}
    lines.append("Mean confidence (largest predicted probability) minus validation accuracy at the end: "
                 + ", ".join(f"{name} {o.text(4)}" for name, o in over.items()) + ". " + _confidence(over))
    return lines


def _confidence(over):
    """Which nets claim more confidence than their accuracy: beyond the spread, or (one seed) at all."""
    if min(o.n for o in over.values()) < 2:
        above = [name for name, o in over.items() if o.mean > 0]
        return (f"Above their accuracy (one seed, no spread): {', '.join(above)}." if above
                else "No net's confidence is above its accuracy (one seed).")
    confident = [name for name, o in over.items() if o.mean - o.spread > 0]
    return (f"Over-confident beyond the spread: {', '.join(confident)}." if confident
            else "No net is over-confident beyond the spread.")


QUESTIONS = [
    ("1. Does the activation between the layers matter?", activation_matters),
    ("2. Do we need 2 or 3 layers?", depth_pays),
    ("3. What goes wrong as depth grows?", depth_problems),
    ("4. How do the weights behave?", weights_behave),
]
