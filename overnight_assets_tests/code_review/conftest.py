"""Fixtures: the repositories the code review tests read."""

import pytest

from overnight_assets_tests.testkit.git_history import AWS_KEY, BOB, PRIVATE_KEY, WINDOW_END, GitRepo, at


@pytest.fixture
def make_repo(tmp_path):
    def make(name: str = "homelab") -> GitRepo:
        repo = GitRepo(tmp_path / "repos" / name)
        repo.commit("Initial commit", {"README.md": "# homelab\n", "app.py": "import os\n\nprint(os.getcwd())\n"})
        return repo

    return make


@pytest.fixture
def busy(make_repo):
    """Several authors and branches, a merge, and every awkward kind of commit, in the window."""
    repo = make_repo()
    shas = {}
    shas["before"] = repo.commit("Just before the window", {"a.txt": "a\n"}, at=at(-0.0003))
    shas["start"] = repo.commit("Exactly at the window's start", {"b.txt": "b\n"}, at=at(0))
    repo.branch("feature")
    shas["feature"] = repo.commit(
        "Feature work", {"feature.py": "import json\nimport sys\n\nprint(sys.argv)\n"}, at=at(1), author=BOB
    )
    repo.checkout("main")
    shas["secret"] = repo.commit(
        "Add deploy config", {"deploy.env": f"AWS_ACCESS_KEY_ID={AWS_KEY}\n", "id_ed25519": PRIVATE_KEY}, at=at(2)
    )
    shas["binary"] = repo.commit("Add logo", {"logo.png": bytes(range(256)) * 8}, at=at(3))
    shas["huge"] = repo.commit(
        "Generate table", {"table.txt": "".join(f"row {i}\n" for i in range(5000))}, at=at(4), author=BOB
    )
    shas["rename"] = repo.commit("Rename", {"b.txt": None, "renamed.txt": "b\n"}, at=at(5))
    shas["empty"] = repo.commit("An empty commit", at=at(6))
    shas["latin1"] = repo.commit("Latin-1 notes", {"notes.txt": "café crème\n".encode("latin-1")}, at=at(7))
    shas["lock"] = repo.commit(
        "Bump lock", {"poetry.lock": "[[package]]\nname = 'x'\n", "broken.py": "def f(:\n"}, at=at(8)
    )
    shas["merge"] = repo.merge("feature", at=at(9))
    repo.branch("waiting")
    shas["waiting"] = repo.commit("Work in progress", {"wip.py": "breakpoint()\n"}, at=at(10), author=BOB)
    repo.checkout("main")
    shas["end"] = repo.commit("Exactly at the window's end", {"c.txt": "c\n"}, at=WINDOW_END)
    repo.shas = shas
    return repo
