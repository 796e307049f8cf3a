# Shared by scripts/serve and scripts/test: the project's virtualenv.
VENV="${VENV:-.venv}"

ensure_venv() {
  # ensure_venv REQUIREMENTS_FILE: create .venv if needed and install into it.
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$1"
}
