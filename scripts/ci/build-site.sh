#!/usr/bin/env bash
# Build the store's static site for GitHub Pages: what .github/workflows/pages.yml runs, and
# what tests/test_workflows.py runs here against a real store.
#
# Environment (all optional):
#   TRACKER_STORE   the store: a folder relative to the repository root (default: tracking),
#                   or an s3://bucket/prefix (credentials and endpoint from the AWS_* variables)
#   SITE_DIR        the output folder (default: _site, what upload-pages-artifact uploads)
#   SITE_BASE_URL   the URL the site is published at (configure-pages' base_url output)
#   PYTHON          the interpreter tracker is installed in (default: python)
# ./reports (Markdown reports) and ./site_templates (theme overrides) are used when present.
set -euo pipefail

store="${TRACKER_STORE:-tracking}"
out="${SITE_DIR:-_site}"
if [[ "$store" != s3://* ]] && [ ! -d "$store" ]; then
    echo "build-site.sh: no store folder '$store' in $(pwd): commit the runs your training" \
        "logged there, or set TRACKER_STORE to the store's folder." >&2
    exit 1
fi

args=(--store "$store" build --out "$out" --strict --base-url "${SITE_BASE_URL:-}")
if [ -d site_templates ]; then
    args+=(--templates site_templates)
fi
# --strict: a skipped page or an unreadable store file fails the deploy instead of hiding it.
"${PYTHON:-python}" -m tracker "${args[@]}"
