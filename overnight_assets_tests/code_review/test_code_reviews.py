"""Selecting the window's commits and preparing their diffs and deterministic findings."""

from __future__ import annotations

from typing import get_args

from overnight_assets.code_review.code_reviews import RepoState, prepare_night
from overnight_assets.code_review.git import mirror_path
from overnight_assets.config import CodeReviewConfig, Repo
from overnight_assets_tests.testkit.git_history import AWS_KEY, WINDOW, at


def prepare(*repos: Repo, tmp_path, **settings):
    config = CodeReviewConfig(repos=list(repos), **settings)
    return prepare_night(config, WINDOW, tmp_path / "cache")


def by_sha(prepared):
    return {item.commit.sha: item for item in prepared}


def test_the_window_holds_each_sha_once_across_branches_without_merges(busy, tmp_path):
    prepared, outcomes = prepare(Repo(name="homelab", path=str(busy.path)), tmp_path=tmp_path)
    shas = busy.shas
    assert set(by_sha(prepared)) == {
        shas[k]
        for k in ("start", "feature", "secret", "binary", "huge", "rename", "empty", "latin1", "lock", "waiting")
    }
    assert len(prepared) == len(by_sha(prepared))
    assert outcomes[0].outcome == "ok" and outcomes[0].commits == 10 and outcomes[0].authors == ["Alice", "Bob"]


def test_deterministic_findings_name_what_is_wrong_and_never_repeat_a_secret(busy, tmp_path):
    items = by_sha(prepare(Repo(name="homelab", path=str(busy.path)), tmp_path=tmp_path)[0])
    shas = busy.shas
    secret = items[shas["secret"]].findings
    assert {(f.check, f.file) for f in secret} == {("secret", "deploy.env"), ("secret", "id_ed25519")}
    assert all(AWS_KEY not in f.message and "PRIVATE KEY-----" not in f.message for f in secret)
    diff = items[shas["secret"]].diff  # what the model reads: it knows a key is there, not which
    assert AWS_KEY not in diff and "AWS_ACCESS_KEY_ID=[redacted AWS access key id]" in diff
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in diff and diff.count("+[redacted private key block]") == 3
    feature = items[shas["feature"]].findings
    assert [(f.check, f.file, f.line) for f in feature] == [("unused import", "feature.py", 1)]
    assert [(f.check, f.file) for f in items[shas["lock"]].findings] == [("syntax error", "broken.py")]
    assert [(f.check, f.line) for f in items[shas["waiting"]].findings] == [("debug leftover", 1)]


def test_binary_lock_and_huge_diffs_are_left_out_or_cut_with_a_note(busy, tmp_path):
    items = by_sha(prepare(Repo(name="homelab", path=str(busy.path)), tmp_path=tmp_path, max_diff_lines=300)[0])
    shas = busy.shas
    assert items[shas["binary"]].diff == "" and "logo.png (binary)" in items[shas["binary"]].notes[0]
    lock = items[shas["lock"]]
    assert "poetry.lock (lock file)" in lock.notes[0] and "poetry.lock" not in lock.diff and "broken.py" in lock.diff
    huge = items[shas["huge"]]
    assert len(huge.diff.splitlines()) == 300
    assert any(note.startswith("diff cut to 300 of 50") for note in huge.notes)
    assert items[shas["rename"]].commit.files[0].path == "renamed.txt"
    assert items[shas["empty"]].diff == "" and items[shas["empty"]].findings == []
    assert "caf\ufffd cr\ufffdme" in items[shas["latin1"]].diff  # non-UTF-8 bytes read, not a crash


def test_a_missing_repository_is_a_clear_outcome_and_the_others_are_prepared(busy, tmp_path):
    prepared, outcomes = prepare(
        Repo(name="gone", path=str(tmp_path / "nowhere")), Repo(name="homelab", path=str(busy.path)), tmp_path=tmp_path
    )
    gone, homelab = outcomes
    assert gone.outcome == "failed" and gone.error == f"repository gone: path {tmp_path / 'nowhere'} does not exist"
    assert homelab.outcome == "ok" and len(prepared) == 10
    assert {gone.outcome, homelab.outcome} == set(get_args(RepoState))


def test_a_folder_that_is_not_a_repository_says_so(tmp_path):
    (tmp_path / "plain").mkdir()
    _, [outcome] = prepare(Repo(name="plain", path=str(tmp_path / "plain")), tmp_path=tmp_path)
    assert outcome.error == f"repository plain: {tmp_path / 'plain'} is not a git repository"


def test_a_url_repository_is_mirrored_once_and_fetched_after(make_repo, tmp_path):
    upstream = make_repo("upstream")
    first = upstream.commit("In the window", {"x.py": "x = 1\n"}, at=at(2))
    repo = Repo(name="upstream", url=f"file://{upstream.path}")
    prepared, _ = prepare(repo, tmp_path=tmp_path)
    assert [p.commit.sha for p in prepared] == [first]
    mirror = mirror_path(tmp_path / "cache", "upstream", repo.url)
    assert (mirror / "HEAD").exists() and not (mirror / "x.py").exists()  # bare: no working tree
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [mirror.name]  # no clone left half-made
    second = upstream.commit("Later in the window", {"y.py": "y = 2\n"}, at=at(3))
    prepared, _ = prepare(repo, tmp_path=tmp_path)
    assert {p.commit.sha for p in prepared} == {first, second}


def test_nothing_in_the_window_is_an_empty_night(make_repo, tmp_path):
    repo = make_repo()
    prepared, [outcome] = prepare(Repo(name="homelab", path=str(repo.path)), tmp_path=tmp_path)
    assert prepared == [] and outcome.outcome == "ok" and outcome.commits == 0


def test_two_url_repositories_with_similar_names_get_their_own_mirrors(make_repo, tmp_path):
    first, second = make_repo("one"), make_repo("two")
    one = first.commit("One", {"one.py": "x = 1\n"}, at=at(1))
    two = second.commit("Two", {"two.py": "y = 2\n"}, at=at(2))
    repos = [Repo(name="home/lab", url=f"file://{first.path}"), Repo(name="home_lab", url=f"file://{second.path}")]
    prepared, _ = prepare(*repos, tmp_path=tmp_path)
    assert {(p.repo, p.commit.sha) for p in prepared} == {("home/lab", one), ("home_lab", two)}


def test_a_debug_line_holding_a_secret_never_repeats_it(make_repo, tmp_path):
    repo = make_repo()
    sha = repo.commit("Log the key", {"app.js": f'console.log("{AWS_KEY}");\n'}, at=at(1))
    [item] = prepare(Repo(name="homelab", path=str(repo.path)), tmp_path=tmp_path)[0]
    assert item.commit.sha == sha
    messages = " ".join(f.message for f in item.findings)
    assert AWS_KEY not in messages and 'debug leftover: console.log("[redacted AWS access key id]");' in messages


def test_awkward_content_keeps_each_file_with_its_own_patch(make_repo, tmp_path):
    """A record-separator byte in a file, a file turned into a symlink, and lines starting with ++."""
    repo = make_repo()
    repo.commit("Control bytes", {"data.bin.txt": "a\x1eb\x1fc\n"}, at=at(1))
    (repo.path / "app.py").unlink()
    (repo.path / "app.py").symlink_to("README.md")
    repo.git("add", "app.py")
    swapped = repo.commit("app.py becomes a link; z.py added", {"z.py": "import sys\n\nbreakpoint()\n"}, at=at(2))
    counted = repo.commit("Counter", {"counter.js": "let i = 0;\n++i;\nconsole.log(i);\n"}, at=at(3))
    prepared, [outcome] = prepare(Repo(name="homelab", path=str(repo.path)), tmp_path=tmp_path)
    assert outcome.outcome == "ok" and len(prepared) == 3
    items = by_sha(prepared)
    z = sorted((f.check, f.file, f.line) for f in items[swapped].findings)
    assert z == [("debug leftover", "z.py", 3), ("unused import", "z.py", 1)]
    assert [(f.check, f.line) for f in items[counted].findings] == [("debug leftover", 3)]


class TricklingGitServer:
    """An HTTP git server that answers 200 and then a byte every 0.2 s: it never finishes."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        closing = self.closing = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "application/x-git-upload-pack-advertisement")
                self.end_headers()
                for _ in range(150):  # 30 s at most: a bound for the test, not for the code under test
                    if closing.wait(0.2):
                        return
                    try:
                        self.wfile.write(b"0")
                        self.wfile.flush()
                    except OSError:
                        return

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/lab.git"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_trickling_git_server_fails_its_repository_instead_of_holding_the_night(make_repo, tmp_path, monkeypatch):
    import subprocess

    import overnight_assets.code_review.git as git_resource

    monkeypatch.setattr(git_resource, "LOW_SPEED_TIME_S", 1)
    server = TricklingGitServer()
    try:
        repo = Repo(name="lab", url=server.url)
        _, [first_night] = prepare(repo, tmp_path=tmp_path)  # the clone
        upstream = make_repo("upstream")
        upstream.commit("In the window", {"x.py": "x = 1\n"}, at=at(2))
        mirror = mirror_path(tmp_path / "cache", "lab", repo.url)
        subprocess.run(["git", "clone", "-q", "--bare", str(upstream.path), str(mirror)], check=True)
        _, [next_night] = prepare(repo, tmp_path=tmp_path)  # a fetch into the mirror
    finally:
        server.close()
    for outcome in (first_night, next_night):
        assert outcome.outcome == "failed" and "too slow" in outcome.error.lower(), outcome.error
