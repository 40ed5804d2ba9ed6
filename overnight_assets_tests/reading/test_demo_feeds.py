"""The demo's 18 sample sources: real formats, re-dated so the night the demo runs finds their items."""

from datetime import date
from pathlib import Path

from overnight_assets.config import load_config
from overnight_assets.demo.inputs import SAMPLE_FEEDS, prepare_demo_feeds
from overnight_assets.partitions import Night, daily_partitions
from overnight_assets.reading.parse import parse_source

NIGHT = date(2026, 11, 20)


def test_the_demo_config_reads_18_sources_from_the_prepared_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("OVERNIGHT_HOME", str(tmp_path))
    config = load_config(Path(SAMPLE_FEEDS).parents[1] / "overnight.yaml")
    sources = config.reading.sources
    assert len(sources) == 18 and {s.kind for s in sources} == {"feed", "github_trending"}
    assert sorted(Path(s.url).name for s in sources) == sorted(p.name for p in SAMPLE_FEEDS.iterdir())
    assert {Path(s.url).parent for s in sources} == {tmp_path / "demo-inputs" / "feeds"}
    assert config.reading.arxiv.queries == []  # the demo runs offline


def test_prepared_feeds_put_the_samples_night_on_the_demo_night(tmp_path):
    config = load_config(Path(SAMPLE_FEEDS).parents[1] / "overnight.yaml")
    folder = prepare_demo_feeds(NIGHT, tmp_path / "feeds")
    night = Night.of_partition(daily_partitions(config.timezone), NIGHT.isoformat())
    kinds = {Path(s.url).name: s.kind for s in config.reading.sources}
    formats, in_window, day_before, undated = set(), 0, 0, 0
    for path in sorted(folder.iterdir()):
        body = path.read_bytes()
        formats.add(body[:200].split(b"?>")[-1].strip()[:12])
        items = parse_source(kinds[path.name], path.stem, body, "", config.tz).items
        assert items, f"{path.name} gave no items"
        for item in items:
            if item.published is None:
                undated += 1
            elif night.start <= item.published < night.end:
                in_window += 1
            else:
                assert item.published.date() == date(2026, 11, 19), f"{path.name}: {item.title} at {item.published}"
                day_before += 1
    assert in_window >= 30 and day_before == 2 and undated >= 6
    assert {b"<rss version", b"<feed xmlns=", b"<rdf:RDF xml", b"<!DOCTYPE ht"} <= formats
