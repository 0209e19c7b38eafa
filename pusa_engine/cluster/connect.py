"""Connecting to a Ray cluster: whether Ray is installed, what an address means, the token, one connection.

Two kinds of address: `HOST:PORT` (the cluster's GCS port, 6379 by default) from a machine that is a node of
the cluster (a worker machine, or a workstation that ran `ray start --address HOST:PORT`), and
`ray://HOST:PORT` (the head's Ray Client port, 10001 by default) from any other machine. Every connection
uses Ray's token authentication: the token comes from the caller, RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or
~/.ray/auth_token, in that order. Pure Python plus `ray`: the window uses this module.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ..errors import PusaError
from . import NAMESPACE

log = logging.getLogger(__name__)

INSTALL_HINT = "install it with `.venv/bin/pip install -e '.[cluster]'` (./scripts/setup.sh does)"
RAY_MISSING = f"Ray is not installed, and running jobs on a cluster needs it: {INSTALL_HINT}"
DEFAULT_TOKEN_FILE = Path.home() / ".ray" / "auth_token"
CLIENT_START_ATTEMPTS = 3


class ClusterError(PusaError):
    """The cluster cannot be used (Ray missing, a bad address, no token, nothing answering)."""


def ray_available() -> bool:
    """Whether Ray is installed (without importing it: its settings are read when it is imported)."""
    import importlib.util

    if "ray" in sys.modules:  # imported already, or marked missing (None)
        return sys.modules["ray"] is not None
    return importlib.util.find_spec("ray") is not None


def require_ray() -> ModuleType:
    """The `ray` module, or one line saying how to install it."""
    try:
        import ray
    except ImportError as error:
        raise ClusterError(RAY_MISSING) from error
    return ray


@dataclass(frozen=True)
class ClusterAddress:
    host: str
    port: int
    client: bool  # ray://: Ray Client, from a machine that is not a node of the cluster

    @property
    def text(self) -> str:
        return f"{'ray://' if self.client else ''}{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> ClusterAddress:
        raw = (text or "").strip()
        client = raw.startswith("ray://")
        rest = raw[len("ray://"):] if client else raw
        host, sep, port = rest.rpartition(":")
        example = "e.g. 192.168.1.10:6379 from a node of the cluster, or ray://192.168.1.10:10001 from elsewhere"
        if "://" in rest or not sep or not host or "/" in rest:
            raise ClusterError(f"cluster address {raw!r} is not HOST:PORT or ray://HOST:PORT ({example})")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ClusterError(f"cluster address {raw!r}: the port must be a number from 1 to 65535 ({example})")
        return cls(host.strip("[]"), int(port), client)


def use_token(token: str | None = None, token_file: str | os.PathLike[str] | None = None) -> None:
    """Turn on Ray's token authentication for this process and the processes it starts."""
    os.environ["RAY_AUTH_MODE"] = "token"
    if token and token.strip():
        os.environ["RAY_AUTH_TOKEN"] = token.strip()
        os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
        return
    if token_file:
        path = Path(token_file).expanduser()
        if not path.is_file():
            raise ClusterError(f"the cluster token file {path} does not exist: copy it from the head node "
                               "(`ray get-auth-token` prints the token there)")
        os.environ["RAY_AUTH_TOKEN_PATH"] = str(path)
        os.environ.pop("RAY_AUTH_TOKEN", None)
        return
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or DEFAULT_TOKEN_FILE.is_file():
        return
    raise ClusterError("no cluster token: the cluster uses Ray's token authentication. Put the head node's token "
                       f"(`ray get-auth-token` there) in {DEFAULT_TOKEN_FILE}, in RAY_AUTH_TOKEN, or in the "
                       "cluster token setting")


def unreachable(address: ClusterAddress, timeout: float = 3.0) -> str | None:
    """Why nothing answers at the address (a plain TCP connect, so a wrong address fails in seconds)."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            return None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return (f"nothing answers at the cluster address {address.text} ({reason}): check the address and that "
                "the cluster's head node runs (`ray start --head` there)")


def token_refused(address: ClusterAddress, timeout: float = 10.0) -> str | None:
    """Why the cluster refuses our token, asked with one small call (Ray itself would retry for half a minute
    and then only say that it timed out). None when it accepts it or the question cannot be asked."""
    try:
        import grpc
        from ray._private.grpc_utils import init_grpc_channel
        from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc, ray_client_pb2, ray_client_pb2_grpc
    except ImportError:  # Ray's own modules moved: ray.init will say what it can
        return None
    channel = init_grpc_channel(f"{address.host}:{address.port}", options=[], asynchronous=False)
    try:
        if address.client:
            ray_client_pb2_grpc.RayletDriverStub(channel).ClusterInfo(
                ray_client_pb2.ClusterInfoRequest(type=ray_client_pb2.ClusterInfoType.PING), timeout=timeout)
        else:
            gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel).GetClusterId(
                gcs_service_pb2.GetClusterIdRequest(), timeout=timeout)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.UNAUTHENTICATED:
            return (f"the cluster at {address.text} refused the token ({error.details()}): use the head node's "
                    "token (`ray get-auth-token` there prints it)")
    finally:
        channel.close()
    return None


_lock = threading.Lock()
_connected: str | None = None


def connect(address: ClusterAddress, token: str | None = None, token_file: str | None = None,
            node_ip: str | None = None) -> ModuleType:
    """Connect this process to the cluster (again only when the address changed); returns `ray`."""
    global _connected
    with _lock:
        if not ray_available():
            raise ClusterError(RAY_MISSING)
        fresh = "ray" not in sys.modules
        use_token(token, token_file)  # before Ray is imported: it reads the mode when it is
        ray = require_ray()
        if _connected == address.text and ray.is_initialized():
            return ray
        if ray.is_initialized():
            ray.shutdown()
            _connected = None
        if not fresh:
            _reload_token()
        problem = unreachable(address) or token_refused(address)
        if problem:
            raise ClusterError(problem)
        options: dict = {"namespace": NAMESPACE, "log_to_driver": False}
        if not address.client:
            options["logging_level"] = logging.WARNING
            if node_ip:
                options["_node_ip_address"] = node_ip
        for attempt in range(CLIENT_START_ATTEMPTS):
            try:
                ray.init(address=address.text, **options)
                break
            except Exception as error:  # noqa: BLE001 - Ray raises many kinds; the user gets one line
                _quietly_shut_down(ray)
                # the head starts a server process per Ray Client; on a busy head that start sometimes fails
                if "Initialization failure from server" in str(error) and attempt + 1 < CLIENT_START_ATTEMPTS:
                    log.info("Ray Client: the head could not start our server; trying again (%s)", error)
                    time.sleep(2.0)
                    continue
                raise ClusterError(_connect_problem(address, error)) from error
        _connected = address.text
        return ray


def _quietly_shut_down(ray: ModuleType) -> None:
    try:
        ray.shutdown()
    except Exception as error:  # noqa: BLE001 - nothing more to undo
        log.info("ray.shutdown after a failed connect: %s", error)


def _reload_token() -> None:
    """Ray was imported before: make it read the authentication mode and token again."""
    try:
        from ray._raylet import AuthenticationTokenLoader, Config

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()
    except Exception as error:  # noqa: BLE001 - private to Ray; without it a changed token needs a restart
        log.info("could not reload Ray's token settings: %s", error)


def _connect_problem(address: ClusterAddress, error: Exception) -> str:
    first = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
    if "auth" in str(error).lower() or "token" in str(error).lower():
        return f"the cluster at {address.text} refused the token ({first}): use the head node's token"
    if not address.client:
        return (f"cannot join the cluster at {address.text} from this machine ({first}): run `ray start --address "
                f"{address.host}:{address.port}` here first, or use ray://{address.host}:10001 (Ray Client)")
    return f"cannot connect to the cluster at {address.text}: {first}"


def disconnect() -> None:
    global _connected
    with _lock:
        if ray_available():
            import ray

            if ray.is_initialized():
                ray.shutdown()
        _connected = None
