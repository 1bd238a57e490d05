#!/bin/sh
# timing_selftest.sh OUTDIR - checks timing.sh against a hand-computed
# answer: timing_tb.v (flip-flop -> LUT2 -> flip-flop) on UltraScale+ and
# Artix-7 must give clk2q + route + LUT2 + route + setup from the family's
# delay table, and a table missing a cell type must be refused.
set -eu
dir=$(dirname "$0")
out=${1:?usage: $0 OUTDIR}
fail=0
for family in xcup xc7; do
	tab=$dir/timing_$family.tab
	field() { awk -v t="$1" -v k="$2" '$1 == t && $2 == k { print $NF; exit }' "$tab"; }
	route=$(awk '$1 == "route" { print $2 }' "$tab")
	want=$(($(field FDRE clk2q) + route + $(field LUT2 comb) + route + $(field FDRE setup)))
	"$dir/timing.sh" $family timing_tb '' "$out/$family" "$dir/timing_tb.v" >/dev/null
	got=$(sed -n 's/.*critical path \([0-9]*\) ps.*/\1/p' "$out/$family/report.txt")
	if [ "$got" = "$want" ]; then
		echo "  timing selftest $family: $got ps as computed by hand"
	else
		echo "timing selftest $family: critical path '$got' ps, want $want" >&2
		fail=1
	fi
done
# A cell type the table does not time is an error, not a silent zero.
grep -v '^LUT2 ' "$dir/timing_xcup.tab" > "$out/no_lut2.tab"
if awk -f "$dir/timing_models.awk" -v top=timing_tb -v models="$out/m.v" -v script="$out/s.ys" \
	-v intern="$out/i.txt" "$out/no_lut2.tab" "$out/xcup/netlist.json" 2>"$out/no_lut2.err"; then
	echo "timing selftest: a table without LUT2 was accepted" >&2
	fail=1
else
	echo "  timing selftest: missing cell type refused: $(cat "$out/no_lut2.err")"
fi
exit $fail
