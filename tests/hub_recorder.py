"""A stand-in for the Hub: `huggingface_hub`'s repository and upload calls replaced by a recorder, so that
`push_to_hub` runs end to end offline and the test reads exactly which files would have been uploaded where."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import huggingface_hub
import huggingface_hub.hf_api
import huggingface_hub.repocard
from huggingface_hub import CommitOperationAdd, HfApi, RepoCard, RepoUrl
from huggingface_hub.errors import EntryNotFoundError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
API_METHODS = ("create_repo", "create_commit", "upload_folder", "upload_file")


@dataclass
class HubRecorder:
    repos: list[str] = field(default_factory=list)
    commits: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)  # (repo_id, {path in repo: content})

    def files(self, repo_id: str) -> dict[str, bytes]:
        """Every file uploaded to `repo_id`, by path in the repository (later commits win)."""
        merged: dict[str, bytes] = {}
        for repo, files in self.commits:
            if repo == repo_id:
                merged.update(files)
        return merged

    def install(self, monkeypatch) -> HubRecorder:
        recorder = self

        def create_repo(api, repo_id, *args, **kwargs):
            recorder.repos.append(repo_id)
            return RepoUrl(f"https://huggingface.co/{repo_id}")

        def create_commit(api, repo_id, operations, *args, **kwargs):
            files = {}
            for operation in operations:
                if not isinstance(operation, CommitOperationAdd):
                    raise AssertionError(f"unexpected commit operation {operation!r}")
                content = operation.path_or_fileobj
                if isinstance(content, (str, Path)):
                    content = Path(content).read_bytes()
                elif not isinstance(content, bytes):
                    content = content.read()
                files[operation.path_in_repo] = content
            recorder.commits.append((repo_id, files))
            return types.SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/0", oid="0")

        def validate_yaml(api, content, *args, **kwargs):
            RepoCard(content)  # the Hub validates the card's metadata: here, at least, that it parses

        def no_remote_card(repo_id, filename, *args, **kwargs):
            raise EntryNotFoundError(f"{filename} is not in the new repository {repo_id}")

        monkeypatch.setattr(HfApi, "create_repo", create_repo)
        monkeypatch.setattr(HfApi, "create_commit", create_commit)
        monkeypatch.setattr(HfApi, "_validate_yaml", validate_yaml)
        monkeypatch.setattr(HfApi, "preupload_lfs_files", lambda api, *args, **kwargs: None)  # create_commit reads all
        monkeypatch.setattr(huggingface_hub.hf_api, "is_xet_available", lambda: False)  # one create_commit per upload
        monkeypatch.setattr(huggingface_hub.repocard, "hf_hub_download", no_remote_card)
        # Module-level aliases (`huggingface_hub.create_repo`, imported by diffusers and by us) are methods bound to
        # huggingface_hub's own HfApi instance: rebind them to a fresh one, whose calls reach the patched class.
        api = HfApi()
        for module in list(sys.modules.values()):
            for name in API_METHODS:
                value = getattr(module, "__dict__", {}).get(name)
                if isinstance(value, types.MethodType) and isinstance(value.__self__, HfApi):
                    monkeypatch.setattr(module, name, getattr(api, name))
        return self


def assert_no_pickles(files: dict[str, bytes]) -> None:
    """No pickled file, and every weight file safetensors."""
    pickled = [path for path in files if path.endswith(PICKLE_SUFFIXES)]
    assert not pickled, f"pickled files uploaded: {pickled}"
    for path, content in files.items():
        if path.endswith(".safetensors"):
            header = int.from_bytes(content[:8], "little")
            assert content[8:9] == b"{" and header < len(content), f"{path} is not a safetensors file"
