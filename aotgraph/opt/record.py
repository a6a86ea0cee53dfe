"""What the optimizer did: the rules that fired, node counts and times per pass.

Pass an :class:`OptRecord` to :func:`aotgraph.opt.optimize_graph` and read it
afterwards (``aotgraph inspect`` prints it).

>>> rec = OptRecord()
>>> rec.note_fired("canonicalize", "double_neg", "neg(neg(x))")
>>> rec.rule_counts()
{('canonicalize', 'double_neg'): 1}
"""

from __future__ import annotations

from collections import Counter


class OptRecord:
    """A log of one optimization run.

    ``fired``: ``(pass, rule, node label)`` per rewrite, in order.
    ``node_counts``: ``(pass, number of apply nodes after it)``; the first
    entry is ``("input", n)``.  ``times``: ``(pass, seconds)``.
    ``rejected``: ``(pass, rule, reason)`` for replacements the driver
    refused (a rule proposing a wrong dtype or a less specific shape).
    ``budget_hits``: passes stopped by their iteration or node budget.
    """

    def __init__(self):
        self.fired = []
        self.node_counts = []
        self.times = []
        self.rejected = []
        self.budget_hits = []

    def note_fired(self, pass_name, rule, label):
        self.fired.append((pass_name, rule, label))

    def rule_counts(self) -> dict:
        """``{(pass, rule): times fired}`` in first-fired order."""
        return dict(Counter((p, r) for p, r, _ in self.fired))

    def fired_rules(self) -> set:
        return {r for _, r, _ in self.fired}

    def summary(self) -> str:
        """Human-readable table of node counts, times and rule counts."""
        lines = ["nodes per pass:"]
        times = dict(self.times)
        for name, count in self.node_counts:
            t = times.get(name)
            extra = f"  ({t * 1000:.1f} ms)" if t is not None else ""
            lines.append(f"  {name:<14} {count:>6}{extra}")
        lines.append("rules fired:")
        counts = self.rule_counts()
        if not counts:
            lines.append("  (none)")
        for (pass_name, rule), n in counts.items():
            lines.append(f"  {pass_name:<14} {rule:<32} x{n}")
        for pass_name, reason in self.budget_hits:
            lines.append(f"  budget: {pass_name} stopped ({reason})")
        for pass_name, rule, why in self.rejected:
            lines.append(f"  rejected: {pass_name} {rule}: {why}")
        return "\n".join(lines)
