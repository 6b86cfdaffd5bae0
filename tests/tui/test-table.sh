#!/bin/sh
# The table screen on the seed site: at 80x24 and 200x50, in the C and UTF-8
# locales, with and without colour: the exact screen, filter, sort, help, quit.
. "$(dirname "$0")/../lib.sh"
. "$PP_TOP/tests/tui/tui-lib.sh"

seed_copy
for size in 80x24 200x50; do
	cols=${size%x*} rows=${size#*x}
	for loc in C C.UTF-8; do
		for colour in colour mono; do
			env=""; [ $colour = mono ] && env="NO_COLOR=1"
			tag="$size $loc $colour"
			exp="seed-$size.$( [ $loc = C ] && echo ascii || echo utf8 )"
			tui_start "$cols" "$rows" "$loc" $env -- -f m.ini tui --offline
			wait_screen "3 mappings"
			check "$tag: seed table matches $exp" wait_screen_is "$exp"
			if [ $colour = mono ]; then
				check "$tag: NO_COLOR draws no colour" no_colour
			else
				check "$tag: colours are used" wait_for 5 screen_has_colour
			fi
			keys /; type_text "8091"
			check "$tag: / filters as you type" wait_screen "1 shown"
			check "$tag: filter keeps the matching row" wait_for 5 line_has 4 web-3
			keys Enter
			check "$tag: Enter keeps the filter" wait_screen "filter: 8091"
			keys Escape
			check "$tag: Esc clears the filter" wait_gone "1 shown"
			keys 4 4
			check "$tag: sort by public port, descending" \
				wait_for 5 line_has 6 web-1
			keys '?'
			check "$tag: ? opens the help" wait_screen "Table screen"
			keys q
			check "$tag: q leaves the help" wait_screen "3 mappings"
			keys F1
			check "$tag: F1 opens the help" wait_screen "Table screen"
			keys Escape q
			check "$tag: q quits with 0" wait_for 5 exit_is 0
			check "$tag: terminal restored (alternate screen off)" restored
		done
	done
done
# Sort by any column, also one not shown at 80 columns. Names, internal addresses
# and owners sort into three different orders (addresses numerically: .5 < .20 < .100).
{ sed -n '/^\[site\]/,/^hairpin/p' "$PP_TOP/examples/seed-site.ini"
  for m in "alpha 8001 192.168.2.20 Cy" "bravo 8002 192.168.2.100 Ann" "charlie 8003 192.168.2.5 Bo"; do
	set -- $m
	printf '\n[%s]\nprotocol = tcp\npublic_port = %s\ninternal_ip = %s\ninternal_port = 80\nowner = %s\n' "$1" "$2" "$3" "$4"
  done; } >"$pp_tmp/sort.ini"
rows_are() { line_has 4 " $1 " && line_has 5 " $2 " && line_has 6 " $3 "; }
for size in 80x24 200x50; do
	tui_start "${size%x*}" "${size#*x}" C.UTF-8 -- -f sort.ini tui --offline
	wait_screen "3 mappings"
	check "$size: by name at start" wait_for 5 rows_are alpha bravo charlie
	keys 2
	check "$size: 2 again: by name, descending" wait_for 5 rows_are charlie bravo alpha
	check "$size: the status line says so" wait_screen "Sorted by Name, descending."
	keys 5
	check "$size: 5: by internal address, numerically" wait_for 5 rows_are charlie alpha bravo
	keys 8
	check "$size: 8: by owner" wait_for 5 rows_are bravo charlie alpha
	if [ $size = 80x24 ]; then
		check "$size: owner is not shown: the status line says it is sorted by it" \
			wait_screen "Sorted by Owner, ascending (a column not shown at this width)."
		check "$size: ... and the file line too" wait_for 5 line_has 2 "sorted by Owner↑"
	else
		check "$size: the owner column title has the arrow" wait_for 5 line_has 3 "Owner↑"
	fi
	keys 8
	check "$size: 8 again: by owner, descending" wait_for 5 rows_are alpha charlie bravo
	keys o
	check "$size: o: the next column (Last hit), shown or not" wait_screen "Sorted by Last hit, ascending"
	keys q
	wait_for 5 exit_is 0
done

# PORTPILOT_HINT (the lab demo sets it): shown once on the status line, gone after a key.
tui_start 80 24 C.UTF-8 PORTPILOT_HINT=For-hits:curl-http://203.0.113.1:8080/ -- -f m.ini tui --offline
wait_screen "3 mappings"
check "the hint shows on the status line" wait_for 5 line_has 23 "For-hits:curl-http://203.0.113.1:8080/"
keys j
check "... once: a key clears it" wait_for 5 sh -c "! tmux -L $PP_SOCK capture-pane -p -t t | grep -q For-hits"
keys q
wait_for 5 exit_is 0

# A long site name gives way at 80 columns: ellipsis, and the live fields stay whole.
sed 's/^name *=.*/name = Plant 3 video platform, north gate, building C (night shift)/' \
	"$PP_TOP/examples/seed-site.ini" >"$pp_tmp/long.ini"
tui_start 80 24 C.UTF-8 -- -f long.ini tui --offline
wait_screen "3 mappings"
check "80x24: a long site name ends in an ellipsis" wait_for 5 line_has 1 " Plant 3 video platform, north gate, buil…  kernel ?"
check "80x24: the header ends with the whole public field" sh -c "tmux -L $PP_SOCK capture-pane -p -t t | sed -n 1p | grep -q 'WAN eth0  public ?\$'"
tui_start 200 50 C.UTF-8 -- -f long.ini tui --offline
wait_screen "3 mappings"
check "200x50: the whole site name" wait_for 5 line_has 1 "building C (night shift)  kernel ?"
pp_done
