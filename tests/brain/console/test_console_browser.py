"""The console in a real browser: Debian's Chromium driven by Playwright against the real
brain app served over HTTP (real memory in a private Redis, the in-test robot r1).

Log in, watch the robot move on the map, submit a task and see the plan graph's states
change as its skill calls end, look through the robot's camera, cancel; and the layout
from a phone's width to a wide screen. Screenshots go to $ROBO_OS_TEST_ARTIFACTS
(default: test-artifacts/ in the checkout).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from robo_os_memory.models import ObjectState, PlaceState, Pose

from robo_os.testing.png import tiny_png

from .console_support import TOKEN, TWO_STEPS, WAIT_S, Brain

CHROMIUM = os.environ.get("ROBO_OS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(
    os.environ.get("ROBO_OS_TEST_ARTIFACTS", Path(__file__).parents[3] / "test-artifacts")
)
WAIT_MS = WAIT_S * 1000

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):  # .ci/run installs it: in CI a missing browser is a failure
        raise RuntimeError(f"no Chromium at {CHROMIUM}: .ci/run installs Debian's package")
    pytest.skip("needs Chromium (apt-get install -y chromium)", allow_module_level=True)

playwright = pytest.importorskip("playwright.async_api")


@pytest.fixture
async def page(served: str) -> AsyncIterator[Any]:
    async with playwright.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 1000})
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_default_timeout(WAIT_MS)
            yield page
            assert errors == [], f"the page raised: {errors}"
        finally:
            await browser.close()


async def shot(page: Any, name: str) -> None:
    # Playwright creates the folder
    await page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


async def seed_scene(brain: Brain) -> None:
    """A scene of this test's own: two places (one with two docking slots), one object."""
    await brain.memory.upsert_place(
        PlaceState(
            name="table",
            kind="table",
            pose=Pose(x=3.0, y=0.0),
            size=(1.2, 0.8, 0.7),
            attrs={"slots": 2},
        )
    )
    await brain.memory.upsert_place(
        PlaceState(name="shelf", kind="shelf", pose=Pose(x=-2.0, y=2.0), size=(0.6, 1.5, 1.2))
    )
    await brain.memory.upsert_object(
        ObjectState(name="apple", type="apple", pose=Pose(x=-2.0, y=2.0, z=1.0), on="shelf")
    )


async def log_in(page: Any, served: str) -> None:
    await page.goto(f"{served}console/")
    await page.fill("#token", TOKEN)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#robots th:has-text('r1')")


async def robot_x(page: Any) -> float:
    return float(await page.get_attribute("#map g[data-robot=r1] circle", "cx"))


async def node_status(page: Any, subtask: str, status: str) -> None:
    await page.wait_for_selector(f"#dag g[data-subtask={subtask}][data-status={status}]")


async def test_operator_watches_a_task_on_the_map_and_the_plan_graph(
    brain: Brain, served: str, page: Any
) -> None:
    await seed_scene(brain)

    async def camera_image(target: str | None = None) -> bytes:
        return tiny_png(8, 6, (20, 160, 40))

    brain.agent.camera_image = camera_image  # type: ignore[attr-defined]
    await log_in(page, served)

    # the map shows what memory holds: places with their slots, the object, the robot
    await page.wait_for_selector("#map g[data-place=table] rect.slot >> nth=1")
    await page.wait_for_selector("#map g[data-object=apple].believed")
    before = await robot_x(page)
    await shot(page, "1-logged-in")

    # the robot moves (as a skill would write it): the map follows the change feed
    await brain.memory.update_robot("r1", pose=Pose(x=2.5, y=-0.5, yaw=1.57))
    await page.wait_for_function(
        "x => Number(document.querySelector('#map g[data-robot=r1] circle').getAttribute('cx')) !== x",
        arg=before,
    )
    assert await robot_x(page) == pytest.approx(2.5)

    # a task submitted from the page: its plan drawn as a graph whose states change live
    await page.fill("#instruction", TWO_STEPS)
    await page.click("#submit button[type=submit]")
    first = await brain.agent.next_call(WAIT_S)
    assert first.subtask_id == "s1"
    await node_status(page, "s1", "running")
    await page.wait_for_selector("#dag g[data-subtask=s2][data-status=pending]")
    assert await page.locator("#dag path.edge").count() == 1  # s1 → s2
    await brain.memory.update_robot("r1", current_subtask=first.call_id, progress=0.4)
    await page.wait_for_selector("#dag g[data-subtask=s1] text.state:has-text('40%')")
    await shot(page, "2-running")
    brain.agent.finish(first.call_id)
    second = await brain.agent.next_call(WAIT_S)
    assert second.subtask_id == "s2"
    await node_status(page, "s1", "succeeded")
    await node_status(page, "s2", "running")
    # s2 places the apple on the table: the robot's planned path ends there
    points = await page.get_attribute("#map polyline.path[data-robot=r1]", "points")
    assert points is not None and points.split()[-1] == "3,0"

    # the robot's camera, on demand
    await page.click("#robots button.camera[data-robot=r1]")
    await page.wait_for_function("() => document.querySelector('#camera-image').naturalWidth === 8")
    await shot(page, "3-camera")

    # cancel from the page: the running call is cancelled and the graph says so
    await page.click("#cancel")
    assert await brain.agent.next_cancel(WAIT_S) == second.call_id
    await page.wait_for_selector("#task-summary .status:has-text('cancelled')")
    await page.wait_for_selector("#dag g[data-subtask=s2]:not([data-status=running])")
    await page.wait_for_selector("#map polyline.path", state="detached")
    await shot(page, "4-cancelled")


async def test_a_robot_without_camera_is_reported_not_broken(
    brain: Brain, served: str, page: Any
) -> None:
    await log_in(page, served)
    await page.click("#robots button.camera[data-robot=r1]")
    await page.wait_for_selector("#notice:has-text('has no camera')")
    assert await page.is_hidden("#camera-image")


@pytest.mark.parametrize("width", [420, 800, 1400])
async def test_the_layout_fits_from_phone_to_wide_screen(
    brain: Brain, served: str, page: Any, width: int
) -> None:
    await seed_scene(brain)
    await page.set_viewport_size({"width": width, "height": 900})
    await log_in(page, served)
    # a very long instruction (the planner refuses it) is listed and selected
    await page.fill("#instruction", "bring " + "the very long named thing " * 150)
    await page.click("#submit button[type=submit]")
    await page.wait_for_selector("#task-summary .status:has-text('failed')")
    await page.wait_for_selector("#map g[data-place=shelf]")
    scroll_width = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"the page is {scroll_width} px wide in a {width} px window"
    # nor does it make the page thousands of pixels long: long text is clamped
    for selector in ("#task-summary", "#tasks tr[data-task]"):
        box = await page.locator(selector).first.bounding_box()
        assert box is not None and box["height"] < 240, (selector, box)
    # the selected task's card comes before the list of tasks, not under it
    card = await page.locator("#task").bounding_box()
    listing = await page.locator("#tasks-title").bounding_box()
    assert card is not None and listing is not None and card["y"] < listing["y"]
    map_box = await page.locator("#map").bounding_box()
    assert map_box is not None and map_box["width"] > 0.5 * min(width, 700)
    await shot(page, f"layout-{width}")


@pytest.mark.approval_skills("place")
async def test_operator_stops_the_fleet_and_approves_a_gated_skill(
    brain: Brain, served: str, page: Any
) -> None:
    await log_in(page, served)
    await page.fill("#instruction", TWO_STEPS)
    await page.click("#submit button[type=submit]")
    first = await brain.agent.next_call(WAIT_S)
    await node_status(page, "s1", "running")

    # the emergency stop: the running call is cancelled, the task pauses, a banner says so
    await page.click("#estop")
    assert await brain.agent.next_cancel(WAIT_S) == first.call_id
    await page.wait_for_selector("#estop-banner:has-text('engaged by root')")
    await page.wait_for_selector("#task-summary .status:has-text('paused')")
    await page.wait_for_selector("#dag g[data-subtask=s1]:not([data-status=running])")
    assert await page.is_hidden("#estop")
    await shot(page, "5-estop")

    # released: the halted subtask runs again as a new attempt
    await page.click("#estop-release")
    again = await brain.agent.next_call(WAIT_S)
    assert again.subtask_id == "s1" and again.call_id != first.call_id
    await page.wait_for_selector("#estop-banner", state="hidden")
    brain.agent.finish(again.call_id)

    # s2's skill is gated: it waits for a person, shown in the graph and the table
    await node_status(page, "s2", "awaiting_approval")
    await page.wait_for_selector("#task-summary .status:has-text('awaiting_approval')")
    await shot(page, "6-awaiting-approval")
    await page.click("#subtasks button.approve[data-subtask=s2]")
    second = await brain.agent.next_call(WAIT_S)
    assert second.subtask_id == "s2"
    brain.agent.finish(second.call_id)
    await page.wait_for_selector("#task-summary .status:has-text('succeeded')")
    await node_status(page, "s2", "succeeded")


async def test_operator_stops_and_releases_one_robot_from_the_fleet_view(
    brain: Brain, served: str, page: Any
) -> None:
    await log_in(page, served)
    await page.fill("#instruction", TWO_STEPS)
    await page.click("#submit button[type=submit]")
    first = await brain.agent.next_call(WAIT_S)
    await node_status(page, "s1", "running")

    # r1's own stop: its running call is cancelled; the global stop is not engaged
    await page.click("#robots button.robot-stop[data-robot=r1]")
    assert await brain.agent.next_cancel(WAIT_S) == first.call_id
    await page.wait_for_selector(
        "#robots button.robot-stop.stopped[data-robot=r1]:has-text('Release')"
    )
    await page.wait_for_selector("#dag g[data-subtask=s1]:not([data-status=running])")
    assert await page.is_hidden("#estop-banner")
    await shot(page, "7-robot-stop")

    # released from the same button: s1 runs again as a new attempt
    await page.click("#robots button.robot-stop[data-robot=r1]")
    again = await brain.agent.next_call(WAIT_S)
    assert again.subtask_id == "s1" and again.call_id != first.call_id
    await page.wait_for_selector("#robots button.robot-stop:not(.stopped)[data-robot=r1]")
    brain.agent.finish(again.call_id)
    await node_status(page, "s1", "succeeded")
