"""Connecting the way operators deploy Redis: password, ACL user confined to its prefix,
TLS (rediss://); and durability: AOF on, restart, the memory is as it was."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from robo_os_memory import (
    Memory,
    ObjectState,
    PlaceState,
    Pose,
    RobotState,
    StoreUnavailableError,
)

from robo_os.services import EmbeddedRedis, free_port


@pytest.fixture(scope="module")
def secured_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(password="admin-secret").start()
    try:
        yield server
    finally:
        server.stop()


async def _round_trip(mem: Memory) -> None:
    await mem.upsert_place(PlaceState(name="table", pose=Pose(x=1, y=0)))
    await mem.upsert_object(ObjectState(name="cup", on="table"))
    await mem.register_robot(RobotState(id="r1", embodiment="mobile"))
    async with mem.subscribe(names=["cup"]) as sub:
        await mem.pick("r1", "cup")
        change = await anext(sub)
    assert change.fields["held_by"] == "r1"
    lease = await mem.acquire("table", "r1", ttl_s=5)
    await mem.release(lease)


async def test_password(secured_redis: EmbeddedRedis) -> None:
    mem = await Memory.connect(secured_redis.url, prefix="pw")
    try:
        await _round_trip(mem)
    finally:
        await mem.close()
    with pytest.raises(StoreUnavailableError) as e:
        await Memory.connect(f"redis://:wrong@127.0.0.1:{secured_redis.port}/0", prefix="pw")
    assert "wrong" not in str(e.value)


async def test_acl_user_is_confined_to_its_prefix(secured_redis: EmbeddedRedis) -> None:
    admin = aioredis.from_url(secured_redis.url, decode_responses=True)
    try:
        await admin.acl_setuser(
            "tenant-a",
            enabled=True,
            passwords=["+tenant-a-secret"],
            keys=["tenant-a:*"],
            channels=["*"],
            commands=["+@all", "-@dangerous"],
        )
    finally:
        await admin.aclose()
    url = f"redis://tenant-a:tenant-a-secret@127.0.0.1:{secured_redis.port}/0"
    mem = await Memory.connect(url, prefix="tenant-a")
    try:
        await _round_trip(mem)
    finally:
        await mem.close()
    # the same user on another tenant's prefix is refused at connect, before any write
    with pytest.raises(StoreUnavailableError, match="tenant-a:\\*\\*\\*@"):
        await Memory.connect(url, prefix="tenant-b")


def _self_signed(directory: Path) -> tuple[Path, Path]:
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_rediss_url(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    tls_port = free_port()
    tls_args = [
        "--tls-port",
        str(tls_port),
        "--tls-cert-file",
        str(cert),
        "--tls-key-file",
        str(key),
        "--tls-ca-cert-file",
        str(cert),
        "--tls-auth-clients",
        "no",
    ]
    with EmbeddedRedis(directory=tmp_path / "redis", extra_args=tls_args):
        mem = await Memory.connect(
            f"rediss://127.0.0.1:{tls_port}/0", prefix="tls", ssl_ca_certs=str(cert)
        )
        try:
            await _round_trip(mem)
        finally:
            await mem.close()
        # without trusting the server's certificate the connection is refused
        with pytest.raises(StoreUnavailableError):
            await Memory.connect(f"rediss://127.0.0.1:{tls_port}/0", prefix="tls")


async def test_memory_survives_a_redis_restart_with_aof(tmp_path: Path) -> None:
    data = tmp_path / "redis-data"
    with EmbeddedRedis(directory=data, appendonly=True) as server:
        mem = await Memory.connect(server.url, prefix="durable")
        try:
            await mem.upsert_place(PlaceState(name="table", pose=Pose(x=2, y=0)))
            await mem.upsert_object(
                ObjectState(name="cup", on="table", pose=Pose(x=2, y=0.1), attrs={"colour": "red"})
            )
            await mem.register_robot(
                RobotState(id="r1", embodiment="mobile", pose=Pose(x=1.9, y=0))
            )
            await mem.set_robot_skills("r1", {"pick": {"name": "pick"}})
            await mem.pick("r1", "cup")
            lease = await mem.acquire("table", "r1", ttl_s=300)
            before = await mem.snapshot()
            changes_before, cursor = await mem.changes_since("0")
        finally:
            await mem.close()

    with EmbeddedRedis(directory=data, appendonly=True) as server:
        mem = await Memory.connect(server.url, prefix="durable")
        try:
            assert await mem.snapshot() == before
            assert (await mem.changes_since("0"))[0] == changes_before
            assert await mem.lease_of("table") == lease
            assert await mem.robot_skills() == {"r1": {"pick": {"name": "pick"}}}
            assert [n for _, n, _ in await mem.within(1.9, 0, 0.05)] == ["r1"]
            # and it carries on from where it was: versions, cursors, fencing tokens
            cup = await mem.place("r1", "cup", "table")
            assert cup.version == 3
            after, _ = await mem.changes_since(cursor)
            assert [c.name for c in after] == ["cup", "r1"]
            await mem.release(lease)
            assert (await mem.acquire("table", "r2", ttl_s=5)).token == lease.token + 1
        finally:
            await mem.close()


def _deploy_directives() -> list[str]:
    """deploy/redis.conf as command-line options, minus where it listens and writes."""
    conf = Path(__file__).resolve().parents[2] / "deploy" / "redis.conf"
    args: list[str] = []
    for line in conf.read_text().splitlines():
        name, _, value = line.strip().partition(" ")
        if not name or name.startswith("#") or name in ("bind", "port", "dir", "protected-mode"):
            continue
        args += [f"--{name}", *value.replace('"', "").split()]
    return args


async def test_deploy_config_is_valid_and_durable(tmp_path: Path) -> None:
    with EmbeddedRedis(directory=tmp_path, extra_args=_deploy_directives()) as server:
        raw = aioredis.from_url(server.url, decode_responses=True)
        try:
            assert await raw.config_get("appendonly") == {"appendonly": "yes"}
            assert await raw.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        finally:
            await raw.aclose()
