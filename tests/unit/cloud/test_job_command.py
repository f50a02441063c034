"""``satrec job``: jobs are discovered from satrec/jobs, and bad container settings fail in one line."""

from __future__ import annotations

import pytest

from satrec.cli import build_parser, main
from satrec.jobs import convert_uploads


def test_every_module_in_satrec_jobs_is_a_job() -> None:
    import pkgutil

    from satrec import jobs

    names = {m.name.replace("_", "-") for m in pkgutil.iter_modules(jobs.__path__) if not m.name.startswith("_")}
    parser = build_parser()
    for name in names:
        with pytest.raises(SystemExit) as info:
            parser.parse_args(["job", name, "--help"])
        assert info.value.code == 0
    assert "convert-uploads" in names


def test_job_without_a_name_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["job"]) == 1
    assert "convert-uploads" in capsys.readouterr().out


def test_array_index_comes_from_the_batch_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_parser().parse_args(["job", "convert-uploads", "--batch", "s3://b/batches/x.json"])
    monkeypatch.delenv(convert_uploads.ARRAY_INDEX_ENV, raising=False)
    assert convert_uploads._index(args) == 0
    monkeypatch.setenv(convert_uploads.ARRAY_INDEX_ENV, "7")
    assert convert_uploads._index(args) == 7


@pytest.mark.parametrize(("env", "value", "needle"), [
    ("AWS_BATCH_JOB_ARRAY_INDEX", "seven", "is not a whole number"),
    ("SATREC_DEFAULT_SETTINGS", "{", "is not valid JSON"),
    ("SATREC_DEFAULT_SETTINGS", '{"resize": "big"}', "SATREC_DEFAULT_SETTINGS"),
])
def test_bad_container_settings_fail_with_one_line(env: str, value: str, needle: str,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(env, value)
    assert main(["job", "convert-uploads", "--batch", "s3://b/batches/x.json"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
