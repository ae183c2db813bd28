#!/usr/bin/env bash
# The demo as an end-to-end test (issue #7: every seed flow through the
# protocol its systems use). Runs scripts/demo against this build: the
# simulated RiO, AIS, Carenotes, Mosaic, LAS and UK Core systems, carebridged
# with filedrop, hl7v2 (MLLP over mutual TLS) and fhir adapters, the four
# seed agreements. Then checks that every flow of every agreement shared
# something, that every receiving system got records in its own protocol,
# that nothing was dead-lettered, that the audit log verifies and that the
# operational log carries no NHS number.
#
#   demo_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
top=$1
build=$2
work=$(mktemp -d /tmp/cb-demo-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; echo "--- demo output" >&2; cat "$work/out" >&2; exit 1; }

# The agreements as shipped, but in force whatever the day the test runs: an
# ended agreement refuses every flow (tested in tests/policy and the daemon
# e2e tests), which is not what this test is about.
mkdir -p "$work/agreements"
for a in barking-dagenham-nelft west-sussex-spft bromley-oxleas warwickshire-cwpt; do
  sed -e 's#<To>[0-9-]*</To>#<To>2099-12-31</To>#' -e '/<Extension/,/<\/Extension>/d' \
    -e '/<Termination/,/<\/Termination>/d' "$top/agreements/$a.xml" >"$work/agreements/$a.xml"
done

DEMO_BUILD_DIR=$build DEMO_RUN_DIR="$work/run" DEMO_AGREEMENTS="$work/agreements" \
  "$top/scripts/demo" >"$work/out" 2>&1 || fail "scripts/demo exited $?"
out=$(cat "$work/out")

# Every flow of the four agreements carried at least one record.
for flow in nelft-to-lbbd-safeguarding nelft-to-lbbd-reviews lbbd-to-nelft-referrals \
  spft-to-wscc-assessments spft-to-wscc-safeguarding spft-to-wscc-statutory-return wscc-to-spft-referrals \
  oxleas-to-bromley-safeguarding oxleas-to-bromley-performance bromley-to-oxleas-direct-care \
  cwpt-to-wcc-safeguarding cwpt-to-wcc-performance wcc-to-cwpt-referrals; do
  grep -Eq "^ +[0-9]+ +[a-z0-9-]+ +$flow +(share|share-withheld|hold)\$" <<<"$out" ||
    fail "no record shared or held under flow $flow"
done
# Every receiving system got records, each in its own protocol.
for system in "LBBD AIS" "NELFT RiO" "WSCC Mosaic" "WSCC returns" "SPFT Carenotes" "Bromley LAS" "Oxleas RiO" \
  "Warwickshire CC" "CWPT"; do
  line=$(grep -E "^   $system +(imported|received|stored) " <<<"$out") || fail "no line for $system"
  n=$(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^(imported|received|stored)$/) {print $(i + 1); exit}}' <<<"$line")
  [[ $n -gt 0 ]] || fail "$system received nothing: $line"
  grep -q "rejected [1-9]" <<<"$line" && fail "$system rejected a file: $line"
done
grep -q "carebridge_dead_letters 0" <<<"$out" || fail "dead letters"
grep -q "carebridged exited cleanly" <<<"$out" || fail "carebridged did not stop cleanly"
grep -q "audit log verified" <<<"$out" || fail "audit log not verified"
grep -Eq "Disclosed \(shared and delivered\) \([1-9]" <<<"$out" || fail "the SAR shows no disclosure"
grep -Eq "stored once|accepted=" <<<"$out" || fail "no RiO ADT over MLLP"
# Operational logs name message ids, never NHS numbers.
if grep -Eq '999[0-9]{7}|999 [0-9]{3} [0-9]{4}' "$work/run/carebridged.log"; then
  fail "an NHS number in carebridged.log"
fi
echo "demo: every seed flow ran through its systems' protocols"
