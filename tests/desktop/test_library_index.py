"""The library index (Qt-free): results found from MP4 + sidecar pairs, searched, filtered, kept across restarts
and rebuilt when the index file is damaged."""

from __future__ import annotations

import json
import time

from pusa_desktop.core.library_index import (
    DEMO_MODEL_NAME,
    UNKNOWN_PROJECT,
    LibraryFilter,
    LibraryIndex,
    days_ago,
    project_results,
)
from pusa_desktop.core.model import Job, JobState, Project
from pusa_desktop.core.persistence import save_project
from pusa_desktop.core.result_settings import differences, request_rows
from pusa_engine.events import JobResult
from pusa_engine.request import GenerationRequest

from .results_helpers import REAL_MODEL, write_result

DAY = 24 * 3600


def _three_results(folder, now):
    fox = write_result(folder, "fox", "a red fox runs through snow", seed=1, created=now - 2 * DAY)
    boat = write_result(folder, "boat", "a sailing boat on a calm lake", seed=2, model=REAL_MODEL, created=now - 3600)
    old = write_result(folder, "old", "an old fox in autumn leaves", seed=3, created=now - 60 * DAY)
    return fox, boat, old


def test_results_are_found_from_video_and_sidecar_pairs(tmp_path):
    outputs = tmp_path / "outputs"
    fox, boat, old = _three_results(outputs, time.time())
    (outputs / "lonely.mp4").write_bytes(fox.read_bytes())  # an interrupted write: no sidecar
    write_result(outputs, "broken", "x").with_suffix(".json").write_text("{ not json")
    index = LibraryIndex(tmp_path / "index.json")
    added, removed = index.apply(index.scan([outputs]))
    assert (added, removed) == (3, 0)
    assert [e.prompt for e in index.sorted_entries()] == [  # newest first
        "a sailing boat on a calm lake", "a red fox runs through snow", "an old fox in autumn leaves"]
    entry = index.entries[str(boat.resolve())]
    assert entry.model == "Wan2.1-T2V-14B + pusa_v1.pt" and entry.seed == 2 and entry.request["frames"] == 9
    assert index.entries[str(fox.resolve())].model == DEMO_MODEL_NAME
    assert entry.project_name == UNKNOWN_PROJECT


def test_search_by_prompt_and_filter_by_project_model_and_date(tmp_path):
    now = time.time()
    outputs = tmp_path / "outputs"
    fox, boat, old = _three_results(outputs, now)
    index = LibraryIndex(tmp_path / "index.json")
    index.apply(index.scan([outputs]))
    index.set_project(fox, "winter")

    def prompts(**wanted):
        return {e.prompt.split()[1] for e in index.search(LibraryFilter(**wanted))}

    assert prompts(text="FOX") == {"red", "old"}
    assert prompts(text="fox snow") == {"red"}  # every word must match
    assert prompts(text="boat.mp4") == {"sailing"}  # the file name is searched too
    assert prompts(text="tiger") == set()
    assert prompts(text="boat") == {"sailing"}
    assert prompts(project="winter") == {"red"}
    assert prompts(project=UNKNOWN_PROJECT) == {"sailing", "old"}
    assert prompts(model=DEMO_MODEL_NAME) == {"red", "old"}
    assert prompts(since=days_ago(6, now)) == {"red", "sailing"}
    assert prompts(until=days_ago(29, now)) == {"old"}
    assert index.projects() == [UNKNOWN_PROJECT, "winter"]
    assert index.models() == [DEMO_MODEL_NAME, "Wan2.1-T2V-14B + pusa_v1.pt"]


def test_the_index_survives_a_restart_and_is_rebuilt_when_damaged(tmp_path):
    outputs = tmp_path / "outputs"
    fox, boat, _old = _three_results(outputs, time.time())
    path = tmp_path / "library" / "index.json"
    index = LibraryIndex(path)
    index.apply(index.scan([outputs]))
    index.set_project(boat, "lakes")
    index.save()

    again = LibraryIndex(path)
    assert again.load() is None
    assert again.entries.keys() == index.entries.keys() and again.folders == [str(outputs.resolve())]
    assert again.entries[str(boat.resolve())].project == "lakes"
    assert again.scan().entries.keys() == index.entries.keys()  # found again without being told the folder

    for damage in (b"\x00\xff garbage", b'{"format": "something else", "entries": []}', b"[1, 2, 3]",
                   json.dumps({"format": "pusa-studio-library", "entries": "nope"}).encode()):
        path.write_bytes(damage)
        broken = LibraryIndex(path)
        note = broken.load()
        assert note is not None and "damaged" in note and "rebuilt" in note
        assert broken.entries == {} and broken.rebuilt
        broken.apply(broken.scan([outputs]))
        assert broken.entries.keys() == index.entries.keys() and not broken.rebuilt

    # one bad entry is dropped, the others stay
    data = json.loads(index.to_json())
    data["entries"][0]["seed"] = "not a number"
    data["entries"][1] = {"video": 12}
    path.write_text(json.dumps(data))
    partial = LibraryIndex(path)
    assert partial.load() is None and len(partial.entries) == 1


def test_a_result_whose_files_are_gone_leaves_at_the_next_scan_and_a_changed_one_is_read_again(tmp_path):
    outputs = tmp_path / "outputs"
    fox, boat, old = _three_results(outputs, time.time())
    index = LibraryIndex(tmp_path / "index.json")
    index.apply(index.scan([outputs]))
    old.unlink()
    write_result(outputs, "fox", "a red fox, made again", seed=9)  # the same file name, new contents
    added, removed = index.apply(index.scan())
    assert removed == 1 and str(old.resolve()) not in index.entries
    assert index.entries[str(fox.resolve())].prompt == "a red fox, made again"


def test_results_are_named_after_the_saved_projects_that_hold_them(tmp_path):
    outputs = tmp_path / "outputs"
    fox, boat, _old = _three_results(outputs, time.time())
    job = Job(GenerationRequest(prompt="a red fox runs through snow", seed=1), JobState.DONE,
              result=JobResult(str(fox), str(fox.with_suffix(".json")), 1, 9, 16, 1.5))
    save_project(Project(history=[job]), tmp_path / "Winter animals.pusa")
    (tmp_path / "not-a-project.pusa").write_text("hello")
    names = project_results([tmp_path / "Winter animals.pusa", tmp_path / "not-a-project.pusa", tmp_path / "gone.pusa"])
    assert names == {str(fox): "Winter animals"}
    index = LibraryIndex(tmp_path / "index.json")
    index.apply(index.scan([outputs]))
    assert index.name_projects(names) == 1
    assert index.entries[str(fox.resolve())].project_name == "Winter animals"


def test_settings_read_as_a_form_and_the_differences_of_two_results():
    a = GenerationRequest(prompt="a fox", seed=1, steps=10, width=832, height=480, frames=81).to_dict()
    b = {**a, "seed": 2, "cfg": 4.5}
    rows = dict(request_rows(a))
    assert rows["Prompt"] == "a fox" and rows["Size"] == "832 x 480 (crop)" and rows["Seed"] == "1"
    assert rows["Frames"] == "81 (21 latent slots, 5.1 s at 16 fps)" and rows["Keyframes"] == "none (text to video)"
    assert "{" not in "".join(rows.values())  # a form, not JSON
    assert differences(request_rows(a), request_rows(b)) == [("CFG", "3", "4.5"), ("Seed", "1", "2")]
