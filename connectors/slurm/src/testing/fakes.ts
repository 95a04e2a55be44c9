/**
 * FAKE container runtimes for the test cluster. Apptainer and Pyxis/Enroot are not in Debian, so the harness puts
 * these two scripts first on the login user's PATH (and so on every job's PATH: sbatch exports the submitting
 * environment). They accept the command lines flyte-sdk's Slurm plugin renders for its `slurm` task type and run the
 * command directly on the host, without any container: the "image" is only recorded in `FAKE_CONTAINER_IMAGE`
 * (and, like real Apptainer, `APPTAINER_CONTAINER`) so tests can assert which image a job asked for.
 *
 * - `apptainer exec [options] <image> <command...>`: `--bind/-B`, `--mount`, `--env`, `--env-file`, `--pwd`,
 *   `--home/-H`, `--overlay/-o`, `--workdir/-W`, `--security`, `--network`, `--network-args`, `--hostname`, `--app`,
 *   `--scratch/-S`, `--add-caps`, `--drop-caps`, `--dns`, `--fusemount`, `--no-mount` take a value (`--opt value` or
 *   `--opt=value`); `--nv`, `--nvccli`, `--rocm`, `--cleanenv/-e`, `--contain/-c`, `--containall/-C`, `--no-home`,
 *   `--writable/-w`, `--writable-tmpfs`, `--fakeroot/-f`, `--userns/-u`, `--no-init`, `--no-privs`, `--keep-privs`,
 *   `--ipc/-i`, `--pid/-p`, `--uts`, `--compat`, `--no-https`, `--disable-cache`, `--nonet` are flags. `--env K=V`
 *   is exported, `--pwd DIR` is the working directory (it must exist), binds are accepted but not applied (one
 *   filesystem). Any other option, or a missing image/command, exits 255 with a message, as Apptainer does.
 * - `srun` (Pyxis): strips Pyxis's `--container-*` / `--no-container-*` options (`--container-workdir` becomes
 *   srun's `--chdir`) and runs the real `/usr/bin/srun` with the rest, so the job step is a real Slurm step.
 */
export const FAKE_APPTAINER = `#!/bin/bash
# FAKE apptainer installed by the Slurm connector's test harness (connectors/slurm/src/testing): runs the command on
# the host, no container. See fakes.ts.
set -euo pipefail
fail() { echo "FATAL:   fake apptainer: $*" >&2; exit 255; }
[ $# -ge 1 ] || fail "usage: apptainer exec [options] <image> <command...>"
[ "$1" = exec ] || fail "only 'apptainer exec' is faked, got '$1'"
shift
pwd_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    --bind=*|--mount=*|--home=*|--overlay=*|--workdir=*|--security=*|--network=*|--network-args=*|--hostname=*|--app=*|--scratch=*|--add-caps=*|--drop-caps=*|--dns=*|--fusemount=*|--no-mount=*) shift ;;
    --env=*) export "\${1#--env=}"; shift ;;
    --env-file=*) set -a; . "\${1#--env-file=}"; set +a; shift ;;
    --pwd=*) pwd_dir="\${1#--pwd=}"; shift ;;
    --bind|-B|--mount|--home|-H|--overlay|-o|--workdir|-W|--security|--network|--network-args|--hostname|--app|--scratch|-S|--add-caps|--drop-caps|--dns|--fusemount|--no-mount)
      [ $# -ge 2 ] || fail "option $1 needs a value"; shift 2 ;;
    --env) [ $# -ge 2 ] || fail "option --env needs a value"; export "$2"; shift 2 ;;
    --env-file) [ $# -ge 2 ] || fail "option --env-file needs a value"; set -a; . "$2"; set +a; shift 2 ;;
    --pwd) [ $# -ge 2 ] || fail "option --pwd needs a value"; pwd_dir="$2"; shift 2 ;;
    --nv|--nvccli|--rocm|--cleanenv|-e|--contain|-c|--containall|-C|--no-home|--writable|-w|--writable-tmpfs|--fakeroot|-f|--userns|-u|--no-init|--no-privs|--keep-privs|--ipc|-i|--pid|-p|--uts|--compat|--no-https|--disable-cache|--nonet) shift ;;
    -*) fail "unsupported option '$1'" ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || fail "no image given"
image="$1"; shift
[ $# -ge 1 ] || fail "no command given for image '$image'"
if [ -n "$pwd_dir" ]; then cd "$pwd_dir" || fail "--pwd '$pwd_dir' does not exist"; fi
export FAKE_CONTAINER_IMAGE="$image" APPTAINER_CONTAINER="$image" APPTAINER_NAME="\${image##*/}"
exec "$@"
`;

export const FAKE_PYXIS_SRUN = `#!/bin/bash
# FAKE Pyxis installed by the Slurm connector's test harness (connectors/slurm/src/testing): an srun that drops
# Pyxis's --container-* options and runs the real srun, no container. See fakes.ts.
set -euo pipefail
args=()
image=""
while [ $# -gt 0 ]; do
  case "$1" in
    --container-image=*) image="\${1#--container-image=}"; shift ;;
    --container-image) image="$2"; shift 2 ;;
    --container-workdir=*) args+=("--chdir=\${1#--container-workdir=}"); shift ;;
    --container-workdir) args+=("--chdir=$2"); shift 2 ;;
    --container-mounts|--container-name|--container-env|--container-save) shift 2 ;;
    --container-*|--no-container-*) shift ;;
    # srun options whose value is a separate argument: pass both through.
    -n|-N|-c|-p|-t|-J|-o|-e|-i|-w|-x|-G|-D|-m|-d|--ntasks|--nodes|--cpus-per-task|--partition|--time|--job-name|--output|--error|--input|--nodelist|--exclude|--gpus|--chdir|--mem|--export|--mpi|--distribution|--dependency)
      args+=("$1" "$2"); shift 2 ;;
    --) args+=("$1"); shift; break ;;
    -*) args+=("$1"); shift ;;
    *) break ;;
  esac
done
if [ -n "$image" ]; then export FAKE_CONTAINER_IMAGE="$image"; fi
exec /usr/bin/srun "\${args[@]}" "$@"
`;
