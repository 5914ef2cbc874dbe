#!/usr/bin/env bash
# Stops the test cluster that scripts/setup-slurm.sh started (its munged, slurmctld and slurmd, by their pid
# files); its configuration and state stay in $TFSWEEP_SLURM_DIR for the next start.
set -euo pipefail
exec "$(dirname "$0")/setup-slurm.sh" stop
