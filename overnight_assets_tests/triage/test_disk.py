import shutil

import pytest

from overnight_assets.status import Status
from overnight_assets.triage.disk import DiskUsage, disk_findings, measure_disks
from overnight_assets.triage.findings import Severity
from overnight_assets.triage.gate import gate

GIB = 2**30


def titles(findings) -> dict[str, Severity]:
    return {finding.title: finding.severity for finding in findings}


def test_measures_a_real_filesystem(tmp_path):
    usages, findings = measure_disks([str(tmp_path)])
    expected = shutil.disk_usage(tmp_path)
    assert findings == []
    assert usages == [DiskUsage(str(tmp_path), expected.total, expected.used, expected.free)]


def test_missing_path_is_an_amber_finding(tmp_path):
    usages, findings = measure_disks([str(tmp_path / "gone"), str(tmp_path)])
    assert [usage.path for usage in usages] == [str(tmp_path)]
    assert titles(findings) == {f"cannot measure disk at {tmp_path}/gone": Severity.AMBER}


@pytest.mark.parametrize(
    "used_gib, expected",
    [
        (50, {}),
        (84.4, {}),  # 84% shown, so not yet AMBER at 85
        (84.6, {"disk /srv is 85% full": Severity.AMBER}),
        (94.4, {"disk /srv is 94% full": Severity.AMBER}),
        (95, {"disk /srv is 95% full": Severity.RED}),
        (100, {"disk /srv is 100% full": Severity.RED}),
    ],
)
def test_thresholds_use_the_whole_percent_in_the_title(used_gib, expected):
    usage = DiskUsage("/srv", 100 * GIB, int(used_gib * GIB))
    assert titles(disk_findings([usage], amber_pct=85, red_pct=95)) == expected


def test_reserved_blocks_count_as_used_like_df():
    # 100 GiB disk, 90 used, 5 free for root only, 5 available: df says 95%
    usage = DiskUsage("/", 100 * GIB, 90 * GIB, available=5 * GIB)
    assert titles(disk_findings([usage], 85, 95)) == {"disk / is 95% full": Severity.RED}


def test_all_disks_below_amber_is_green():
    usages = [DiskUsage("/", 100 * GIB, 10 * GIB), DiskUsage("/empty", 0, 0)]
    assert gate(disk_findings(usages, 85, 95)) is Status.GREEN
