"""The fault-injecting simulator (seeded, per motion) and halting a robot whose agent
died: in physics, on small scenes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from robo_os.settings import FaultSettings
from robo_os.sim import Navigate, Pick, SimWorld
from robo_os.sim.faults import FaultInjector
from robo_os.sim.motions import Controller
from robo_os.skill.observation import observer_of
from robo_os.skill.parts import MotionOutcome, MotionResult

from .sim_scenes import corridor, household

MakeWorld = Callable[..., SimWorld]


class _Idle(Controller):
    def step(self, world: object, dt: float) -> MotionResult | None:
        return None


def _draws(injector: FaultInjector, world: SimWorld, order: list[str], n: int) -> list[str]:
    out = []
    for i in range(n):
        robot = order[i % len(order)]
        wrapped = injector.apply(
            world.robots[robot], Navigate(target="x"), _Idle(world.robots[robot])
        )
        out.append(f"{robot}:{type(wrapped).__name__}")
    return out


def test_faults_are_deterministic_per_seed_and_robot(make_world: MakeWorld) -> None:
    world = make_world(household())
    settings = FaultSettings(blocked_path=0.3, slow=0.3, stuck=0.1)
    a = _draws(FaultInjector(settings, seed=7), world, ["mm1", "carrier1"], 40)
    b = _draws(FaultInjector(settings, seed=7), world, ["mm1", "carrier1"], 40)
    assert a == b
    # another interleaving of the robots draws the same faults for each robot's n-th motion
    c = _draws(FaultInjector(settings, seed=7), world, ["mm1", "mm1", "carrier1", "carrier1"], 40)
    for robot in ("mm1", "carrier1"):
        assert [x for x in a if x.startswith(robot)][:10] == [x for x in c if x.startswith(robot)][
            :10
        ]
    other = _draws(FaultInjector(settings, seed=8), world, ["mm1", "carrier1"], 40)
    assert other != a
    kinds = {x.split(":")[1] for x in a}
    assert {"_Blocked", "_Slow", "_Idle"} <= kinds  # each rate shows up over 40 motions
    none = _draws(FaultInjector(FaultSettings(), seed=7), world, ["mm1"], 10)
    assert {x.split(":")[1] for x in none} == {"_Idle"}
    only = _draws(
        FaultInjector(FaultSettings(stuck=1.0, robots=["carrier1"]), 7),
        world,
        ["mm1", "carrier1"],
        4,
    )
    assert only == ["mm1:_Idle", "carrier1:_Stuck"] * 2


def test_blocked_path_stops_a_drive_part_way(make_world: MakeWorld) -> None:
    world = make_world(corridor(), faults=FaultSettings(blocked_path=1.0))
    start = world.robot_pose("carrier1")
    result = world.run_until_done(world.start("carrier1", Navigate(target="east")))
    assert result.outcome == MotionOutcome.collision and "blocked" in result.message
    pose = world.robot_pose("carrier1")
    assert world.robots["carrier1"].place != "east"
    assert pose.distance_to(world.fleet.scene.places[1].pose) > 0.5
    assert world.faults.injected["blocked_path"] == 1
    assert pose.distance_to(start) < 6.0


def test_slow_and_stuck_motions(make_world: MakeWorld) -> None:
    plain = make_world(household())
    steps0 = plain.steps
    assert plain.run_until_done(plain.start("arm1", Pick(object="apple"))).ok
    normal = plain.steps - steps0

    slow = make_world(household(), faults=FaultSettings(slow=1.0, slow_factor=3.0))
    steps0 = slow.steps
    assert slow.run_until_done(slow.start("arm1", Pick(object="apple"))).ok
    assert slow.steps - steps0 > 2.0 * normal

    stuck = make_world(household(), faults=FaultSettings(stuck=1.0))
    apple = stuck.object_pose("apple")
    result = stuck.run_until_done(stuck.start("arm1", Pick(object="apple")), max_sim_s=3.0)
    assert result.outcome == MotionOutcome.cancelled
    assert stuck.holder_of("apple") is None
    assert stuck.object_pose("apple").distance_to(apple) < 0.005


def test_halt_stops_a_robot_and_refuses_motions_until_resumed(make_world: MakeWorld) -> None:
    world = make_world(corridor())
    motion = world.start("carrier1", Navigate(target="east"))
    world.step(240)  # one simulated second into the drive
    moving = world.robot_pose("carrier1")
    assert world.halt("carrier1") == 1
    result = world.result(motion)
    assert result is not None and result.outcome == MotionOutcome.cancelled
    world.step(480)
    still = world.robot_pose("carrier1")
    assert still.distance_to(moving) < 0.15  # it stopped where it was, not metres on
    refused = world.run_until_done(world.start("carrier1", Navigate(target="east")))
    assert refused.outcome == MotionOutcome.precondition_failed and "halted" in refused.message
    assert world.resume("carrier1") and not world.resume("carrier1")
    assert world.run_until_done(world.start("carrier1", Navigate(target="east"))).ok
    with pytest.raises(KeyError):
        world.halt("nobody")


def test_observation_is_the_ground_truth(make_world: MakeWorld) -> None:
    world = make_world(household())
    assert world.run_until_done(world.start("arm1", Pick(object="apple"))).ok
    seen = world.observe("arm1", ("mug",))
    assert seen.holding == "apple" and seen.has_gripper and seen.tray is None
    by_name = {o.name: o for o in seen.objects}
    assert by_name["apple"].held_by == "arm1"
    assert by_name["cup"].on == "kitchen_counter"  # near it
    assert by_name["mug"].on == "shelf"  # far, but asked about
    assert world.observe("carrier1").tray == ()
    assert world.observe("arm1", ("ghost",)).missing == ("ghost",)
    assert observer_of(object()) is None


def test_faults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from robo_os.settings import Settings

    monkeypatch.setenv("ROBO_OS_SIM__FAULTS", '{"grasp_slip": 0.05, "robots": ["mm1"]}')
    faults = Settings().sim.faults
    assert faults.grasp_slip == 0.05 and faults.robots == ["mm1"] and faults.active
    monkeypatch.setenv("ROBO_OS_SIM__FAULTS", '{"grasp_slip": 2}')
    with pytest.raises(ValueError):
        Settings()
    assert not FaultSettings().active
