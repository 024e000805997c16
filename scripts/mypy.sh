#!/usr/bin/env bash
# Type-check the gupcheck package with mypy.
#
# The package is `gupcheck` made of analyzer/ (with rules/ as gupcheck.rules), a layout mypy cannot
# see through setuptools' editable install; so mypy checks a tree of links laid out as the installed
# package, and its messages name the files of the repository.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tree="$repo/.cache/mypy-tree"
rm -rf "$tree"
mkdir -p "$tree/gupcheck"
for entry in "$repo"/analyzer/*; do
    ln -s "$entry" "$tree/gupcheck/$(basename "$entry")"
done
ln -s "$repo/rules" "$tree/gupcheck/rules"
cd "$tree"
status=0
"${MYPY:-$repo/.venv/bin/mypy}" --config-file "$repo/pyproject.toml" --cache-dir "$repo/.cache/mypy" -p gupcheck \
    > "$tree/report" 2>&1 || status=$?
sed -e 's#^gupcheck/rules/#rules/#' -e 's#^gupcheck/#analyzer/#' "$tree/report"
exit "$status"
