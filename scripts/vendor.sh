#!/usr/bin/env bash
# Re-vendor the browser libraries of the dashboard and the API docs page (and axe-core, which only the
# browser tests inject) from their npm packages (never a CDN) into
# static/vendor/, each with its version in the file name, and rewrite static/vendor/VERSIONS.md
# with the exact versions and sha256 sums. Needs npm and access to the npm registry.
# Usage: scripts/vendor.sh   (then commit static/vendor/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# package version  file-in-package  vendored-name
files=(
  "htmx.org 2.0.11 dist/htmx.min.js htmx-2.0.11.min.js"
  "htmx-ext-ws 2.0.4 dist/ws.min.js htmx-ext-ws-2.0.4.min.js"
  "uplot 1.6.32 dist/uPlot.iife.min.js uplot-1.6.32.min.js"
  "uplot 1.6.32 dist/uPlot.min.css uplot-1.6.32.min.css"
  "swagger-ui-dist 5.36.0 swagger-ui-bundle.js swagger-ui-bundle-5.36.0.js"
  "swagger-ui-dist 5.36.0 swagger-ui.css swagger-ui-5.36.0.css"
  "axe-core 4.14.1 axe.min.js axe-core-4.14.1.min.js"  # the browser tests' accessibility audit; no page loads it
)

mkdir -p "$out"
rm -f "$out"/htmx-*.js "$out"/uplot-*.js "$out"/uplot-*.css "$out"/swagger-ui-* "$out"/axe-core-*
{
  echo "# Vendored browser libraries"
  echo
  echo "Reproduce with \`scripts/vendor.sh\` (\`npm pack <package>@<version>\`, then the file is copied as is)."
  echo
  echo "| file | npm package | version | from | sha256 of the package tarball | sha256 of the file |"
  echo "|---|---|---|---|---|---|"
} >"$work/VERSIONS.md"
for entry in "${files[@]}"; do
  read -r package version source name <<<"$entry"
  dir="$work/$package-$version"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    tarball=$(cd "$dir" && npm pack --silent "$package@$version")
    tar -xzf "$dir/$tarball" -C "$dir"
    cp "$dir/$tarball" "$dir/package.tgz"
  fi
  cp "$dir/package/$source" "$out/$name"
  tar_sum=$(sha256sum "$dir/package.tgz" | cut -d' ' -f1)
  file_sum=$(sha256sum "$out/$name" | cut -d' ' -f1)
  echo "| \`$name\` | $package | $version | \`$source\` | \`$tar_sum\` | \`$file_sum\` |" >>"$work/VERSIONS.md"
done
cp "$work/VERSIONS.md" "$out/VERSIONS.md"
echo "vendored into $out:"
ls -1 "$out"
