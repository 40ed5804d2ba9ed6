"""evolution: what the week says the system should change, proposed and never applied.

The deterministic path runs first: from the week's memories, signals, weight changes and the
ecosystem watch it gathers the evidence per source, interest and watched project, and proposes
by rules (a source with more bad outcomes than good: drop it; a site the owner liked twice that
is no source: add it; an interest the signals moved: adjust it; a project with newer releases:
plan the upgrade). The LLM then gets that evidence and those proposals as data and may refine
them; a proposal of its own about anything the evidence does not name is dropped. Without the LLM
the deterministic proposals stand, and the section says it is the fallback.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from overnight_assets.resources.cortex import stable_json
from overnight_assets.resources.llm import as_data, within_budget
from overnight_assets.section import Line, Section, bold, italic, markdown_of
from overnight_assets.status import Status

if TYPE_CHECKING:
    from overnight_assets.config import Interest, Source
    from overnight_assets.weekly.store import Signal
    from overnight_assets.weekly.weeks import Week

SECTION_ORDER = 90  # after the nightly sections
LIKED_TWICE = 2  # liked items from one site that is no source: propose adding it
EVIDENCE_BYTES = 24_000  # of the prompt's data
MAX_PROPOSALS = 20

EVOLUTION_SYSTEM = (
    "You review one week of a personal reading and homelab assistant and propose concrete changes: "
    "reading sources to add or drop, interests to adjust, upgrades to plan. Use only the evidence given; "
    "name the exact source, site, interest topic or project each proposal is about; keep the proposals "
    "given when they are sound, improve their wording, drop those the evidence does not support."
)

Kind = Literal["add_source", "drop_source", "adjust_interest", "plan_upgrade"]


class Proposal(BaseModel):
    kind: Kind
    target: str = Field(description="The exact source name, site, interest topic or project the change is about")
    change: str = Field(description="The concrete change, one sentence")
    why: str = Field(description="The evidence for it, a few words")


class Proposals(BaseModel):
    proposals: list[Proposal] = Field(max_length=MAX_PROPOSALS)


@dataclass
class Evidence:
    memories: int = 0
    signals: int = 0
    sources: dict[str, Counter] = field(default_factory=dict)  # name -> kept, good, bad, failures
    interests: dict[str, Counter] = field(default_factory=dict)  # topic -> good, bad, and each word's count
    liked_sites: Counter = field(default_factory=Counter)  # hosts of liked items that are no source
    upgrades: list[dict] = field(default_factory=list)  # watched projects with newer releases
    weight_changes: list[dict] = field(default_factory=list)
    failed_watch: list[str] = field(default_factory=list)  # "name: source (why)"

    def targets(self) -> set[str]:
        """What a proposal may be about: anything the evidence names."""
        return {*self.sources, *self.interests, *self.liked_sites, *(u["name"] for u in self.upgrades)}

    def to_dict(self) -> dict:
        return {
            "memories": self.memories,
            "signals": self.signals,
            "sources": {name: dict(counts) for name, counts in self.sources.items()},
            "interests": {topic: dict(counts) for topic, counts in self.interests.items()},
            "liked_sites_not_sources": dict(self.liked_sites),
            "upgrades": self.upgrades,
            "weight_changes": self.weight_changes,
            "ecosystem_watch_failed": self.failed_watch,
        }


def gather(
    memories: list[dict],
    signals: list[Signal],
    weight_changes: list[dict],
    watched: list[dict],
    sources: list[Source],
    interests: list[Interest],
    moved: dict[tuple[str, str], list],
) -> Evidence:
    """The week's evidence; `moved`: habits.moved_by's signals per source and interest."""
    evidence = Evidence(len(memories), len(signals), weight_changes=weight_changes)
    evidence.sources = {source.name: Counter(kept=0, good=0, bad=0, failures=0) for source in sources}
    for memory in memories:
        if memory["source"] in evidence.sources:
            evidence.sources[memory["source"]]["kept"] += 1
    for (kind, target), found in moved.items():
        counts = evidence.sources[target] if kind == "source" else evidence.interests.setdefault(target, Counter())
        for item in found:
            counts["failures" if item.signal.kind == "failure" else "good" if item.signal.polarity > 0 else "bad"] += 1
            counts.update(f"word {word}" for word in item.words)
    configured_hosts = {_host(source.url) for source in sources}
    for signal in signals:
        host = _host(signal.url or "")
        if signal.polarity > 0 and host and host not in configured_hosts:
            evidence.liked_sites[host] += 1
    for project in watched:
        if project.get("newer"):
            evidence.upgrades.append(_upgrade(project))
        evidence.failed_watch += [
            f"{project['name']}: {kind} ({outcome.get('error', 'failed')})"
            for kind, outcome in project.get("sources", {}).items()
            if outcome.get("outcome") == "failed"
        ]
    return evidence


def _upgrade(project: dict) -> dict:
    newest = project["newer"][0]
    return {
        "name": project["name"],
        "in_use": project["in_use"],
        "latest": newest["version"],
        "newer_releases": len(project["newer"]),
        "headlines": [line for release in project["newer"] for line in release.get("headlines", [])][:5],
    }


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").removeprefix("www.")
    except ValueError:
        return ""


def deterministic(evidence: Evidence) -> list[Proposal]:
    """The rules of the module's docstring, in a stable order."""
    proposals = []
    for name, c in sorted(evidence.sources.items()):
        against = c["bad"] + c["failures"]
        if against > c["good"] and against >= 2:
            why = f"{c['bad']} bad, {c['failures']} failure(s), {c['good']} good signal(s); {c['kept']} item(s) kept"
            proposals.append(Proposal(kind="drop_source", target=name, change=f"Drop or replace {name}", why=why))
    for host, count in sorted(evidence.liked_sites.items(), key=lambda pair: (-pair[1], pair[0])):
        if count >= LIKED_TWICE:
            change = f"Add a feed from {host}"
            proposals.append(
                Proposal(kind="add_source", target=host, change=change, why=f"{count} liked items from it")
            )
    for topic, c in sorted(evidence.interests.items()):
        if net := c["good"] - c["bad"] - c["failures"]:
            words = ", ".join(key.removeprefix("word ") for key, _ in c.most_common() if key.startswith("word "))
            change = f"{'Raise' if net > 0 else 'Lower'} the weight of {topic}"
            why = f"net {net:+d} signal(s); words: {words or 'none'}"
            proposals.append(Proposal(kind="adjust_interest", target=topic, change=change, why=why))
    for up in evidence.upgrades:
        change = f"Plan the upgrade of {up['name']} from {up['in_use']} to {up['latest']}"
        why = f"{up['newer_releases']} newer release(s)" + (
            f": {'; '.join(up['headlines'][:2])}" if up["headlines"] else ""
        )
        proposals.append(Proposal(kind="plan_upgrade", target=up["name"], change=change, why=why))
    return proposals


def evolution_prompt(week: Week, evidence: Evidence, proposals: list[Proposal]) -> str:
    data = stable_json({"evidence": evidence.to_dict(), "proposals": [p.model_dump() for p in proposals]})
    return f"The week of {week}.\n\n" + as_data("week", within_budget(data, EVIDENCE_BYTES))


def refined(answer: Proposals | None, evidence: Evidence) -> tuple[list[Proposal], int]:
    """The LLM's proposals about what the evidence names, and how many it made about anything else."""
    if answer is None:
        return [], 0
    allowed = {target.lower() for target in evidence.targets()}
    kept = [proposal for proposal in answer.proposals if proposal.target.strip().lower() in allowed]
    return kept, len(answer.proposals) - len(kept)


@dataclass(frozen=True)
class Decision:
    proposals: list[Proposal]
    source: str  # llm | deterministic (the LLM proposed nothing usable) | fallback (the LLM was unavailable)
    dropped: int  # LLM proposals about nothing in the evidence, left out
    note: str


def decide(answer: Proposals | None, evidence: Evidence, rules: list[Proposal]) -> Decision:
    """The LLM's proposals where it made usable ones, else the rules' (the fallback when it was unavailable)."""
    proposed, dropped = refined(answer, evidence)
    source = "fallback" if answer is None else "llm" if proposed else "deterministic"
    note = f"{dropped} LLM proposal(s) about nothing in the evidence left out" if dropped else ""
    return Decision(proposed or rules, source, dropped, note)


def evolution_section(week: Week, proposals: list[Proposal], evidence: Evidence, source: str, note: str) -> Section:
    """`source`: llm | deterministic (the LLM proposed nothing usable) | fallback (the LLM was unavailable)."""
    head = {
        "llm": "Proposed by the LLM from the week's evidence; nothing is applied by itself.",
        "deterministic": "The deterministic proposals (the LLM kept none of its own); nothing is applied by itself.",
        "fallback": "LLM unavailable: the fallback, the deterministic proposals and their evidence; nothing is applied by itself.",
    }[source]
    lines = [Line.text(head)]
    if note:
        lines.append(Line.text(italic(note)))
    if not proposals:
        lines.append(Line.text("No change proposed this week."))
    lines += [
        Line.item(bold(_KIND_WORDS[p.kind]), f" {p.change}", details=[Line.text(f"why: {p.why}")]) for p in proposals
    ]
    lines.append(Line.text(_evidence_line(evidence)))
    return Section(
        key="evolution",
        title=f"Evolution, week of {week}",
        status=Status.GREEN,
        items=[p.model_dump() for p in proposals],
        order=SECTION_ORDER,
        llm="unavailable" if source == "fallback" else "ok",
        lines=tuple(lines),
    )


_KIND_WORDS = {
    "add_source": "Add source:",
    "drop_source": "Drop source:",
    "adjust_interest": "Adjust interest:",
    "plan_upgrade": "Plan upgrade:",
}


def _evidence_line(evidence: Evidence) -> str:
    failed = f"; ecosystem watch failed for {', '.join(evidence.failed_watch)}" if evidence.failed_watch else ""
    return (
        f"Evidence: {evidence.memories} memories and {evidence.signals} signal(s) this week, "
        f"{len(evidence.weight_changes)} weight change(s), {len(evidence.upgrades)} project(s) with newer releases{failed}."
    )


def report_markdown(week: Week, section: Section, evidence: Evidence) -> str:
    """The report in the briefing folder: the section, then every piece of evidence it stands on
    (rendered from Lines, so what came from outside stays plain text)."""
    return f"# {section.title}\n\n{section.markdown}\n\n## Evidence\n\n{markdown_of(evidence_lines(evidence))}\n"


def evidence_lines(evidence: Evidence) -> list[Line]:
    lines = [
        Line.item(f"source {name}: {c['kept']} kept, {c['good']} good, {c['bad']} bad, {c['failures']} failure(s)")
        for name, c in sorted(evidence.sources.items())
    ]
    lines += [
        Line.item(f"interest {topic}: {c['good']} good, {c['bad']} bad")
        for topic, c in sorted(evidence.interests.items())
    ]
    lines += [
        Line.item(f"liked site (no source): {host}, {n} item(s)") for host, n in sorted(evidence.liked_sites.items())
    ]
    lines += [
        Line.item(
            f"{up['name']}: {up['in_use']} in use, {up['latest']} latest, {up['newer_releases']} newer",
            details=[Line.text(headline) for headline in up["headlines"]],
        )
        for up in evidence.upgrades
    ]
    lines += [Line.item(f"ecosystem watch failed: {failure}") for failure in evidence.failed_watch]
    lines += [
        Line.item(
            f"weight of {c['target_kind']} {c['target']}: {c['old_weight']} → {c['new_weight']} by {c['changed_by']}"
        )
        for c in evidence.weight_changes
    ]
    return lines or [Line.text("Nothing happened this week that the chain could learn from.")]
