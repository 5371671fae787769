"""Run a recorded Flower app in-process (Flower's simulation runtime on Ray), offline and self-contained.

:func:`simulate` is ``flwr.simulation.run_simulation`` with the recorder's housekeeping: Flower's
telemetry and update check off, ``FLWR_HOME`` and Ray's session folders inside the run
directory's ``scratch/`` (removed when the run ends), one CPU per ClientApp, and a Ray that was
already running in this process left running (Flower's backend would shut it down). A refusal
of the recorder (:class:`~integrations.flower.errors.FlowerRecordError`) comes out as itself,
not as Flower's "An error was encountered".
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from integrations.flower.errors import FlowerRecordError
from integrations.flower.recorder import FlowerRecorder

#: Environment of a recorded run (Ray's workers inherit it).
OFFLINE_ENV = {"FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1",
               "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0", "RAY_USAGE_STATS_ENABLED": "0"}
#: Ray puts Unix sockets under its temp dir; their paths must stay under 108 bytes.
_RAY_TEMP_MAX = 40


@contextlib.contextmanager
def _environment(recorder: FlowerRecorder) -> Iterator[None]:
    home = recorder.scratch / "flwr-home"
    home.mkdir(parents=True, exist_ok=True)
    saved = {k: os.environ.get(k) for k in (*OFFLINE_ENV, "FLWR_HOME")}
    os.environ.update(OFFLINE_ENV, FLWR_HOME=str(home))
    import flwr.supercore.telemetry as telemetry

    saved_telemetry, telemetry.FLWR_TELEMETRY_ENABLED = telemetry.FLWR_TELEMETRY_ENABLED, "0"
    try:
        yield
    finally:
        telemetry.FLWR_TELEMETRY_ENABLED = saved_telemetry
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _ray_temp_dir(recorder: FlowerRecorder) -> str:
    """``scratch/ray``, or (a path too long for Ray's sockets) a short folder it links to."""
    target = recorder.scratch / "ray"
    if len(str(target.resolve())) <= _RAY_TEMP_MAX:
        target.mkdir(parents=True, exist_ok=True)
        return str(target.resolve())
    short = tempfile.mkdtemp(prefix="nbray-")
    target.symlink_to(short, target_is_directory=True)
    return short


@contextlib.contextmanager
def _keep_running_ray() -> Iterator[None]:
    """If Ray already runs in this process, Flower's backend ends only its actors, not Ray."""
    import ray
    from flwr.server.superlink.fleet.vce.backend.raybackend import RayBackend

    if not ray.is_initialized():
        yield
        return
    original = RayBackend.terminate

    def terminate_actors(self) -> None:
        if self.pool:
            self.pool.terminate_all_actors()

    RayBackend.terminate = terminate_actors
    try:
        yield
    finally:
        RayBackend.terminate = original


def _recorder_error(exc: BaseException) -> FlowerRecordError | None:
    while exc is not None:
        if isinstance(exc, FlowerRecordError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def simulate(server_app, client_app, recorder: FlowerRecorder, num_supernodes: int, *,
             cpus_per_client: float = 1.0, ray_cpus: int | None = None, verbose: bool = False) -> Path:
    """Simulate ``server_app`` (whose main is wrapped by :func:`~integrations.flower.grid.record`)
    with ``num_supernodes`` ClientApps; returns the finished run directory."""
    with _environment(recorder):
        import ray
        from flwr.simulation import run_simulation

        flwr_logger = logging.getLogger("flwr")
        level = flwr_logger.level
        if not verbose:
            flwr_logger.setLevel(logging.ERROR)  # e.g. run_simulation's deprecation warning

        init_args = {"num_cpus": ray_cpus or max(1, os.cpu_count() or 1), "include_dashboard": False,
                     "logging_level": logging.ERROR, "log_to_driver": verbose}
        if not ray.is_initialized():  # Flower starts Ray: its session folders go to the scratch area
            init_args["_temp_dir"] = _ray_temp_dir(recorder)
        backend = {"client_resources": {"num_cpus": cpus_per_client, "num_gpus": 0.0}, "init_args": init_args}
        try:
            with _keep_running_ray():
                run_simulation(server_app=server_app, client_app=client_app, num_supernodes=num_supernodes,
                               backend_config=backend, verbose_logging=verbose)
        except Exception as exc:
            refusal = _recorder_error(exc)
            if refusal is not None:
                raise refusal from None
            raise
        finally:
            flwr_logger.setLevel(level)
            ray_dir = recorder.scratch / "ray"
            if ray_dir.is_symlink():
                shutil.rmtree(os.path.realpath(ray_dir), ignore_errors=True)
            shutil.rmtree(recorder.scratch, ignore_errors=True)
    if recorder.error is not None:
        raise recorder.error
    return recorder.out
