# Shared by scripts/test and scripts/run. Sourced, not run.
PY=.venv/bin/python

die() { echo "error: $*" >&2; exit 1; }

# Create .venv and install a requirements file, only when it changed.
ensure_venv() {
  local req="$1"
  command -v python3 >/dev/null || die "python3 (3.11) is required"
  python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "Python 3.11 is required, found $(python3 --version)"
  if [ ! -x "$PY" ]; then
    python3 -m venv .venv || die "could not create .venv (apt-get install python3-venv)"
  fi
  local stamp=".venv/.installed-$(cat requirements*.txt | sha1sum | cut -c1-12)-$req"
  if [ ! -f "$stamp" ]; then
    echo "installing $req into .venv ..."
    "$PY" -m pip install -q --disable-pip-version-check -r "$req" || die "pip install -r $req failed"
    touch "$stamp"
  fi
}

# Debian packages some tests need beyond RabbitMQ (installed by devstack.ensure):
# chromium for the browser tests (console and preference center, marked `browser`).
ensure_system_packages() {
  if [ ! -x /usr/bin/chromium ]; then
    [ "$(id -u)" = 0 ] || die "the browser tests need Debian's chromium: run as root or apt-get install chromium"
    echo "installing chromium (for the browser tests) ..."
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null \
      || die "apt-get install chromium failed"
  fi
}

# What the container step (scripts/test-containers) needs: Debian's podman and
# friends (runc: crun refuses hybrid cgroups; debootstrap makes the base image).
ensure_container_tools() {
  local missing=()
  for tool in podman buildah runc catatonit debootstrap; do
    command -v "$tool" >/dev/null || [ -x "/usr/libexec/podman/$tool" ] || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "the container step needs ${missing[*]}: run as root or apt-get install them"
  echo "installing ${missing[*]} (for the container step) ..."
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null \
    && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
         --no-install-recommends podman buildah runc catatonit debootstrap >/dev/null \
    || die "apt-get install podman buildah runc catatonit debootstrap failed"
}
