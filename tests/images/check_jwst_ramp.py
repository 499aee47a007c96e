"""Offline JWST science check, run INSIDE the jwst image's Python environment.

Usage: <image venv>/bin/python check_jwst_ramp.py <workdir>

The environment must set CRDS_PATH (an empty temporary directory) and
CRDS_SERVER_URL, and send all traffic to a dead proxy: nothing here may reach
the network. The script

1. constructs Detector1Pipeline, Image2Pipeline, Spec2Pipeline and Image3Pipeline;
2. builds a small synthetic NIRCam ramp with a known count rate, on-board frame
   averaging that GroupScaleStep must undo (FRMDIVSR != NFRAMES), and read noise;
3. runs GroupScaleStep and then RampFitStep with override gain and read-noise
   reference files that it writes itself;
4. prints one line ``RESULT {json}`` for the pytest side to assert on.

Any exception, and any SystemExit (CRDS calls sys.exit() from
``log.fatal_error_on_exception`` when it cannot configure itself), ends the
script with a non-zero status and no RESULT line: catching BaseException is
deliberate, so that a CRDS exit with status 0 cannot pass for success.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

from offline_crds import write_offline_crds_config

# The count rate the test puts into every pixel, in DN/s, after group scaling.
TRUE_RATE = 12.5
NFRAMES = 5  # frames averaged on board per group ...
FRMDIVSR = 4  # ... but the sum was divided by 4, not 5: GroupScale rescales by 4/5
NGROUPS = 10
NINTS = 1
NY = NX = 32
FRAME_TIME = 10.73677  # NIRCam full-frame frame time, seconds
READ_NOISE = 4.0  # DN per group read, in the synthetic data and the reference file
GAIN = 2.0  # e-/DN
SEED = 20261120


def construct_pipelines() -> dict[str, list[str]]:
    from jwst.pipeline import (
        Detector1Pipeline,
        Image2Pipeline,
        Image3Pipeline,
        Spec2Pipeline,
    )

    steps: dict[str, list[str]] = {}
    for cls in (Detector1Pipeline, Image2Pipeline, Spec2Pipeline, Image3Pipeline):
        pipeline = cls()
        steps[cls.__name__] = sorted(pipeline.step_defs)
    return steps


def meta_for_reference(model: object, reftype: str) -> None:
    meta = model.meta  # type: ignore[attr-defined]
    meta.reftype = reftype
    meta.author = "astrohub offline test"
    meta.description = f"synthetic flat {reftype} for the offline ramp-fit check"
    meta.pedigree = "DUMMY"
    meta.useafter = "2000-01-01T00:00:00"
    meta.telescope = "JWST"
    meta.instrument.name = "NIRCAM"
    meta.instrument.detector = "NRCA1"
    meta.subarray.name = "FULL"
    meta.subarray.xstart = 1
    meta.subarray.ystart = 1
    meta.subarray.xsize = NX
    meta.subarray.ysize = NY
    meta.subarray.fastaxis = -1
    meta.subarray.slowaxis = 2


def make_references(workdir: Path) -> tuple[Path, Path]:
    import numpy as np
    from stdatamodels.jwst import datamodels

    gain = datamodels.GainModel(data=np.full((NY, NX), GAIN, dtype=np.float32))
    meta_for_reference(gain, "GAIN")
    gain_path = workdir / "synthetic_gain.fits"
    gain.save(gain_path)

    readnoise = datamodels.ReadnoiseModel(data=np.full((NY, NX), READ_NOISE, dtype=np.float32))
    meta_for_reference(readnoise, "READNOISE")
    readnoise_path = workdir / "synthetic_readnoise.fits"
    readnoise.save(readnoise_path)
    return gain_path, readnoise_path


def make_ramp() -> object:
    import numpy as np
    from stdatamodels.jwst import datamodels

    group_time = FRAME_TIME * NFRAMES
    scale = FRMDIVSR / NFRAMES  # what GroupScaleStep multiplies the data by
    times = group_time * np.arange(1, NGROUPS + 1, dtype=np.float64)
    rng = np.random.default_rng(SEED)
    # Data as the instrument wrote them: the true ramp divided by the scale that
    # GroupScaleStep applies, plus read noise (in the raw units).
    true_ramp = TRUE_RATE * times
    data = true_ramp[None, :, None, None] / scale + rng.normal(
        0.0, READ_NOISE / scale, size=(NINTS, NGROUPS, NY, NX)
    )
    model = datamodels.RampModel(data=data.astype(np.float32))
    model.pixeldq = np.zeros((NY, NX), dtype=np.uint32)
    model.groupdq = np.zeros(data.shape, dtype=np.uint8)

    meta = model.meta
    meta.telescope = "JWST"
    meta.instrument.name = "NIRCAM"
    meta.instrument.detector = "NRCA1"
    meta.instrument.channel = "SHORT"
    meta.instrument.module = "A"
    meta.instrument.filter = "F212N"
    meta.instrument.pupil = "CLEAR"
    meta.observation.date = "2026-01-01"
    meta.observation.time = "00:00:00"
    meta.exposure.type = "NRC_IMAGE"
    meta.exposure.readpatt = "MEDIUM8"
    meta.exposure.nints = NINTS
    meta.exposure.ngroups = NGROUPS
    meta.exposure.nframes = NFRAMES
    meta.exposure.frame_divisor = FRMDIVSR
    meta.exposure.groupgap = 0
    meta.exposure.drop_frames1 = 0
    meta.exposure.frame_time = FRAME_TIME
    meta.exposure.group_time = group_time
    meta.exposure.integration_time = group_time * NGROUPS
    meta.exposure.start_time = 61041.0
    meta.exposure.end_time = 61041.01
    meta.subarray.name = "FULL"
    meta.subarray.xstart = 1
    meta.subarray.ystart = 1
    meta.subarray.xsize = NX
    meta.subarray.ysize = NY
    meta.subarray.fastaxis = -1
    meta.subarray.slowaxis = 2
    return model


def run(workdir: Path) -> dict[str, object]:
    import numpy as np
    from jwst.group_scale import GroupScaleStep
    from jwst.ramp_fitting import RampFitStep

    crds_path = Path(os.environ["CRDS_PATH"])
    server_config = write_offline_crds_config(crds_path, "jwst")

    pipelines = construct_pipelines()
    gain_path, readnoise_path = make_references(workdir)
    ramp = make_ramp()

    scaled = GroupScaleStep.call(ramp)
    group_scale_status = scaled.meta.cal_step.group_scale

    rate, _rateints = RampFitStep.call(
        scaled,
        override_gain=str(gain_path),
        override_readnoise=str(readnoise_path),
        maximum_cores="1",
    )
    slopes = np.asarray(rate.data, dtype=np.float64)
    return {
        "pipelines": pipelines,
        "group_scale": group_scale_status,
        "ramp_fit": rate.meta.cal_step.ramp_fit,
        "true_rate": TRUE_RATE,
        "median_rate": float(np.median(slopes)),
        "mean_rate": float(np.mean(slopes)),
        "finite_fraction": float(np.isfinite(slopes).mean()),
        "shape": list(slopes.shape),
        "bunit": rate.meta.bunit_data,
        "crds_context": rate.meta.ref_file.crds.context_used,
        "server_config": str(server_config),
        "jwst_version": __import__("jwst").__version__,
    }


def main() -> int:
    workdir = Path(sys.argv[1])
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)  # stpipe writes nothing by default, but keep any stray output here
    try:
        result = run(workdir)
    except BaseException:
        traceback.print_exc()
        print("CHECK FAILED: exception or SystemExit above", file=sys.stderr)
        return 3
    print("RESULT " + json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
