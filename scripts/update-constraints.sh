#!/bin/sh
# Regenerate constraints.txt (the pinned versions the Docker images install) from a fresh venv
# holding every extra the images use. Run on Python 3.11, the images' Python.
set -eu
cd "$(dirname "$0")/.."
venv=$(mktemp -d)/venv
python3 -m venv "$venv"
"$venv/bin/pip" install -q -e '.[dev]'
{
  echo "# Pinned versions of every dependency; the Dockerfile installs with them (pip install -c constraints.txt)."
  echo "# Regenerate with scripts/update-constraints.sh (pip freeze of a venv with every extra, Python 3.11)."
  "$venv/bin/pip" freeze --exclude-editable
} > constraints.txt
rm -rf "$(dirname "$venv")"
echo "constraints.txt: $(grep -c '==' constraints.txt) pins"
