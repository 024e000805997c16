#!/usr/bin/env bash
# Install Microsoft's SARIF Multitool (and the official SARIF 2.1.0 schema it ships) into
# <repo>/.tools/sarif. Idempotent: does nothing when the pinned version is already there.
#
# npm does not run the package's postinstall script here, so the binary is made executable by hand.
set -euo pipefail

readonly VERSION="5.7.0"
readonly PACKAGE="@microsoft/sarif-multitool-linux"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${repo_root}/.tools/sarif"
package_dir="${tools_dir}/node_modules/${PACKAGE}"
multitool="${package_dir}/Sarif.Multitool"
schema="${package_dir}/sarif-2.1.0.json"

installed_version() {
    [[ -f "${package_dir}/package.json" ]] || return 0
    node -p "require(process.argv[1]).version" "${package_dir}/package.json" 2>/dev/null || true
}

if [[ "$(installed_version)" != "${VERSION}" || ! -f "${multitool}" || ! -f "${schema}" ]]; then
    command -v npm >/dev/null || { echo "setup-sarif-tools: npm is required" >&2; exit 2; }
    mkdir -p "${tools_dir}"
    echo "setup-sarif-tools: installing ${PACKAGE}@${VERSION} into ${tools_dir} (about 100 MB)" >&2
    npm install --no-audit --no-fund --prefix "${tools_dir}" "${PACKAGE}@${VERSION}" >&2
fi

chmod u+x "${multitool}"

echo "multitool=${multitool}"
echo "schema=${schema}"
