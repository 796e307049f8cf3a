# Shared by scripts/serve and scripts/test: the project's virtualenv.
VENV="${VENV:-.venv}"

ensure_venv() {
  # ensure_venv REQUIREMENTS_FILE: create .venv if needed and install into it.
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
  fi
  # --no-compile: Python compiles what it imports on first use; compiling
  # every installed module up front took 24 of a fresh install's 54 s.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-compile -r "$1"
}
